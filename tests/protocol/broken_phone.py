"""A deliberately broken phone for the conformance tests: rig's phone-sim, except that it
ignores BYE (no BYE_ACK, keepalives go on). ``python broken_phone.py PAIRING STORE``."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from rig.protocol import phonesim
from rig.protocol.faults import FaultSpec
from rig.protocol.pairing import load_pairing
from rig.protocol.phone import PhoneMachine


class DeafToBye(PhoneMachine):
    def _on_bye(self, msg: object) -> None:
        pass


if __name__ == "__main__":
    phonesim.PhoneMachine = DeafToBye  # type: ignore[misc]
    cfg = phonesim.PhoneSimConfig(load_pairing(sys.argv[1]), Path(sys.argv[2]), FaultSpec(),
                                  idle_exit_s=30)  # fmt: skip
    asyncio.run(phonesim.PhoneSim(cfg).run())
