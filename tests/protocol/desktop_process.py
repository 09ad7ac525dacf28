"""A desktop for ``rig protocol conformance --desktop`` tests: a DesktopEndpoint on loopback that
captures items 0, 1, 2, … (retrying a lost phone) until N are stored, then says BYE.

``python desktop_process.py PAIRING_FILE N`` writes the pairing URI, prints the UDP port.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import numpy as np

from rig.errors import DeviceError
from rig.protocol.endpoint import DesktopEndpoint
from rig.protocol.httpd import HttpLimits

# The slow-headers probe waits for the desktop to close a head that never ends: 2 s here
# instead of the 10 s default (the behaviour is the same, the test is 8 s shorter).
LIMITS = HttpLimits(head_timeout_s=2.0)


async def main(pairing_file: Path, n: int) -> None:
    frame = np.full((48, 64), 128, np.uint8)
    store = pairing_file.parent / "desktop-store"
    ep = DesktopEndpoint(os.urandom(32), os.urandom(8), "127.0.0.1", 0, 0, store,
                         lambda age_ms: frame, http_limits=LIMITS)  # fmt: skip
    async with ep:
        pairing_file.write_text(ep.pairing_payload() + "\n", encoding="utf-8")
        print(ep.udp_port, flush=True)
        done = 0
        while done < n:
            frame[:] = (done * 53) % 256
            try:
                await ep.capture(done, 1, f"d-{done:04d}", timeout_s=120)
                done += 1
            except DeviceError:
                continue  # the phone was lost (the probe took the peer address): ask again


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2])))
