"""The desktop's side of the capture protocol as a sans-I/O state machine (v1.2).

Rules / theory of operation (docs/protocol.md §6–§7):

* Bytes and ``now`` in, events and datagrams out; no clock, socket or file access. The adapter
  calls ``receive_datagram``, ``handle_timer`` at ``get_timer()``, ``photo_stored`` once the
  upload server verified (HMAC + SHA-256) and atomically stored a photo, and
  ``upload_progressed`` while its bytes arrive.
* The caller speaks of items: ``request_capture(item, attempt, tag)``. On the wire the capture
  travels as a wire (index, attempt) chosen by ``wiremap`` — the item itself unless the phone's
  cursor has already passed it (§7.3); events carry the item again.
* One capture is open at a time. CAPTURE is retransmitted with an adaptive, exponentially
  backed-off timeout until the phone answers; then polled every ``poll_s`` so a dead phone is
  told apart from a slow camera.
* The capture completes only through ``photo_stored`` for exactly its wire pair: the desktop
  advances only after the photo is verified on disk (the CheXpeditor rule). The upload may
  overtake every datagram, so it completes the capture from any waiting state.
* v1.2 pipelining (§6.4), only with a phone that announced minor >= 2: a PHOTO_READY of the
  open capture closes it at once (``PhotoHeld``; the photo is durable on the phone) and the
  capture moves to ``inflight`` until ``photo_stored`` (``PhotoVerified``) or its upload
  deadline (``CameraFailed``). At most ``max_inflight`` such photos; each is polled with its
  CAPTURE every ``poll_s`` (the phone answers from its results and re-uploads, never
  re-shoots), so a phone restart or a lost upload is retried without the caller.
* ERROR GAP is resolved here, by the rule of §7.3 (the desktop's record wins, and it converges):
  a phone whose cursor has passed the wire index gets the capture re-planned at its cursor; a
  phone behind it gets an explicit RESYNC, backed off, at most ``MAX_GAPS`` per capture, after
  which the capture ends in ``PhoneLost`` (the session pauses; never a livelock).
* Every wait is bounded and ends in an event: ``PhoneLost`` (nothing heard for
  ``phone_timeout_s``), ``CameraFailed`` (phone reported it, or no photo / no upload in time —
  the shot wait honours the camera timeout the phone announced in its HELLO).
* The phone's address moves only on an authenticated HELLO or RESYNC_ACK newer than every
  datagram before it (§4.4); other input never moves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rig.errors import LocalProtocolError
from rig.protocol import events as ev
from rig.protocol import messages as m
from rig.protocol.timers import RtoEstimator, Timers
from rig.protocol.wiremap import WireMap

IDLE = "IDLE"
WAIT_ACK = "WAIT_ACK"
WAIT_PHOTO = "WAIT_PHOTO"
WAIT_UPLOAD = "WAIT_UPLOAD"
NEED_RESYNC = "NEED_RESYNC"
WAIT_RESYNC = "WAIT_RESYNC"
CLOSING = "CLOSING"
CLOSED = "CLOSED"
OPEN_STATES = (WAIT_ACK, WAIT_PHOTO, WAIT_UPLOAD, NEED_RESYNC, WAIT_RESYNC)
POLLED = (WAIT_ACK, WAIT_PHOTO, WAIT_UPLOAD)  # a CAPTURE is outstanding

MAX_GAPS = 4  # GAP resolutions (resyncs + re-plans) per capture before PhoneLost (§7.3)
SHOT_MARGIN_S = 5.0  # the desktop waits this much longer than the phone's announced camera timeout
BYE_SENDS = 4  # BYE transmissions (RTO backed off) before the desktop stops waiting for BYE_ACK

# (state, event) -> new state; any pair not listed is a bug on our side (LocalProtocolError).
TRANSITIONS: dict[tuple[str, str], str] = {
    (IDLE, "request"): WAIT_ACK,
    (WAIT_ACK, "acked"): WAIT_PHOTO,
    (WAIT_ACK, "announced"): WAIT_UPLOAD,
    (WAIT_PHOTO, "announced"): WAIT_UPLOAD,
    (WAIT_ACK, "held"): IDLE,  # v1.2: the photo is safe on the phone; upload in flight (§6.4)
    (WAIT_PHOTO, "held"): IDLE,
    (WAIT_ACK, "gap"): NEED_RESYNC,
    (WAIT_PHOTO, "gap"): NEED_RESYNC,
    (WAIT_RESYNC, "gap"): NEED_RESYNC,  # RESYNC_ACK naming another index: the phone refused
    (WAIT_ACK, "replan"): WAIT_ACK,
    (WAIT_PHOTO, "replan"): WAIT_ACK,
    (WAIT_RESYNC, "replan"): WAIT_ACK,
    (NEED_RESYNC, "resync"): WAIT_RESYNC,
    (WAIT_RESYNC, "resync_acked"): WAIT_ACK,
    **{(s, "verified"): IDLE for s in OPEN_STATES},
    **{(s, "camera_failed"): IDLE for s in OPEN_STATES},
    **{(s, "phone_lost"): IDLE for s in OPEN_STATES},
    **{(s, "cancel"): IDLE for s in OPEN_STATES},
    (IDLE, "close"): CLOSING,
    (IDLE, "close_now"): CLOSED,
    (CLOSING, "bye_acked"): CLOSED,
    (CLOSING, "bye_timeout"): CLOSED,
}


@dataclass(frozen=True)
class Current:
    """The open capture: the item as the caller knows it, and the wire pair it travels as."""

    item: int
    attempt: int
    tag: str
    index: int  # wire
    wire_attempt: int


@dataclass
class InFlight:
    """A v1.2 capture closed on PHOTO_READY whose upload is not stored yet (§6.4)."""

    capture: Current
    sha256: str
    size: int
    deadline_s: float  # upload_timeout_s after the announcement or the last upload bytes
    poll_due_s: float  # the next CAPTURE poll (the phone answers from its results)


@dataclass(frozen=True)
class CaptureProgress:
    """What the phone has done for the open capture, for a caller's deadline (§6.2)."""

    item: int
    attempt: int
    state: str
    acked: bool  # the phone acknowledged the CAPTURE (it is shooting, or has the photo)
    announced: bool  # PHOTO_READY received: the upload is running
    upload_bytes: int  # bytes of the photo the upload server holds so far
    last_progress_s: float  # when any of the above last changed (machine time)


class DesktopMachine:
    """Sans-I/O desktop endpoint. ``next_index`` is the first wire index not yet stored."""

    def __init__(
        self,
        key: bytes,
        session: bytes,
        initial_seq: int,
        next_index: int = -1,
        peer: Any = None,
        timers: Timers | None = None,
        wiremap: WireMap | None = None,
        max_inflight: int = 2,
    ) -> None:
        self.timers = timers or Timers()
        self.max_inflight = max_inflight  # v1.2 look-ahead: photos held, not yet stored (§6.4)
        self.inflight: dict[tuple[int, int], InFlight] = {}  # wire pair -> held capture
        self.codec = m.Codec(key, session, m.ROLE_DESKTOP, next_seq=initial_seq)
        self.peer = peer
        self.next_index = next_index
        self.wiremap = wiremap or WireMap()
        self.state = IDLE
        self.current: Current | None = None
        self.retransmissions = 0
        self.stale = 0
        self.resyncs = 0  # RESYNCs started (every one logged as ResyncNeeded)
        self.replans = 0
        self.phone_cursor = -1  # the phone's cursor as last reported (or implied by a photo)
        self.peer_minor = 0  # negotiated minor version (0 until a HELLO said more)
        self.phone_shot_s = 0.0  # camera timeout the phone announced (v1.1), 0 = unknown
        self._events: list[ev.Event] = []
        self._out: list[tuple[bytes, Any]] = []
        self._rto = RtoEstimator(self.timers)
        self._resend_due_s: float | None = None
        self._first_sent_s: float | None = None  # for an RTT sample (Karn: only if never resent)
        self._resent = False
        self._heard_s = 0.0  # last authenticated datagram, or the capture start
        self._deadline_s: float | None = None  # shot or upload deadline
        self._gaps = 0  # GAP resolutions of the open capture
        self._resync_next = -1
        self._resync_seq = 0  # phone seq of its last RESYNC_ACK: older ERRORs are stale
        self._byes = 0
        self._bye = m.Bye(reason="")
        self._acked = self._announced = False
        self._upload_bytes = 0
        self._progress_s = 0.0

    # ------------------------------------------------------------------ plumbing
    @property
    def rejected(self) -> dict[str, int]:
        return dict(self.codec.rejected or {})

    @property
    def next_seq(self) -> int:
        return self.codec.next_seq

    def next_events(self) -> list[ev.Event]:
        out, self._events = self._events, []
        return out

    def datagrams_to_send(self) -> list[tuple[bytes, Any]]:
        out, self._out = self._out, []
        return out

    def _send(self, msg: m.Message) -> None:
        if self.peer is not None and (msg.TYPE not in m.V11_TYPES or self.peer_minor >= 1):
            self._out.append((self.codec.seal(msg), self.peer))

    def _go(self, event: str) -> None:
        try:
            self.state = TRANSITIONS[(self.state, event)]
        except KeyError:
            raise LocalProtocolError(
                f"desktop: '{event}' is illegal in state {self.state}"
            ) from None

    def _matches(self, index: int, attempt: int) -> bool:
        """Whether a wire pair is the open capture's."""
        c = self.current
        return c is not None and (c.index, c.wire_attempt) == (index, attempt)

    @property
    def pipelined(self) -> bool:
        """Whether captures close on PHOTO_READY (the phone announced minor >= 2, §6.4)."""
        return self.peer_minor >= m.PIPELINE_MINOR and self.max_inflight > 0

    def inflight_full(self) -> bool:
        """No new capture may open until a held photo is stored or lost (bounded look-ahead)."""
        return len(self.inflight) >= max(1, self.max_inflight)

    def shot_timeout_s(self) -> float:
        """How long a shot may take: ours, or the phone's announced camera timeout + margin."""
        return max(self.timers.shot_timeout_s, self.phone_shot_s + SHOT_MARGIN_S)

    def progress(self) -> CaptureProgress | None:
        c = self.current
        if c is None:
            return None
        return CaptureProgress(c.item, c.attempt, self.state, self._acked, self._announced,
                               self._upload_bytes, self._progress_s)  # fmt: skip

    # ------------------------------------------------------------------ caller API
    def request_capture(self, index: int, attempt: int, tag: str, now: float) -> None:
        """Open the capture of item ``index`` (already on screen), attempt ``attempt`` >= 1."""
        if not (0 <= index <= m.MAX_INDEX and 1 <= attempt <= m.MAX_INDEX):
            raise LocalProtocolError(f"item {index} / attempt {attempt} out of range (§6.1)")
        if not m.valid_tag(tag):
            raise LocalProtocolError("capture tag must be up to 128 of A-Z a-z 0-9 . _ - (§4.2)")
        if self.inflight and self.inflight_full():
            raise LocalProtocolError(
                f"{len(self.inflight)} photos in flight: wait for one before the next (§6.4)"
            )
        self._go("request")
        wire = self.wiremap.assign(index, attempt, self.phone_cursor)
        self.current = Current(index, attempt, tag, *wire)
        self._heard_s = self._progress_s = now
        self._deadline_s = None
        self._gaps = 0
        self._acked = self._announced = False
        self._upload_bytes = 0
        self._send_capture(now, first=True)

    def photo_stored(self, index: int, attempt: int, sha256: str, now: float) -> None:
        """The upload server verified and stored wire pair (index, attempt)."""
        self._send(m.Stored(index=index, attempt=attempt, sha256=sha256))
        held = self.inflight.pop((index, attempt), None)
        if held is not None:
            self._events.append(ev.PhotoVerified(held.capture.item, held.capture.attempt, sha256))
            return
        if self.state not in OPEN_STATES or not self._matches(index, attempt):
            self.stale += 1
            return
        c = self.current
        assert c is not None
        self._go("verified")
        self.current = None
        self.next_index = index + 1
        if self.phone_cursor == index:
            self.phone_cursor = index + 1  # the phone moved on when it saved it (§7.1)
        self._events.append(ev.PhotoVerified(c.item, c.attempt, sha256))

    def upload_progressed(self, index: int, attempt: int, received: int, now: float) -> None:
        """The upload server holds ``received`` bytes of wire pair (index, attempt)."""
        held = self.inflight.get((index, attempt))
        if held is not None:
            held.deadline_s = now + self.timers.upload_timeout_s
        elif self.state in OPEN_STATES and self._matches(index, attempt):
            self._upload_bytes = received
            self._progress_s = now
            if self.state == WAIT_UPLOAD:  # bytes flow: a slow upload is not a failed one
                self._deadline_s = now + self.timers.upload_timeout_s

    def cancel(self, now: float) -> None:
        """Abandon the open capture (the caller gave up); late answers are then stale."""
        if self.state in OPEN_STATES:
            self._go("cancel")
            self.current = None
            self._resend_due_s = None

    def close(self, reason: str, now: float) -> None:
        """End the session: BYE to a v1.1 phone until BYE_ACK (§7.5); CLOSED at once otherwise."""
        self.cancel(now)
        self.inflight.clear()
        if self.state != IDLE:
            return
        if self.peer is None or self.peer_minor < 1:
            self._go("close_now")
            return
        self._go("close")
        self._byes = 0
        self._rto = RtoEstimator(self.timers)
        self._bye = m.Bye(reason=reason[: m.MAX_REASON])
        self._send_bye(now)

    # ------------------------------------------------------------------ network input
    def receive_datagram(self, data: bytes, addr: Any, now: float) -> None:
        msg = self.codec.open(data)
        if msg is None:
            return
        if self.codec.last_was_newest and isinstance(msg, m.Hello | m.ResyncAck):
            self.peer = addr  # address migration: only on these, only when newest (§4.4)
        self._heard_s = now
        if isinstance(msg, m.Hello):
            self._on_hello(msg, now)
        elif isinstance(msg, m.CaptureAck):
            self._on_capture_ack(msg, now)
        elif isinstance(msg, m.PhotoReady):
            self._on_photo_ready(msg, now)
        elif isinstance(msg, m.CameraFailedMsg):
            self._on_camera_failed(msg.index, msg.attempt, msg.reason)
        elif isinstance(msg, m.Error):
            self._on_error(msg, now)
        elif isinstance(msg, m.ResyncAck):
            self._on_resync_ack(msg, now)
        elif isinstance(msg, m.ByeAck) and self.state == CLOSING:
            self._go("bye_acked")
            self._resend_due_s = None
            self._events.append(ev.ByeAcked())

    def _on_hello(self, msg: m.Hello, now: float) -> None:
        self.phone_cursor = msg.cursor
        self.peer_minor = min(msg.minor, m.MINOR) if msg.minor is not None else 0
        self.phone_shot_s = float(msg.shot_s or 0)
        nxt = self.current.index if self.current is not None else self.next_index
        minor = self.peer_minor if msg.minor is not None else None  # v1.0 bytes to a v1.0 phone
        self._send(m.HelloAck(nonce=msg.nonce, next=nxt, minor=minor))
        self._events.append(ev.PeerHello(msg.cursor))
        for held in self.inflight.values():  # a restarted phone re-uploads what it holds
            self._poll_held(held, now)
        if self.state in POLLED:
            self._send_capture(now, first=False)  # the phone (re)started: ask at once
        elif self.state == CLOSING:
            self._send_bye(now)

    def _on_capture_ack(self, msg: m.CaptureAck, now: float) -> None:
        if (msg.index, msg.attempt) in self.inflight:
            if msg.state == m.ST_FAILED:  # cannot happen for a saved photo; a broken phone
                self._fail_held((msg.index, msg.attempt), "phone reports the shot failed")
            return
        if not self._matches(msg.index, msg.attempt):
            self.stale += 1
            return
        if self.state == WAIT_ACK:
            if not self._resent and self._first_sent_s is not None:
                self._rto.sample(now - self._first_sent_s)
            c = self.current
            assert c is not None
            self._events.append(ev.CaptureAcked(c.item, c.attempt, msg.state))
            self._acked, self._progress_s = True, now
            if msg.state != m.ST_FAILED:
                self._go("acked")
                self._deadline_s = now + self.shot_timeout_s()
            self._resend_due_s = now + self.timers.poll_s
        if msg.state == m.ST_FAILED:
            self._on_camera_failed(msg.index, msg.attempt, "camera failed")

    def _on_photo_ready(self, msg: m.PhotoReady, now: float) -> None:
        if (msg.index, msg.attempt) in self.inflight:
            return  # the answer to a poll of a held photo: its upload is (re)started
        if (
            self.pipelined
            and self.state in (WAIT_ACK, WAIT_PHOTO)
            and self._matches(msg.index, msg.attempt)
        ):
            self._hold(msg, now)
            return
        if not self._matches(msg.index, msg.attempt) or self.state not in (WAIT_ACK, WAIT_PHOTO):
            if not (self.state == WAIT_UPLOAD and self._matches(msg.index, msg.attempt)):
                self.stale += 1
            return
        c = self.current
        assert c is not None
        self._go("announced")
        self._announced, self._progress_s = True, now
        self._deadline_s = now + self.timers.upload_timeout_s
        self._resend_due_s = now + self.timers.poll_s
        self._events.append(ev.PhotoAnnounced(c.item, c.attempt, msg.sha256, msg.size))

    def _hold(self, msg: m.PhotoReady, now: float) -> None:
        """v1.2: the photo is durable on the phone; close the capture, keep the photo in flight
        (the phone's cursor moved past it when it saved it, §7.1)."""
        c = self.current
        assert c is not None
        self._go("held")
        self.current = None
        self._resend_due_s = None
        self.inflight[(c.index, c.wire_attempt)] = InFlight(
            c, msg.sha256, msg.size, now + self.timers.upload_timeout_s, now + self.timers.poll_s
        )
        self.next_index = max(self.next_index, c.index + 1)
        if self.phone_cursor == c.index:
            self.phone_cursor = c.index + 1
        self._events.append(ev.PhotoAnnounced(c.item, c.attempt, msg.sha256, msg.size))
        self._events.append(ev.PhotoHeld(c.item, c.attempt, msg.sha256, msg.size))

    def _fail_held(self, wire: tuple[int, int], reason: str) -> None:
        held = self.inflight.pop(wire)
        self._events.append(ev.CameraFailed(held.capture.item, held.capture.attempt, reason))

    def _poll_held(self, held: InFlight, now: float) -> None:
        c = held.capture
        self._send(m.Capture(index=c.index, attempt=c.wire_attempt, tag=c.tag))
        held.poll_due_s = now + self.timers.poll_s

    def _on_camera_failed(self, index: int, attempt: int, reason: str) -> None:
        if (index, attempt) in self.inflight:
            self._fail_held((index, attempt), reason)
            return
        if not self._matches(index, attempt) or self.state not in OPEN_STATES:
            self.stale += 1
            return
        c = self.current
        assert c is not None
        self._go("camera_failed")
        self.current = None
        self._events.append(ev.CameraFailed(c.item, c.attempt, reason))

    def _on_error(self, msg: m.Error, now: float) -> None:
        self.phone_cursor = msg.cursor
        if msg.code == m.ERR_BUSY or not self._matches(msg.index, msg.attempt):
            return  # BUSY: keep retransmitting, the phone timeout bounds the wait
        if msg.code == m.ERR_GAP and self.codec.last_seq < self._resync_seq:
            self.stale += 1  # sent before the phone acknowledged our RESYNC: already resolved
        elif msg.code == m.ERR_GAP and self.state in (WAIT_ACK, WAIT_PHOTO):
            self._resolve_gap(msg.cursor, now)
        elif msg.code == m.ERR_BAD_REQUEST:
            self._on_camera_failed(msg.index, msg.attempt, "phone refused the request")

    def _on_resync_ack(self, msg: m.ResyncAck, now: float) -> None:
        if self.state != WAIT_RESYNC:
            self.stale += 1
            return
        self._resync_seq = self.codec.last_seq
        self.phone_cursor = msg.next
        if msg.next != self._resync_next:  # it kept another cursor: a refusal, resolved again
            self._resolve_gap(msg.next, now)
            return
        self._go("resync_acked")
        self._events.append(ev.Resynced(-1, msg.next))
        self._send_capture(now, first=True)

    # ------------------------------------------------------------------ GAP (§7.3)
    def _resolve_gap(self, cursor: int, now: float) -> None:
        """Re-plan at the phone's cursor if it has passed the wire index, else RESYNC it back;
        at most MAX_GAPS times per capture, then PhoneLost."""
        c = self.current
        assert c is not None
        self._gaps += 1
        if self._gaps > MAX_GAPS:
            self._go("cancel")
            self.current = None
            why = f"the phone does not follow RESYNC (its cursor stays at {cursor})"
            self._events.append(ev.PhoneLost(c.item, c.attempt, why))
            return
        self._resend_due_s = None
        if cursor > c.index:
            self._go("replan")
            wire = self.wiremap.move(c.item, c.attempt, cursor)
            self.current = Current(c.item, c.attempt, c.tag, *wire)
            self.replans += 1
            self._events.append(ev.Replanned(c.item, c.attempt, *wire))
            self._send_capture(now, first=True)
            return
        self._go("gap")
        self.resyncs += 1
        self._resync_next = c.index
        self._events.append(ev.ResyncNeeded(c.item, c.attempt, cursor))
        # Back-off: the first RESYNC at once, later ones 0.25 s, 0.5 s, 1 s … (capped).
        delay = (
            0.0 if self._gaps == 1 else min(self.timers.rto_max_s, 0.125 * 2 ** (self._gaps - 1))
        )
        self._resend_due_s = now + delay

    # ------------------------------------------------------------------ timers
    def get_timer(self) -> float | None:
        held = [t for h in self.inflight.values() for t in (h.deadline_s, h.poll_due_s)]
        if self.state in (IDLE, CLOSED):
            return min(held) if held else None
        times = [self._resend_due_s, *held]
        if self.state in OPEN_STATES:
            times += [self._heard_s + self.timers.phone_timeout_s, self._deadline_s]
        present = [t for t in times if t is not None]
        return min(present) if present else None

    def handle_timer(self, now: float) -> None:
        for wire, held in list(self.inflight.items()):
            if now >= held.deadline_s:
                self._fail_held(wire, "upload not completed")
            elif now >= held.poll_due_s:
                self._poll_held(held, now)
        if self.state == CLOSING:
            if self._resend_due_s is not None and now >= self._resend_due_s:
                self._send_bye(now)
            return
        c = self.current
        if self.state not in OPEN_STATES or c is None:
            return
        if now >= self._heard_s + self.timers.phone_timeout_s:
            self._go("phone_lost")
            self.current = None
            why = "no phone has paired" if self.peer is None else "phone stopped answering"
            self._events.append(ev.PhoneLost(c.item, c.attempt, why))
        elif self._deadline_s is not None and now >= self._deadline_s:
            why = "no photo in time" if self.state == WAIT_PHOTO else "upload not completed"
            self._on_camera_failed(c.index, c.wire_attempt, why)
        elif self._resend_due_s is not None and now >= self._resend_due_s:
            if self.state == NEED_RESYNC:
                self._go("resync")
                self._send_resync(now, first=True)
            elif self.state == WAIT_RESYNC:
                self._send_resync(now, first=False)
            else:
                self._send_capture(now, first=False)

    def _send_capture(self, now: float, first: bool) -> None:
        c = self.current
        assert c is not None
        if first:
            self._first_sent_s, self._resent = now, False
        else:
            self._resent = True
            self.retransmissions += self.peer is not None
        self._send(m.Capture(index=c.index, attempt=c.wire_attempt, tag=c.tag))
        if self.state == WAIT_ACK:
            self._resend_due_s = now + (self._rto.rto_s if first else self._rto.backoff())
        else:
            self._resend_due_s = now + self.timers.poll_s

    def _send_resync(self, now: float, first: bool) -> None:
        self.retransmissions += not first
        self._send(m.Resync(next=self._resync_next))
        self._resend_due_s = now + (self._rto.rto_s if first else self._rto.backoff())

    def _send_bye(self, now: float) -> None:
        self._byes += 1
        if self._byes > BYE_SENDS:
            self._go("bye_timeout")
            self._resend_due_s = None
            return
        self._send(self._bye)
        self._resend_due_s = now + self._rto.rto_s
        self._rto.backoff()
