"""The CheXpeditor-style baseline of ``rig bench session``: its capture loop, re-implemented.

CheXpeditor's PC client, per image: load the image file, scale it to the screen, show it,
wait a fixed 100 ms, then open a *fresh* UDP socket, send ``"<seq>|<name>"`` and block until
the phone's ``OK|<name>`` (the JPEG saved on the phone), and close the socket. Nothing is
uploaded and nothing is checked: whatever the phone photographed is taken as the pair.

``python -m rig.bench.chexpeditor_loop --shot-ms 500`` is the phone side, a separate process
as on the rig: a UDP server that answers each request after its shot time and prints its
port on the first line of stdout. The wire format is ``rig.protocol.compat``'s.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import time
from pathlib import Path
from typing import Any, cast

import numpy as np

from rig.devices.display import Display
from rig.protocol import compat

SHOW_WAIT_S = 0.100  # CheXpeditor's fixed wait between showing an image and triggering


def fit_to_screen(image: np.ndarray, screen_wh: tuple[int, int]) -> np.ndarray:
    """The image scaled to fit the screen, centred on black (what the client's window shows)."""
    import cv2

    width, height = screen_wh
    scale = min(width / image.shape[1], height / image.shape[0])
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    canvas = np.zeros((height, width), np.uint8)
    x, y = (width - size[0]) // 2, (height - size[1]) // 2
    canvas[y : y + size[1], x : x + size[0]] = small
    return canvas


def trigger(port: int, seq: int, name: str, timeout_s: float = 10.0) -> float:
    """One trigger on a fresh socket (as the client does); the time the OK arrived."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout_s)
        sock.sendto(compat.encode_request(seq, name), ("127.0.0.1", port))
        while True:
            data, _ = sock.recvfrom(65536)
            kind, _ = compat.parse_reply(data)
            if kind == "ok":
                return time.time()


async def run_loop(
    images: list[Path], display: Display, port: int, screen_wh: tuple[int, int]
) -> list[dict[str, float]]:
    """Show → wait 100 ms → trigger, per image; the timings of each pair (unix seconds)."""
    import cv2

    loop = asyncio.get_running_loop()
    timings = []
    for seq, path in enumerate(images):
        started = time.time()
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise FileNotFoundError(f"baseline image {path} is unreadable")
        shown_at = await display.show(fit_to_screen(image, screen_wh))
        await asyncio.sleep(SHOW_WAIT_S)
        name = compat.make_name(seq, 0, ("bench", f"{seq:06d}.png"))
        requested = time.time()
        done = await loop.run_in_executor(None, trigger, port, seq, name)
        timings.append(
            {"started": started, "shown_at": shown_at, "requested": requested, "done": done}
        )
    return timings


class _Phone(asyncio.DatagramProtocol):
    """Answers every request ``OK|name`` once its shot time has passed."""

    def __init__(self, shot_s: float) -> None:
        self.shot_s = shot_s
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        _, name = compat.parse_request(data)
        loop = asyncio.get_running_loop()
        loop.call_later(self.shot_s, self._answer, compat.encode_ok(name), addr)

    def _answer(self, reply: bytes, addr: Any) -> None:
        if self.transport is not None:
            self.transport.sendto(reply, addr)


async def serve_phone(shot_ms: float) -> None:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Phone(shot_ms / 1000), local_addr=("127.0.0.1", 0)
    )
    print(transport.get_extra_info("sockname")[1], flush=True)
    try:
        await asyncio.get_running_loop().run_in_executor(None, input)  # until stdin closes
    except EOFError:
        pass
    finally:
        transport.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="CheXpeditor-style phone for the baseline")
    parser.add_argument("--shot-ms", type=float, default=500.0)
    asyncio.run(serve_phone(parser.parse_args().shot_ms))


if __name__ == "__main__":
    main()
