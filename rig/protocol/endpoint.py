"""``DesktopEndpoint``: the async API the session engine calls to get one verified photo per item.

Wires the sans-I/O ``DesktopMachine`` to a UDP socket (``MachineLink``) and to the HTTP upload
server, persists what a restart needs (seq high-water mark, the phone's last address; stored
photos are found on disk by name), and turns protocol events into a photo record or a
``DeviceError``. In simulation, ``screen_tap`` returns the frame currently shown; the endpoint
models the display latency when serving it to the phone (docs/protocol.md §5).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import web

from rig.atomic import write_text_atomic
from rig.errors import CameraFailedError, LocalProtocolError, PhoneLostError
from rig.protocol import events as ev
from rig.protocol.auth import ReplayWindow
from rig.protocol.desktop import IDLE, DesktopMachine
from rig.protocol.pairing import Pairing, qr_matrix, qr_to_text, save_qr_png
from rig.protocol.timers import Timers
from rig.protocol.udp import MachineLink
from rig.protocol.upload import PhotoRecord, UploadServer

SEQ_BLOCK = 100_000  # seqs reserved on disk ahead of use (§4.6)
STATE_NAME = "protocol-state.json"


def time_seq() -> int:
    """A seq start above anything sent before under this key, if the clock is sane (§4.6)."""
    return time.time_ns() // 1000


class DesktopEndpoint:
    """``async with DesktopEndpoint(...) as ep: photo = await ep.capture(i, 0, tag, 30)``."""

    def __init__(
        self,
        key: bytes,
        session_id: bytes,
        host: str,
        udp_port: int,
        http_port: int,
        store_dir: Path | str,
        screen_tap: Callable[[], np.ndarray] | None = None,
        *,
        timers: Timers | None = None,
        display_latency_ms: float = 0.0,
        camera_retries: int = 2,
        advertise_host: str | None = None,
        durable: bool = True,
    ) -> None:
        self.durable = durable
        self.key, self.session = key, session_id
        self.host, self.udp_port, self.http_port = host, udp_port, http_port
        self.advertise_host = advertise_host or host
        self.store_dir = Path(store_dir)
        self.screen_tap = screen_tap
        self.timers = timers or Timers()
        self.display_latency_s = display_latency_ms / 1000
        self.camera_retries = camera_retries
        self.resyncs = 0
        self.events: list[ev.Event] = []  # every protocol event, for the operator log
        self.listeners: list[Callable[[ev.Event], None]] = []  # e.g. the session's progress
        self._frames: list[tuple[float, int, np.ndarray]] = []  # (visible_at, index, frame)
        self._waiter: asyncio.Future[ev.Event] | None = None
        self._seq_mark = 0
        self._saved_peer: Any = None
        self._state_save: asyncio.TimerHandle | None = None
        self.machine: DesktopMachine | None = None
        self.link: MachineLink | None = None
        self.server: UploadServer | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> DesktopEndpoint:
        loop = asyncio.get_running_loop()
        self.store_dir.mkdir(parents=True, exist_ok=True)
        saved = self._load_state()
        self.server = UploadServer(
            self.key, self.session, self.store_dir, self._on_stored, self._tap, self.durable
        )
        self.server.load_existing()
        nxt = 0
        while nxt in self.server.by_index:
            nxt += 1
        seq = max(int(saved.get("seq_mark", 0)), time_seq())
        peer = tuple(saved["peer"]) if saved.get("peer") else None
        self.machine = DesktopMachine(self.key, self.session, seq, nxt, peer, self.timers)
        # Old genuine datagrams replayed after our restart must still count as replays (§4.6).
        self.machine.codec.window = ReplayWindow(highest=int(saved.get("peer_highest", 0)))
        self._reserve_seq()
        link = MachineLink(self.machine, self._on_event, after_pump=self._reserve_seq)
        transport, _ = await loop.create_datagram_endpoint(
            lambda: link, local_addr=(self.host, self.udp_port)
        )
        self._transport, self.link = transport, link
        self.udp_port = transport.get_extra_info("sockname")[1]
        self._runner = web.AppRunner(self.server.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.http_port)
        await site.start()
        if self.http_port == 0:
            server = getattr(site, "_server", None)
            sockets = getattr(server, "sockets", None) or []
            self.http_port = sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._state_save is not None:
            self._state_save.cancel()
        self._save_state()
        if self._transport is not None:
            self._transport.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ API
    def pairing(self) -> Pairing:
        return Pairing(self.advertise_host, self.udp_port, self.http_port, self.session, self.key)

    def pairing_payload(self) -> str:
        """The text of the pairing QR code (docs/protocol.md §3)."""
        return self.pairing().to_uri()

    def pairing_qr(self, png_path: Path | None = None) -> str:
        """The pairing QR code as console text (half blocks); also saved as a PNG if asked."""
        payload = self.pairing_payload()
        if png_path is not None:
            save_qr_png(payload, Path(png_path))
        return qr_to_text(qr_matrix(payload))

    def stored(self, index: int, min_attempt: int = 0) -> PhotoRecord | None:
        """The verified photo of ``index`` from the lowest stored attempt >= ``min_attempt``."""
        assert self.server is not None
        attempts = self.server.by_index.get(index, {})
        found = [a for a in attempts if a >= min_attempt]
        return attempts[min(found)] if found else None

    def stats(self) -> dict[str, Any]:
        assert self.machine is not None and self.server is not None
        return {
            "retransmissions": self.machine.retransmissions,
            "rejected_datagrams": self.machine.rejected,
            "rejected_uploads": dict(self.server.rejected),
            "stale_messages": self.machine.stale,
            "resyncs": self.resyncs,
        }

    async def capture(
        self, index: int, attempt: int = 0, tag: str = "", timeout_s: float | None = None
    ) -> PhotoRecord:
        """Get one verified photo of ``index`` (already on screen), from ``attempt`` or a later one.

        A stored (index, attempt) is never shot again: it is returned at once (resume). A retake
        asks for a higher attempt than any stored one. Camera failures are retried with
        ``attempt + 1`` up to ``camera_retries`` times.
        """
        done = self.stored(index, attempt)
        if done is not None:
            return done
        coro = self._capture(index, attempt, tag)
        try:
            return await asyncio.wait_for(coro, timeout_s)
        except TimeoutError:
            self._cancel()
            raise PhoneLostError(
                f"capture of item {index} took longer than {timeout_s:g} s; check the phone"
            ) from None

    async def _capture(self, index: int, attempt: int, tag: str) -> PhotoRecord:
        assert self.machine is not None and self.link is not None
        self._show(index)
        if self.display_latency_s > 0:
            await asyncio.sleep(self.display_latency_s)  # wait until the item is on screen
        for a in range(attempt, attempt + self.camera_retries + 1):
            event = await self._run_attempt(index, a, tag)
            if isinstance(event, ev.PhotoVerified):
                assert self.server is not None
                return self.server.stored[(index, a)]
            if isinstance(event, ev.PhoneLost):
                raise PhoneLostError(f"phone lost at item {index}: {event.reason}")
            assert isinstance(event, ev.CameraFailed)
            last = event.reason
        raise CameraFailedError(
            f"camera failed {self.camera_retries + 1} times at item {index} ({last}); "
            "check the phone's camera"
        )

    async def _run_attempt(self, index: int, attempt: int, tag: str) -> ev.Event:
        assert self.machine is not None and self.link is not None
        if self.machine.state != IDLE:
            raise LocalProtocolError("capture() called while another capture is open")
        self._waiter = asyncio.get_running_loop().create_future()
        self.machine.request_capture(index, attempt, tag, self.link.now())
        self.link.pump()
        try:
            return await self._waiter
        finally:
            self._waiter = None

    # ------------------------------------------------------------------ callbacks
    def _on_event(self, event: ev.Event) -> None:
        self.events.append(event)
        for listener in self.listeners:
            listener(event)
        if len(self.events) > 10_000:
            del self.events[:5_000]
        if isinstance(event, ev.ResyncNeeded):
            # The desktop's store is authoritative: an explicit, logged RESYNC (never silent).
            self.resyncs += 1
            asyncio.get_running_loop().call_soon(self._resync, event.index)
        elif (
            isinstance(event, ev.PhotoVerified | ev.PhoneLost | ev.CameraFailed)
            and self._waiter is not None
            and not self._waiter.done()
        ):
            self._waiter.set_result(event)

    def _resync(self, index: int) -> None:
        assert self.machine is not None and self.link is not None
        if self.machine.state == "NEED_RESYNC":
            self.machine.resync(index, self.link.now())
            self.link.pump()

    def _on_stored(self, record: PhotoRecord) -> None:
        assert self.machine is not None and self.link is not None
        self.machine.photo_stored(record.index, record.attempt, record.sha256, self.link.now())
        self.link.pump()
        # The peer's seq high-water mark, saved soon after each photo (coalesced, off the path
        # between a verified photo and the next capture request).
        if self._state_save is None:
            loop = asyncio.get_running_loop()
            self._state_save = loop.call_later(0.2, self._save_state_soon)

    def _save_state_soon(self) -> None:
        self._state_save = None
        self._save_state(durable=False)

    def _cancel(self) -> None:
        if self.machine is not None and self.link is not None:
            self.machine.cancel(self.link.now())
            self.link.pump()

    # ------------------------------------------------------------------ screen tap (sim)
    def _show(self, index: int) -> None:
        if self.screen_tap is None or self.link is None:
            return
        frame = np.array(self.screen_tap(), dtype=np.uint8, copy=True)
        self._frames.append((self.link.now() + self.display_latency_s, index, frame))
        del self._frames[:-8]

    def _tap(self, index: int, attempt: int, age_ms: float) -> np.ndarray | None:
        if self.link is None or not self._frames:
            return None
        at = self.link.now() - age_ms / 1000
        visible = [f for t, _, f in self._frames if t <= at]
        return visible[-1] if visible else np.zeros_like(self._frames[0][2])

    # ------------------------------------------------------------------ persistence
    def _load_state(self) -> dict[str, Any]:
        try:
            obj = json.loads((self.store_dir / STATE_NAME).read_text(encoding="utf-8"))
            return obj if isinstance(obj, dict) and obj.get("session") == self.session.hex() else {}
        except (OSError, ValueError):
            return {}

    def _reserve_seq(self) -> None:
        assert self.machine is not None
        if self.machine.next_seq >= self._seq_mark or self.machine.peer != self._saved_peer:
            self._seq_mark = max(self._seq_mark, self.machine.next_seq + SEQ_BLOCK)
            self._saved_peer = self.machine.peer
            self._save_state()

    def _save_state(self, durable: bool = True) -> None:
        if self.machine is None:
            return
        peer = self.machine.peer
        window = self.machine.codec.window
        state = {
            "session": self.session.hex(),
            "seq_mark": self._seq_mark,
            "peer": peer,
            "peer_highest": window.highest if window is not None else 0,
        }
        text = json.dumps(state) + os.linesep
        if durable:
            write_text_atomic(self.store_dir / STATE_NAME, text)
        else:  # atomic against a process crash; fsync would double the per-photo disk cost
            tmp = self.store_dir / f".{STATE_NAME}.tmp"
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, self.store_dir / STATE_NAME)
