"""CheXpeditor compatibility over real sockets: a desktop driver and a simulated phone app.

The wire format and the decisions live in ``rig.protocol.compat`` (sans I/O). This protocol
has no authentication: anybody on the network can trigger the camera or fake an OK, hence the
``--insecure-chexpeditor`` flag and the warning.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from rig.atomic import write_bytes_atomic
from rig.errors import DeviceError, RemoteProtocolError
from rig.imaging import codec
from rig.protocol import compat

INSECURE_WARNING = (
    "WARNING: the CheXpeditor protocol is unauthenticated; anyone on this network can trigger "
    "the camera or fake a reply. Use it only on a private network."
)


class _Client(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.replies: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.replies.put_nowait(data)


@dataclass
class ChexpeditorResult:
    seq: int
    name: str
    confirmed: bool  # False: the app's OK was lost; the photo exists under ``name`` on the phone


class ChexpeditorDriver:
    """Drive an unmodified CheXpeditor app: ``await driver.capture(seq, ("item", "000001.png"))``."""

    def __init__(
        self, host: str, port: int = compat.DEFAULT_PORT, timeout_s: float = 10.0,
        max_resends: int = 5, seed: int | None = None,
    ) -> None:  # fmt: skip
        self.addr = (host, port)
        self.timeout_s, self.max_resends = timeout_s, max_resends
        self.rng = random.Random(seed)
        self.transport: asyncio.DatagramTransport | None = None
        self.proto: _Client | None = None
        # Until one OK is seen, a MISMATCH after a resend could also mean a wrongly typed row.
        self.synced = False

    async def __aenter__(self) -> ChexpeditorDriver:
        loop = asyncio.get_running_loop()
        transport, proto = await loop.create_datagram_endpoint(_Client, remote_addr=self.addr)
        self.transport, self.proto = cast(asyncio.DatagramTransport, transport), proto
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.transport is not None:
            self.transport.close()

    async def capture(self, seq: int, parts: tuple[str, ...]) -> ChexpeditorResult:
        assert self.transport is not None and self.proto is not None
        name = compat.make_name(seq, self.rng.randint(0, compat.MAX_NONCE), parts)
        request = compat.encode_request(seq, name)
        state = compat.DriverState()
        for _ in range(self.max_resends + 1):
            while not self.proto.replies.empty():  # late replies to an earlier request
                self.proto.replies.get_nowait()
            self.transport.sendto(request)
            try:
                reply = await asyncio.wait_for(self.proto.replies.get(), self.timeout_s)
            except TimeoutError:
                state.on_timeout()
                continue
            kind, got = compat.parse_reply(reply)
            if kind == "ok" and got != name:
                continue  # an OK for another item (delayed): wait for ours
            decision = state.on_reply(kind)
            if decision == "done":
                self.synced = True
                return ChexpeditorResult(seq, name, True)
            if decision == "done_unconfirmed" and self.synced:
                return ChexpeditorResult(seq, name, False)
            raise RemoteProtocolError(
                f"chexpeditor: the app does not expect row {seq}; restart it at row {seq}"
            )
        raise DeviceError(f"chexpeditor: no answer for row {seq} after {self.max_resends} resends")


class ChexpeditorPhoneSim(asyncio.DatagramProtocol):
    """Plays the original app: UDP server, expected seq, saves the JPEG, then answers OK."""

    def __init__(
        self, store: Path, source_root: Path, row_start: int = 0, loss: float = 0.0,
        seed: int = 0, camera: Any = None,
    ) -> None:  # fmt: skip
        self.store, self.source_root = Path(store), Path(source_root)
        self.app = compat.PhoneAppState(expected=row_start)
        self.loss = loss
        self.rng = random.Random(seed)
        self.camera = camera
        self.transport: asyncio.DatagramTransport | None = None
        self.shots = 0
        self.rejected = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            seq, name = compat.parse_request(data)
        except RemoteProtocolError:
            self.rejected += 1
            return
        if not self.app.on_request(seq):
            self._reply(compat.REPLY_MISMATCH.encode(), addr)
            return
        self._shoot(name)
        self._reply(compat.encode_ok(name), addr)  # only after the JPEG is saved

    def _shoot(self, name: str) -> None:
        import cv2

        _, _, parts = compat.parse_name(name)
        source = self.source_root.joinpath(*parts)
        frame = cv2.imread(str(source), cv2.IMREAD_UNCHANGED)
        if frame is None:
            raise DeviceError(f"chexpeditor phone-sim: cannot read {source}")
        if frame.dtype != "uint8":
            frame = cv2.convertScaleAbs(frame, alpha=255.0 / max(1, int(frame.max())))
        if self.camera is not None:
            jpeg = bytes(self.camera.capture(frame).jpeg)
        else:
            jpeg = codec.encode_jpeg(frame, 90, what="chexpeditor phone-sim", error=DeviceError)
        write_bytes_atomic(self.store / name, jpeg)
        self.shots += 1

    def _reply(self, data: bytes, addr: Any) -> None:
        if self.transport is not None and self.rng.random() >= self.loss:
            self.transport.sendto(data, addr)
