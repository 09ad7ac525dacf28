"""``DesktopEndpoint``: the async API the session engine calls to get one verified photo per item.

Wiring only: the sans-I/O ``DesktopMachine`` on a UDP socket (``MachineLink``), the upload
server on ``rig.protocol.httpd``, and ``StateFile`` for what a restart needs. Protocol events
become a photo record or a ``DeviceError``. With a v1.2 phone (§6.4) ``shoot`` returns as soon
as the photo is durable on the phone, with a future of its verified record: the caller shows
the next item while the upload completes (at most ``max_inflight`` photos in flight). The
screen tap of simulation sessions is a function handed in (the simulated display keeps the
frames and models its latency, not this class).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rig.errors import CameraFailedError, PhoneLostError, ProtocolError, StorageError
from rig.protocol import events as ev
from rig.protocol.auth import ReplayWindow
from rig.protocol.desktop import CLOSED, OPEN_STATES, CaptureProgress, DesktopMachine
from rig.protocol.httpd import HttpLimits, HttpServer
from rig.protocol.netaddr import NetworkChoice, choose
from rig.protocol.pairing import Pairing, qr_matrix, qr_to_text, save_qr_png
from rig.protocol.statefile import SEQ_BLOCK, EndpointState, StateFile
from rig.protocol.timers import Timers
from rig.protocol.udp import MachineLink
from rig.protocol.upload import PhotoRecord, UploadServer
from rig.protocol.wiremap import WireMap

BYE_WAIT_S = 1.0  # how long closing waits for the phone's BYE_ACK (RTTs are ms)

ScreenTap = Callable[[float], np.ndarray | None]  # age_ms -> the frame visible then (simulation)
ProgressFn = Callable[[CaptureProgress], None]


def time_seq() -> int:
    """A seq start above anything sent before under this key, if the clock is sane (§4.6)."""
    return time.time_ns() // 1000


@dataclass(frozen=True)
class ProtocolLimits:
    """How long one capture may legitimately take (§6.2): a caller's deadline derives from it.

    The machine ends every capture itself within these bounds (PhoneLost, CameraFailed); a
    caller's own deadline is a backstop that must never be shorter.
    """

    phone_s: float  # the answer to CAPTURE: silence longer than this is PhoneLost
    shot_s: float  # acknowledged to announced: ours, or the phone's camera timeout + margin
    upload_s: float  # announced to stored, restarted whenever more bytes arrive
    margin_s: float  # how late the machine's own verdict may come (a poll, a retransmission)

    @classmethod
    def of(cls, timers: Timers, shot_s: float | None = None) -> ProtocolLimits:
        return cls(timers.phone_timeout_s, timers.shot_timeout_s if shot_s is None else shot_s,
                   timers.upload_timeout_s, timers.poll_s + timers.rto_max_s)  # fmt: skip

    @property
    def total_s(self) -> float:
        return self.phone_s + self.shot_s + self.upload_s + self.margin_s


@dataclass(frozen=True)
class Shot:
    """A capture the phone answered with a photo: ``stored`` resolves to its verified record —
    already in lock-step, later when the photo is held in flight (v1.2, §6.4) — or raises
    ``CameraFailedError`` if its upload is lost (the caller retakes the item)."""

    index: int
    attempt: int
    stored: asyncio.Future[PhotoRecord]

    @property
    def held(self) -> bool:
        return not self.stored.done()


def _resolved(record: PhotoRecord) -> asyncio.Future[PhotoRecord]:
    future: asyncio.Future[PhotoRecord] = asyncio.get_running_loop().create_future()
    future.set_result(record)
    return future


def _quiet(future: asyncio.Future[Any]) -> None:
    """Mark a held photo's failure as seen (its owner may have stopped waiting)."""
    if not future.cancelled():
        future.exception()


class DesktopEndpoint:
    """``async with DesktopEndpoint(...) as ep: photo = await ep.capture(i, 1, tag)``."""

    def __init__(
        self,
        key: bytes,
        session_id: bytes,
        host: str,
        udp_port: int,
        http_port: int,
        store_dir: Path | str,
        tap: ScreenTap | None = None,
        *,
        timers: Timers | None = None,
        camera_retries: int = 2,
        advertise_host: str | None = None,
        durable: bool = True,
        http_limits: HttpLimits | None = None,
        max_inflight: int = 2,
    ) -> None:
        self.max_inflight = max_inflight  # v1.2 look-ahead (0: lock-step with every phone)
        self.durable = durable
        self.key, self.session = key, session_id
        self.host, self.udp_port, self.http_port = host, udp_port, http_port
        self.network: NetworkChoice = choose(host, advertise_host or "")
        self.store_dir = Path(store_dir)
        self.tap = tap
        self.timers = timers or Timers()
        self.camera_retries = camera_retries
        self.http_limits = http_limits
        self.events: list[ev.Event] = []  # every protocol event, for the operator log
        self.listeners: list[Callable[[ev.Event], None]] = []  # told of every event (tools)
        self._waiter: asyncio.Future[ev.Event] | None = None
        self._waiting_for: tuple[int, int] | None = None  # (item, attempt) of the open capture
        self._held: dict[tuple[int, int], asyncio.Future[PhotoRecord]] = {}
        self._on_progress: ProgressFn | None = None
        self._told: tuple[int, int, float] | None = None  # the progress last handed on
        self._closed: asyncio.Future[None] | None = None
        self._state: EndpointState | None = None
        self._statefile = StateFile(self.store_dir, session_id, key)
        self._state_save: asyncio.TimerHandle | None = None
        self._saved_map = self._saved_moves = -1
        self.machine: DesktopMachine | None = None
        self.link: MachineLink | None = None
        self.server: UploadServer | None = None
        self.http: HttpServer | None = None
        self._transport: asyncio.DatagramTransport | None = None

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> DesktopEndpoint:
        loop = asyncio.get_running_loop()
        self.store_dir.mkdir(parents=True, exist_ok=True)
        state = self._state = self._statefile.load()
        wiremap = WireMap(state.wiremap)
        self.server = UploadServer(
            self.key, self.session, self.store_dir, self._on_stored, self._serve_tap,
            self.durable, wiremap.requested, self._on_upload_bytes, self._on_storage_error,
        )  # fmt: skip
        self.server.load_existing()
        nxt = 0
        while nxt in self.server.by_index:
            nxt += 1
        floor = time_seq()
        peer = tuple(state.peer) if state.peer else None
        self.machine = DesktopMachine(self.key, self.session, max(state.seq_mark, floor), nxt,
                                      peer, self.timers, wiremap, self.max_inflight)  # fmt: skip
        # Old genuine datagrams replayed after our restart must still count as replays (§4.6).
        self.machine.codec.window = ReplayWindow.restored(state.peer_highest, floor)
        self._persist()
        link = MachineLink(self.machine, self._on_event, before_send=self._persist)
        transport, _ = await loop.create_datagram_endpoint(
            lambda: link, local_addr=(self.host, self.udp_port)
        )
        self._transport, self.link = transport, link
        self.udp_port = transport.get_extra_info("sockname")[1]
        self.http = HttpServer(self.server.handle, self.http_limits)
        self.http_port = await self.http.start(self.host, self.http_port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close(bye=exc[0] is None)

    async def close(self, bye: bool = True, reason: str = "session finished") -> None:
        """Stop; with ``bye`` tell a v1.1 phone the session is over and wait (bounded) for it."""
        if self._state_save is not None:
            self._state_save.cancel()
        if bye and self.machine is not None and self.link is not None:
            self._closed = asyncio.get_running_loop().create_future()
            self.machine.close(reason, self.link.now())
            self.link.pump()
            if self.machine.state != CLOSED:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self._closed), BYE_WAIT_S)
        self._persist()
        held, self._held = self._held, {}
        for future in held.values():
            if not future.done():
                future.set_exception(PhoneLostError("the session closed before the photo arrived"))
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        if self.http is not None:
            await self.http.close()
            self.http = None

    # ------------------------------------------------------------------ API
    def pairing(self) -> Pairing:
        advertise = self.network.advertise
        return Pairing(advertise, self.udp_port, self.http_port, self.session, self.key)

    def pairing_payload(self) -> str:
        """The text of the pairing QR code (docs/protocol.md §3)."""
        return self.pairing().to_uri()

    def pairing_qr(self, png_path: Path | None = None) -> str:
        """The pairing QR code as console text (half blocks); also saved as a PNG if asked."""
        payload = self.pairing_payload()
        if png_path is not None:
            save_qr_png(payload, Path(png_path))
        return qr_to_text(qr_matrix(payload))

    def network_line(self) -> str:
        """Where the desktop listens and what the phone is told, and why (for the operator)."""
        return self.network.describe(self.udp_port, self.http_port)

    def stored(self, index: int, min_attempt: int = 1) -> PhotoRecord | None:
        """The verified photo of item ``index`` from its lowest stored attempt >= ``min_attempt``
        (in item terms, whatever wire pair carried it)."""
        assert self.server is not None and self.machine is not None
        wiremap = self.machine.wiremap
        found: dict[int, PhotoRecord] = {}
        for a, wire in wiremap.attempts_of(index).items():
            record = self.server.stored.get(wire)
            if record is not None and a >= min_attempt:
                found[a] = replace(record, index=index, attempt=a)
        for a, record in self.server.by_index.get(index, {}).items():  # named by item (v1.0)
            if a >= min_attempt and a not in found and wiremap.item(index, a) == (index, a):
                found[a] = record
        return found[min(found)] if found else None

    def limits(self) -> ProtocolLimits:
        """The bounds of a capture now (the shot wait grows once a phone announced a slower
        camera in its HELLO); before ``__aenter__``, those of our own timers."""
        if self.machine is None:
            return ProtocolLimits.of(self.timers)
        return ProtocolLimits.of(self.machine.timers, self.machine.shot_timeout_s())

    def progress(self) -> CaptureProgress | None:
        """The open capture's progress (acknowledged, announced, upload bytes), or None."""
        return self.machine.progress() if self.machine is not None else None

    def stats(self) -> dict[str, Any]:
        assert self.machine is not None and self.server is not None
        return {
            "retransmissions": self.machine.retransmissions,
            "rejected_datagrams": self.machine.rejected,
            "rejected_uploads": dict(self.server.rejected),
            "stale_messages": self.machine.stale,
            "resyncs": self.machine.resyncs,
            "replans": self.machine.replans,
            "peer_minor": self.machine.peer_minor,
        }

    @property
    def resyncs(self) -> int:
        return self.machine.resyncs if self.machine is not None else 0

    async def capture(
        self,
        index: int,
        attempt: int = 1,
        tag: str = "",
        timeout_s: float | None = None,
        on_progress: ProgressFn | None = None,
    ) -> PhotoRecord:
        """Get one verified photo of item ``index`` (already on screen), from ``attempt`` on.

        A stored (index, attempt) is never shot again: it is returned at once (resume). A retake
        asks for a higher attempt than any stored one. Camera failures are retried with
        ``attempt + 1`` up to ``camera_retries`` times. ``on_progress`` hears each step the
        phone makes (acknowledged, photo announced, more upload bytes), so a caller's own
        deadline can follow the machine's (§6.2). However the wait ends — timeout,
        cancellation by the caller, an error — the capture is closed in the protocol machine,
        so the next call starts clean; protocol errors surface as ``PhoneLostError``.
        """
        shot = await self.shoot(index, attempt, tag, timeout_s, on_progress)
        return await shot.stored

    async def shoot(
        self,
        index: int,
        attempt: int = 1,
        tag: str = "",
        timeout_s: float | None = None,
        on_progress: ProgressFn | None = None,
    ) -> Shot:
        """Like ``capture``, but returns once the photo is safe: verified on the desktop, or —
        with a v1.2 phone — saved on the phone and announced, its upload still running (§6.4).
        Waits first while ``max_inflight`` photos are in flight (bounded look-ahead)."""
        done = self.stored(index, attempt)
        if done is not None:
            return Shot(index, done.attempt, _resolved(done))
        held = self._held.get((index, attempt))
        if held is not None and not held.done():  # asked again while in flight: the same photo
            return Shot(index, attempt, held)
        await self._room()
        self._on_progress, self._told = on_progress, None
        try:
            return await asyncio.wait_for(self._capture(index, attempt, tag), timeout_s)
        except TimeoutError:
            raise PhoneLostError(
                f"capture of item {index} took longer than {timeout_s:g} s; check the phone"
            ) from None
        except ProtocolError as exc:
            raise PhoneLostError(f"capture of item {index}: {exc.message}") from exc
        finally:
            self._on_progress = None
            self._cancel()

    async def _room(self) -> None:
        """Wait until fewer than ``max_inflight`` photos are in flight (any outcome frees one)."""
        while self.machine is not None and self.machine.inflight and self.machine.inflight_full():
            pending = [f for f in self._held.values() if not f.done()]
            if not pending:
                return
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)

    async def _capture(self, index: int, attempt: int, tag: str) -> Shot:
        last = ""
        for a in range(attempt, attempt + self.camera_retries + 1):
            event = await self._run_attempt(index, a, tag)
            if isinstance(event, ev.PhotoHeld):
                future = self._held.get((index, a))
                if future is None:  # verified before this coroutine resumed
                    future = _resolved(self._verified_record(index, a))
                return Shot(index, a, future)
            if isinstance(event, ev.PhotoVerified):
                return Shot(index, a, _resolved(self._verified_record(index, a)))
            if isinstance(event, ev.PhoneLost):
                raise PhoneLostError(f"phone lost at item {index}: {event.reason}")
            assert isinstance(event, ev.CameraFailed)
            last = event.reason
        raise CameraFailedError(
            f"camera failed {self.camera_retries + 1} times at item {index} ({last}); "
            "check the phone's camera"
        )

    def _verified_record(self, index: int, attempt: int) -> PhotoRecord:
        record = self.stored(index, attempt)
        assert record is not None and record.attempt == attempt
        return record

    async def _run_attempt(self, index: int, attempt: int, tag: str) -> ev.Event:
        assert self.machine is not None and self.link is not None
        if self.machine.state in OPEN_STATES:
            self._cancel()  # a capture abandoned without our knowing (never a crash, §6)
        self._waiter = asyncio.get_running_loop().create_future()
        self._waiting_for = (index, attempt)
        self.machine.request_capture(index, attempt, tag, self.link.now())
        self.link.pump()
        try:
            return await self._waiter
        finally:
            self._waiter = self._waiting_for = None

    # ------------------------------------------------------------------ callbacks
    def _on_event(self, event: ev.Event) -> None:
        self.events.append(event)
        if len(self.events) > 10_000:
            del self.events[:5_000]
        for listener in self.listeners:
            listener(event)
        self._tell_progress()
        if isinstance(event, ev.ByeAcked) and self._closed is not None and not self._closed.done():
            self._closed.set_result(None)
            return
        if not isinstance(event, ev.PhotoHeld | ev.PhotoVerified | ev.PhoneLost | ev.CameraFailed):
            return
        key = (event.index, event.attempt)
        if isinstance(event, ev.PhotoHeld):
            future: asyncio.Future[PhotoRecord] = asyncio.get_running_loop().create_future()
            future.add_done_callback(_quiet)
            self._held[key] = future
        else:
            self._settle_held(key, event)
        if key == self._waiting_for and self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(event)

    def _settle_held(self, key: tuple[int, int], event: ev.Event) -> None:
        """A held photo's outcome: its verified record, or the loss the caller retakes."""
        future = self._held.pop(key, None)
        if future is None or future.done():
            return
        if isinstance(event, ev.PhotoVerified):
            future.set_result(self._verified_record(*key))
        else:
            reason = getattr(event, "reason", "")
            future.set_exception(
                CameraFailedError(f"the photo of item {key[0]} attempt {key[1]} was lost: {reason}")
            )

    def _on_stored(self, record: PhotoRecord) -> None:
        assert self.machine is not None and self.link is not None
        self.machine.photo_stored(record.index, record.attempt, record.sha256, self.link.now())
        self.link.pump()
        # The peer's seq high-water mark, saved soon after each photo (coalesced, off the path
        # between a verified photo and the next capture request).
        if self._state_save is None:
            loop = asyncio.get_running_loop()
            self._state_save = loop.call_later(0.2, self._save_soon)

    def _on_storage_error(self, exc: StorageError) -> None:
        """The photo of the capture in flight cannot be stored: that ends the wait now (the
        session pauses naming the path), not a deadline later as a misleading PhoneLost."""
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        for future in self._held.values():  # the session pauses; what it holds is retaken
            if not future.done():
                future.set_exception(exc)
        self._held.clear()
        if self.machine is not None:
            self.machine.inflight.clear()

    def _on_upload_bytes(self, index: int, attempt: int, received: int) -> None:
        if self.machine is not None and self.link is not None:
            self.machine.upload_progressed(index, attempt, received, self.link.now())
            self.link.pump()
            self._tell_progress()

    def _tell_progress(self) -> None:
        """The open capture's progress to the caller, whenever the phone made some."""
        progress = self.machine.progress() if self.machine is not None else None
        if self._on_progress is None or progress is None:
            return
        step = (progress.item, progress.attempt, progress.last_progress_s)
        if step != self._told:
            self._told = step
            self._on_progress(progress)

    def _serve_tap(self, index: int, attempt: int, age_ms: float) -> np.ndarray | None:
        return self.tap(age_ms) if self.tap is not None else None

    def _save_soon(self) -> None:
        self._state_save = None
        self._persist(durable=False)

    def _cancel(self) -> None:
        if self.machine is not None and self.link is not None and self.machine.state in OPEN_STATES:
            self.machine.cancel(self.link.now())
            self.link.pump()

    # ------------------------------------------------------------------ persistence
    def _persist(self, durable: bool = True) -> None:
        """Save when the seq block runs out, the peer moved or the wire map changed — before
        any datagram that depends on it is sent (MachineLink calls this first).

        fsync only for what power loss must not take (seq reservations, the peer, re-planned
        wire pairs): a new identity pair (item i attempt a as wire (i, a), nearly every
        capture) is written atomically without fsync — the session's own database records
        that request durably, and a desktop that forgot it asks for it again on resume
        (an upload meanwhile is answered 404 not_requested and retried, §5.3). So no fsync
        stands between a capture request and its CAPTURE datagram."""
        machine, state = self.machine, self._state
        if machine is None or state is None:
            return
        window = machine.codec.window
        highest = window.highest if window is not None else 0
        must_sync = (
            machine.next_seq >= state.seq_mark
            or list(machine.peer or []) != (state.peer or [])
            or machine.wiremap.moved_version != self._saved_moves
        )
        changed = must_sync or machine.wiremap.version != self._saved_map
        if machine.next_seq >= state.seq_mark:
            state.seq_mark = machine.next_seq + SEQ_BLOCK
        state.peer = list(machine.peer) if machine.peer is not None else None
        state.wiremap = machine.wiremap.entries()
        if changed or not durable:
            state.peer_highest = highest
            self._statefile.save(state, durable=durable and must_sync)
            self._saved_map = machine.wiremap.version
            self._saved_moves = machine.wiremap.moved_version
