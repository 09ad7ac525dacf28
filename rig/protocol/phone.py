"""The phone's side of the capture protocol as a sans-I/O state machine (v1.2).

Rules / theory of operation (docs/protocol.md §6–§7):

* Bytes and ``now`` in, events and datagrams out. The machine never reads a clock, opens a
  socket or touches a file; the adapter calls ``receive_datagram``, ``handle_timer`` at
  ``get_timer()``, and reports the camera (``photo_saved`` / ``camera_failed``) and uploads
  (``upload_finished``). It persists ``snapshot()`` after every call that changed it.
* The phone opens contact: HELLO (same nonce on every retransmission, RTO backed off) until a
  HELLO_ACK echoing that nonce, then HELLO as keepalive (a new nonce each) whenever the desktop
  has been silent for ``keepalive_s``; after BYE no keepalives at all (ENDED). The HELLO says
  our minor version and camera timeout (v1.1). CAPTUREs are served in every state.
* An attempt (index, attempt) is shot at most once, ever: finished attempts are remembered
  (and persisted) and a repeated CAPTURE only repeats their outcome; the photo is re-uploaded,
  never re-shot.
* The phone shoots only the index it expects (``cursor``) or a retake (a higher attempt) of an
  index it finished before; anything else is answered ERROR GAP and changes nothing until the
  desktop sends an explicit RESYNC — which always wins: the cursor becomes its ``next``.
* v1.2 (§6.4): the HELLO says minor 2, promising that the adapter uploads beside the next shot
  and keeps saved photos until stored; the rules above already answer a poll of a held photo
  from the results (re-upload, never re-shot) while another attempt is being shot.
* Every wait is bounded: the camera by ``camera_timeout_s`` (then CAMERA_FAILED), the desktop by
  ``desktop_timeout_s`` (then ``DesktopLost``, back to CONNECTING).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from rig.errors import LocalProtocolError
from rig.protocol import events as ev
from rig.protocol import messages as m
from rig.protocol.timers import RtoEstimator, Timers

CONNECTING, READY, SHOOTING, ENDED = "CONNECTING", "READY", "SHOOTING", "ENDED"

# (state, event) -> new state; any pair not listed is a bug on our side (LocalProtocolError).
TRANSITIONS: dict[tuple[str, str], str] = {
    (CONNECTING, "hello_ack"): READY,
    (READY, "hello_ack"): READY,
    (SHOOTING, "hello_ack"): SHOOTING,
    (CONNECTING, "shoot"): SHOOTING,
    (READY, "shoot"): SHOOTING,
    (SHOOTING, "shot_done_connected"): READY,
    (SHOOTING, "shot_done_lost"): CONNECTING,
    (READY, "desktop_timeout"): CONNECTING,
    (SHOOTING, "desktop_timeout"): SHOOTING,
    (CONNECTING, "bye"): ENDED,
    (READY, "bye"): ENDED,
    (SHOOTING, "bye"): SHOOTING,  # the shot finishes first; ENDED when it is reported
    (ENDED, "bye"): ENDED,
    (ENDED, "reopen"): READY,  # the desktop asks again (a resumed session)
}


@dataclass
class Result:
    """The outcome of one finished attempt (persisted)."""

    saved: bool
    sha256: str = ""
    size: int = 0
    reason: str = ""
    stored: bool = False  # the desktop confirmed it (HTTP answer or STORED)


@dataclass
class _Upload:
    due_s: float | None  # when to (re)request it; None while the adapter is uploading
    tries: int = 0
    backoff_s: float = 0.2


@dataclass
class PhoneState:
    """What survives a restart of the phone (``snapshot`` / ``from_snapshot``)."""

    cursor: int = -1
    results: dict[tuple[int, int], Result] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "cursor": self.cursor,
            "results": [[i, a, vars(r)] for (i, a), r in sorted(self.results.items())],
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> PhoneState:
        results = {(int(i), int(a)): Result(**r) for i, a, r in obj.get("results", [])}
        return cls(cursor=int(obj.get("cursor", -1)), results=results)


class PhoneMachine:
    """Sans-I/O phone endpoint; ``desktop_addr`` is opaque (whatever the adapter uses)."""

    def __init__(
        self,
        key: bytes,
        session: bytes,
        desktop_addr: Any,
        initial_seq: int,
        state: PhoneState | None = None,
        timers: Timers | None = None,
    ) -> None:
        self.timers = timers or Timers()
        self.codec = m.Codec(key, session, m.ROLE_PHONE, next_seq=initial_seq)
        self.desktop_addr = desktop_addr
        self.persist = state or PhoneState()
        self.state = CONNECTING
        self.connected = False
        self.shooting: tuple[int, int, float] | None = None  # (index, attempt, started_s)
        self.uploads: dict[tuple[int, int], _Upload] = {}
        self.stale = 0  # authenticated but irrelevant messages (late photos, old acks)
        self.version = 0  # bumped on every change of the persisted state: persist when it moves
        self.desktop_minor = 0  # negotiated in HELLO_ACK (v1.1)
        self.ended = False  # the desktop said BYE and has asked for nothing since
        self._events: list[ev.Event] = []
        self._out: list[tuple[bytes, Any]] = []
        self._rto = RtoEstimator(self.timers)
        self._nonce = initial_seq & 0xFFFFFFFF
        self._hello_due_s: float | None = None
        self._hello_sent_s = -1.0
        self._hello_resent = False
        self._nonce_acked = True  # no HELLO outstanding: the next one starts a new exchange
        self._last_heard_s: float | None = None

    # ------------------------------------------------------------------ plumbing
    @property
    def rejected(self) -> dict[str, int]:
        return dict(self.codec.rejected or {})

    @property
    def next_seq(self) -> int:
        return self.codec.next_seq

    def snapshot(self) -> dict[str, Any]:
        """The persisted state as JSON-able data (save it whenever ``version`` changed)."""
        return self.persist.to_json()

    def next_events(self) -> list[ev.Event]:
        out, self._events = self._events, []
        return out

    def datagrams_to_send(self) -> list[tuple[bytes, Any]]:
        out, self._out = self._out, []
        return out

    def _send(self, msg: m.Message) -> None:
        self._out.append((self.codec.seal(msg), self.desktop_addr))

    def _go(self, event: str) -> None:
        try:
            self.state = TRANSITIONS[(self.state, event)]
        except KeyError:
            raise LocalProtocolError(f"phone: '{event}' is illegal in state {self.state}") from None

    # ------------------------------------------------------------------ inputs
    def start(self, now: float) -> None:
        """Begin contacting the desktop (call once after construction or a restart)."""
        self._send_hello(now)

    def receive_datagram(self, data: bytes, addr: Any, now: float) -> None:
        msg = self.codec.open(data)
        if msg is None:
            return
        self._last_heard_s = now
        if isinstance(msg, m.HelloAck):
            self._on_hello_ack(msg, now)
        elif isinstance(msg, m.Capture):
            self._reopen(now)
            self._on_capture(msg, now)
        elif isinstance(msg, m.Stored):
            self._mark_stored(msg.index, msg.attempt, msg.sha256)
        elif isinstance(msg, m.Resync):
            self._reopen(now)
            self._adopt_cursor(msg.next)  # the desktop's cursor wins, always (§7.3)
            self._send(m.ResyncAck(next=msg.next))
        elif isinstance(msg, m.Bye):
            self._on_bye(msg)

    def _on_bye(self, msg: m.Bye) -> None:
        self._send(m.ByeAck())
        if not self.ended:
            self.ended = True
            self._events.append(ev.SessionEnded(msg.reason))
        self._go("bye")
        self.connected = False
        self._hello_due_s = None  # no keepalives: the session is over until asked again

    def _reopen(self, now: float) -> None:
        """A CAPTURE or RESYNC after BYE: the desktop resumed the session."""
        if self.ended:
            self.ended = False
            self.connected = True
            if self.state == ENDED:
                self._go("reopen")
            self._hello_due_s = now + self.timers.keepalive_s

    def photo_saved(self, index: int, attempt: int, sha256: str, size: int, now: float) -> None:
        """The camera produced a photo and it is saved durably on the phone."""
        if not self._is_shooting(index, attempt):
            self.stale += 1  # too late: the attempt already timed out and was reported failed
            return
        self._finish(index, attempt, Result(saved=True, sha256=sha256, size=size))
        if self.persist.cursor == index:  # not a retake, and no RESYNC moved it meanwhile (§7.1)
            self.persist.cursor = index + 1
        self.version += 1
        self._send(m.PhotoReady(index=index, attempt=attempt, sha256=sha256, size=size))
        self._request_upload(index, attempt, now)

    def camera_failed(self, index: int, attempt: int, reason: str, now: float) -> None:
        if not self._is_shooting(index, attempt):
            self.stale += 1
            return
        reason = printable_reason(reason)
        self._finish(index, attempt, Result(saved=False, reason=reason))
        self._send(m.CameraFailedMsg(index=index, attempt=attempt, reason=reason))

    def upload_finished(
        self, index: int, attempt: int, ok: bool, now: float, refused: bool = False
    ) -> None:
        """The adapter's upload of (index, attempt) ended; failures are retried with backoff.

        ``refused``: the desktop answered that retrying cannot help (§5.3: 401, 403, 412, 413):
        the upload is dropped until a later CAPTURE poll asks for the photo again.
        """
        up = self.uploads.get((index, attempt))
        result = self.persist.results.get((index, attempt))
        if up is None or result is None:
            return
        if ok:
            self._mark_stored(index, attempt, result.sha256)
            return
        up.tries += 1
        if refused or up.tries >= self.timers.upload_retries:
            del self.uploads[(index, attempt)]  # a later CAPTURE poll restarts it
            return
        up.due_s = now + up.backoff_s
        up.backoff_s = min(self.timers.upload_retry_max_s, up.backoff_s * 2)

    # ------------------------------------------------------------------ timers
    def get_timer(self) -> float | None:
        times = [self._hello_due_s]
        if self._last_heard_s is not None and self.connected:
            times.append(self._last_heard_s + self.timers.desktop_timeout_s)
        if self.shooting is not None:
            times.append(self.shooting[2] + self.timers.camera_timeout_s)
        times.extend(u.due_s for u in self.uploads.values())
        present = [t for t in times if t is not None]
        return min(present) if present else None

    def handle_timer(self, now: float) -> None:
        if self.shooting is not None and now >= self.shooting[2] + self.timers.camera_timeout_s:
            index, attempt, _ = self.shooting
            self.camera_failed(index, attempt, "camera timeout", now)
        heard = self._last_heard_s
        if self.connected and heard is not None and now >= heard + self.timers.desktop_timeout_s:
            self.connected = False
            self._go("desktop_timeout")
            self._events.append(ev.DesktopLost())
            self._rto = RtoEstimator(self.timers)
            self._hello_due_s = now
            self._nonce_acked = True  # a new exchange: a new nonce
        if self._hello_due_s is not None and now >= self._hello_due_s:
            self._send_hello(now)
        for key, up in list(self.uploads.items()):
            if up.due_s is not None and now >= up.due_s:
                up.due_s = None
                r = self.persist.results[key]
                self._events.append(ev.UploadRequested(key[0], key[1], r.sha256, r.size))

    # ------------------------------------------------------------------ internals
    def _send_hello(self, now: float) -> None:
        """HELLO: a retransmission keeps its nonce; a new exchange (start, keepalive, after
        DesktopLost) takes a new one, so a late HELLO_ACK to an old one is recognised (§7.2)."""
        retransmit = not self.connected and not self._nonce_acked
        if not retransmit or self._hello_sent_s < 0:
            self._nonce = (self._nonce + 1) & 0xFFFFFFFF
            self._nonce_acked = False
            self._hello_resent = False
        else:
            self._hello_resent = True
        shot_s = max(1, min(3600, math.ceil(self.timers.camera_timeout_s)))
        self._send(m.Hello(self.persist.cursor, self._nonce, minor=m.MINOR, shot_s=shot_s))
        self._hello_sent_s = now
        if self.connected:
            heard = self._last_heard_s if self._last_heard_s is not None else now
            self._hello_due_s = max(now, heard) + self.timers.keepalive_s
        else:
            self._hello_due_s = now + self._rto.rto_s
            self._rto.backoff()

    def _on_hello_ack(self, msg: m.HelloAck, now: float) -> None:
        if msg.nonce != self._nonce or self._nonce_acked:
            self.stale += 1  # a late answer to an earlier HELLO: its `next` may be stale
            return
        self._nonce_acked = True
        if not self.connected and not self._hello_resent:
            self._rto.sample(now - self._hello_sent_s)  # Karn: only from a HELLO sent once
        self.desktop_minor = min(msg.minor, m.MINOR) if msg.minor is not None else 0
        self.ended = False
        first = not self.connected
        self.connected = True
        self._go("reopen" if self.state == ENDED else "hello_ack")
        self._hello_due_s = now + self.timers.keepalive_s
        # The desktop is authoritative about what it holds, except that an index we already
        # finished will be served from our results, so it must not pull the cursor back.
        finished = any(i == msg.next and r.saved for (i, _), r in self.persist.results.items())
        if msg.next >= 0 and msg.next != self.persist.cursor and not finished:
            self._adopt_cursor(msg.next)
        if first:
            self._events.append(ev.Connected(msg.next))

    def _adopt_cursor(self, new: int) -> None:
        old = self.persist.cursor
        if new != old:
            self.persist.cursor = new
            self.version += 1
            self._events.append(ev.Resynced(old, new))

    def _on_capture(self, msg: m.Capture, now: float) -> None:
        key = (msg.index, msg.attempt)
        done = self.persist.results.get(key)
        if done is not None:
            self._repeat_outcome(msg, done, now)
        elif self.shooting is not None and self.shooting[:2] == key:
            self._send(m.CaptureAck(index=msg.index, attempt=msg.attempt, state=m.ST_SHOOTING))
        elif self.shooting is not None:
            i, a, _ = self.shooting
            self._send(m.Error(code=m.ERR_BUSY, index=i, attempt=a, cursor=self.persist.cursor))
        elif self._may_shoot(msg.index, msg.attempt):
            self.shooting = (msg.index, msg.attempt, now)
            self._go("shoot")
            self._send(m.CaptureAck(index=msg.index, attempt=msg.attempt, state=m.ST_SHOOTING))
            self._events.append(ev.ShootRequested(msg.index, msg.attempt, msg.tag))
        else:
            self._send(
                m.Error(
                    code=m.ERR_GAP, index=msg.index, attempt=msg.attempt, cursor=self.persist.cursor
                )
            )

    def _may_shoot(self, index: int, attempt: int) -> bool:
        cursor = self.persist.cursor
        if cursor < 0:
            return False
        if index == cursor:
            return True
        # A retake of any index finished before, with a higher attempt than every finished one:
        # never a re-shot, and no RESYNC needed however far the cursor has moved on (v1.1).
        tried = [a for (i, a) in self.persist.results if i == index]
        return index < cursor and bool(tried) and attempt > max(tried)

    def _repeat_outcome(self, msg: m.Capture, done: Result, now: float) -> None:
        state = m.ST_SAVED if done.saved else m.ST_FAILED
        self._send(m.CaptureAck(index=msg.index, attempt=msg.attempt, state=state))
        if not done.saved:
            self._send(m.CameraFailedMsg(index=msg.index, attempt=msg.attempt, reason=done.reason))
            return
        self._send(m.PhotoReady(msg.index, msg.attempt, done.sha256, done.size))
        # The desktop asks again, so it does not hold the photo (e.g. it restarted): re-upload
        # unless an upload is already running or scheduled.
        if (msg.index, msg.attempt) not in self.uploads:
            done.stored = False
            self._request_upload(msg.index, msg.attempt, now)

    def _request_upload(self, index: int, attempt: int, now: float) -> None:
        r = self.persist.results[(index, attempt)]
        self.uploads[(index, attempt)] = _Upload(due_s=None)
        self._events.append(ev.UploadRequested(index, attempt, r.sha256, r.size))

    def _mark_stored(self, index: int, attempt: int, sha256: str) -> None:
        r = self.persist.results.get((index, attempt))
        if r is None or not r.saved or r.sha256 != sha256:
            self.stale += 1
            return
        self.uploads.pop((index, attempt), None)
        if not r.stored:
            r.stored = True  # not worth a save of its own: losing it costs one idempotent re-upload
            self._events.append(ev.PhotoStored(index, attempt))

    def _is_shooting(self, index: int, attempt: int) -> bool:
        return self.shooting is not None and self.shooting[:2] == (index, attempt)

    def _finish(self, index: int, attempt: int, result: Result) -> None:
        self.persist.results[(index, attempt)] = result
        self.version += 1
        self.shooting = None
        self._go("shot_done_connected" if self.connected else "shot_done_lost")
        if self.ended:
            self._go("bye")
        self._prune()

    def _prune(self) -> None:
        excess = len(self.persist.results) - self.timers.results_kept
        if excess > 0:
            for key in sorted(self.persist.results)[:excess]:
                self.persist.results.pop(key)
                self.uploads.pop(key, None)


def printable_reason(reason: str) -> str:
    """Printable ASCII, at most 200 characters (docs/protocol.md §4.2): always fits a datagram."""
    text = "".join(c if " " <= c <= "~" else "?" for c in reason)
    return text[:200]
