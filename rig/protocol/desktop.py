"""The desktop's side of the capture protocol as a sans-I/O state machine.

Rules / theory of operation (docs/protocol.md §6–§7):

* Bytes and ``now`` in, events and datagrams out; no clock, socket or file access. The adapter
  calls ``receive_datagram``, ``handle_timer`` at ``get_timer()``, and ``photo_stored`` once the
  upload server verified (HMAC + SHA-256) and atomically stored a photo.
* One capture is open at a time. ``request_capture`` sends CAPTURE and retransmits it with an
  adaptive, exponentially backed-off timeout until the phone answers; once answered it keeps
  polling every ``poll_s`` so a dead phone is told apart from a slow camera.
* The capture completes only through ``photo_stored`` for exactly its (index, attempt): the
  desktop advances only after the photo is verified on disk (the CheXpeditor rule). The upload
  may overtake every datagram, so it completes the capture from any waiting state.
* Every wait is bounded and ends in an event: ``PhoneLost`` (nothing heard for
  ``phone_timeout_s``), ``CameraFailed`` (phone reported it, or no photo / no upload in time),
  ``ResyncNeeded`` (the phone expects another index: only the caller may decide, via
  ``resync``; nothing is resynchronised silently).
* The phone's address is learnt from the newest authenticated datagram (the phone may restart
  on a new port). Unauthenticated input is counted by reason and otherwise ignored.
"""

from __future__ import annotations

from typing import Any

from rig.errors import LocalProtocolError
from rig.protocol import events as ev
from rig.protocol import messages as m
from rig.protocol.timers import RtoEstimator, Timers

IDLE = "IDLE"
WAIT_ACK = "WAIT_ACK"
WAIT_PHOTO = "WAIT_PHOTO"
WAIT_UPLOAD = "WAIT_UPLOAD"
NEED_RESYNC = "NEED_RESYNC"
WAIT_RESYNC = "WAIT_RESYNC"
OPEN_STATES = (WAIT_ACK, WAIT_PHOTO, WAIT_UPLOAD, NEED_RESYNC, WAIT_RESYNC)

# (state, event) -> new state; any pair not listed is a bug on our side (LocalProtocolError).
TRANSITIONS: dict[tuple[str, str], str] = {
    (IDLE, "request"): WAIT_ACK,
    (WAIT_ACK, "acked"): WAIT_PHOTO,
    (WAIT_ACK, "announced"): WAIT_UPLOAD,
    (WAIT_PHOTO, "announced"): WAIT_UPLOAD,
    (WAIT_ACK, "gap"): NEED_RESYNC,
    (WAIT_PHOTO, "gap"): NEED_RESYNC,
    (NEED_RESYNC, "resync"): WAIT_RESYNC,
    (WAIT_RESYNC, "resync_acked"): WAIT_ACK,
    **{(s, "verified"): IDLE for s in OPEN_STATES},
    **{(s, "camera_failed"): IDLE for s in OPEN_STATES},
    **{(s, "phone_lost"): IDLE for s in OPEN_STATES},
    **{(s, "cancel"): IDLE for s in OPEN_STATES},
}


class DesktopMachine:
    """Sans-I/O desktop endpoint. ``next_index`` is the first index not yet stored (resume)."""

    def __init__(
        self,
        key: bytes,
        session: bytes,
        initial_seq: int,
        next_index: int = -1,
        peer: Any = None,
        timers: Timers | None = None,
    ) -> None:
        self.timers = timers or Timers()
        self.codec = m.Codec(key, session, m.ROLE_DESKTOP, next_seq=initial_seq)
        self.peer = peer
        self.next_index = next_index
        self.state = IDLE
        self.current: tuple[int, int, str] | None = None  # (index, attempt, tag)
        self.retransmissions = 0
        self.stale = 0
        self.phone_cursor = -1
        self._events: list[ev.Event] = []
        self._out: list[tuple[bytes, Any]] = []
        self._rto = RtoEstimator(self.timers)
        self._resend_due_s: float | None = None
        self._first_sent_s: float | None = None  # for an RTT sample (Karn: only if never resent)
        self._resent = False
        self._heard_s = 0.0  # last authenticated datagram, or the capture start
        self._deadline_s: float | None = None  # shot or upload deadline
        self._resync_next = -1
        self._resync_seq = 0  # phone seq of its last RESYNC_ACK: older ERRORs are stale

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
        if self.peer is not None:
            self._out.append((self.codec.seal(msg), self.peer))

    def _go(self, event: str) -> None:
        try:
            self.state = TRANSITIONS[(self.state, event)]
        except KeyError:
            raise LocalProtocolError(
                f"desktop: '{event}' is illegal in state {self.state}"
            ) from None

    def _matches(self, index: int, attempt: int) -> bool:
        return self.current is not None and self.current[:2] == (index, attempt)

    # ------------------------------------------------------------------ caller API
    def request_capture(self, index: int, attempt: int, tag: str, now: float) -> None:
        """Open the capture of ``index`` (the item is already on screen)."""
        if not (0 <= index <= m.MAX_INDEX and 0 <= attempt <= m.MAX_INDEX):
            raise LocalProtocolError(f"index {index} / attempt {attempt} out of range")
        if not m.valid_tag(tag):
            raise LocalProtocolError("capture tag must be printable ASCII, at most 128 characters")
        self._go("request")
        self.current = (index, attempt, tag)
        self._heard_s = now
        self._deadline_s = None
        self._send_capture(now, first=True)

    def photo_stored(self, index: int, attempt: int, sha256: str, now: float) -> None:
        """The upload server verified and stored this photo; completes the matching capture."""
        if self.peer is not None:
            self._send(m.Stored(index=index, attempt=attempt, sha256=sha256))
        if self.state == IDLE or not self._matches(index, attempt):
            self.stale += 1
            return
        self._go("verified")
        self.current = None
        self.next_index = index + 1
        self._events.append(ev.PhotoVerified(index, attempt, sha256))

    def resync(self, next_index: int, now: float) -> None:
        """Tell the phone explicitly that its next index is ``next_index`` (after ResyncNeeded)."""
        self._go("resync")
        self._resync_next = next_index
        self._send_resync(now, first=True)

    def cancel(self, now: float) -> None:
        """Abandon the open capture (the caller gave up); late answers are then stale."""
        if self.state != IDLE:
            self._go("cancel")
            self.current = None

    # ------------------------------------------------------------------ network input
    def receive_datagram(self, data: bytes, addr: Any, now: float) -> None:
        msg = self.codec.open(data)
        if msg is None:
            return
        if self.codec.last_was_newest:
            new_peer = self.peer is None
            self.peer = addr
            # A HELLO is answered first (HELLO_ACK tells the phone the index), then CAPTURE.
            hello = isinstance(msg, m.Hello)
            if new_peer and not hello and self.state in (WAIT_ACK, WAIT_PHOTO, WAIT_UPLOAD):
                self._send_capture(now, first=False)
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

    def _on_hello(self, msg: m.Hello, now: float) -> None:
        self.phone_cursor = msg.cursor
        nxt = self.current[0] if self.current is not None else self.next_index
        self._send(m.HelloAck(nonce=msg.nonce, next=nxt))
        self._events.append(ev.PeerHello(msg.cursor))
        if self.state in (WAIT_ACK, WAIT_PHOTO, WAIT_UPLOAD):
            self._send_capture(now, first=False)  # the phone (re)started: ask at once

    def _on_capture_ack(self, msg: m.CaptureAck, now: float) -> None:
        if not self._matches(msg.index, msg.attempt):
            self.stale += 1
            return
        if self.state == WAIT_ACK:
            if not self._resent and self._first_sent_s is not None:
                self._rto.sample(now - self._first_sent_s)
            self._events.append(ev.CaptureAcked(msg.index, msg.attempt, msg.state))
            if msg.state != m.ST_FAILED:
                self._go("acked")
                self._deadline_s = now + self.timers.shot_timeout_s
            self._resend_due_s = now + self.timers.poll_s
        if msg.state == m.ST_FAILED:
            self._on_camera_failed(msg.index, msg.attempt, "camera failed")

    def _on_photo_ready(self, msg: m.PhotoReady, now: float) -> None:
        if not self._matches(msg.index, msg.attempt) or self.state not in (WAIT_ACK, WAIT_PHOTO):
            if not (self.state == WAIT_UPLOAD and self._matches(msg.index, msg.attempt)):
                self.stale += 1
            return
        self._go("announced")
        self._deadline_s = now + self.timers.upload_timeout_s
        self._resend_due_s = now + self.timers.poll_s
        self._events.append(ev.PhotoAnnounced(msg.index, msg.attempt, msg.sha256, msg.size))

    def _on_camera_failed(self, index: int, attempt: int, reason: str) -> None:
        if not self._matches(index, attempt) or self.state == IDLE:
            self.stale += 1
            return
        self._go("camera_failed")
        self.current = None
        self._events.append(ev.CameraFailed(index, attempt, reason))

    def _on_error(self, msg: m.Error, now: float) -> None:
        self.phone_cursor = msg.cursor
        if msg.code == m.ERR_BUSY or not self._matches(msg.index, msg.attempt):
            return  # BUSY: keep retransmitting, the phone timeout bounds the wait
        if msg.code == m.ERR_GAP and self.codec.last_seq < self._resync_seq:
            self.stale += 1  # sent before the phone acknowledged our RESYNC: already resolved
        elif msg.code == m.ERR_GAP and self.state in (WAIT_ACK, WAIT_PHOTO):
            self._go("gap")
            self._resend_due_s = None
            self._events.append(ev.ResyncNeeded(msg.index, msg.attempt, msg.cursor))
        elif msg.code == m.ERR_BAD_REQUEST:
            self._on_camera_failed(msg.index, msg.attempt, "phone refused the request")

    def _on_resync_ack(self, msg: m.ResyncAck, now: float) -> None:
        if self.state != WAIT_RESYNC or msg.next != self._resync_next:
            self.stale += 1
            return
        self._go("resync_acked")
        self._resync_seq = self.codec.last_seq
        self.phone_cursor = msg.next
        self._events.append(ev.Resynced(-1, msg.next))
        self._send_capture(now, first=True)

    # ------------------------------------------------------------------ timers
    def get_timer(self) -> float | None:
        if self.state == IDLE or self.state == NEED_RESYNC:
            return None
        times = [self._heard_s + self.timers.phone_timeout_s]
        if self._resend_due_s is not None:
            times.append(self._resend_due_s)
        if self._deadline_s is not None:
            times.append(self._deadline_s)
        return min(times)

    def handle_timer(self, now: float) -> None:
        if self.state == IDLE or self.state == NEED_RESYNC or self.current is None:
            return
        index, attempt, _ = self.current
        if now >= self._heard_s + self.timers.phone_timeout_s:
            self._go("phone_lost")
            self.current = None
            why = "no phone has paired" if self.peer is None else "phone stopped answering"
            self._events.append(ev.PhoneLost(index, attempt, why))
        elif self._deadline_s is not None and now >= self._deadline_s:
            why = "no photo in time" if self.state == WAIT_PHOTO else "upload not completed"
            self._on_camera_failed(index, attempt, why)
        elif self._resend_due_s is not None and now >= self._resend_due_s:
            if self.state == WAIT_RESYNC:
                self._send_resync(now, first=False)
            else:
                self._send_capture(now, first=False)

    def _send_capture(self, now: float, first: bool) -> None:
        assert self.current is not None
        index, attempt, tag = self.current
        if first:
            self._first_sent_s, self._resent = now, False
        else:
            self._resent = True
            self.retransmissions += self.peer is not None
        self._send(m.Capture(index=index, attempt=attempt, tag=tag))
        if self.state == WAIT_ACK:
            self._resend_due_s = now + (self._rto.rto_s if first else self._rto.backoff())
        else:
            self._resend_due_s = now + self.timers.poll_s

    def _send_resync(self, now: float, first: bool) -> None:
        self.retransmissions += not first
        self._send(m.Resync(next=self._resync_next))
        self._resend_due_s = now + (self._rto.rto_s if first else self._rto.backoff())
