"""The session, item and capture state machines: named states and one transition table each.

Rules / theory of operation:

* The database is the session's memory, and these tables are the only way its states
  change: ``rig.session.store`` looks every change up here, applies it and writes its
  event row in the same transaction. A pair not listed is a bug or an impossible
  request and raises ``TransitionError``; nothing changes.
* A session is ``planned`` until a runner starts it, ``running`` while one works on it,
  ``paused`` when it waits for someone (the operator pressed pause or stop, the camera
  is lost and being retried, photos wait on a CheXpeditor phone for ``rig
  import-photos``: the ``reason`` column says which), and ends ``finished`` (every item
  has one verified, stored photo), ``failed`` (it cannot go on, or items stayed
  unverified: ``reason`` says why) or ``aborted`` (given up by the operator; final).
* ``running`` may start again: a process killed mid-session leaves it ``running``, and
  ``rig session resume`` adopts it. ``failed`` and ``finished`` sessions may be resumed
  too (a camera back, a photo re-registered by ``rig register``).
* An item is ``pending`` until its first capture request, ``shown`` while attempts run,
  then ``verified`` (one accepted photo) or ``failed`` (no verified photo after the
  plan's attempts, or its frame could not be prepared). ``rig register`` may take a
  verified item back to ``shown`` (its photo no longer passes) or verify a failed one.
* A capture is one attempt: ``requested`` before the camera is asked (so a crash leaves
  a trace), then ``stored`` (photo in objects/), ``pending`` (the photo stays on a
  CheXpeditor phone), or ``failed``; a stored photo is registered to ``verified`` or
  ``rejected``, and re-registration may flip those two.
"""

from __future__ import annotations

from enum import StrEnum

from rig.errors import TransitionError


class SessionState(StrEnum):
    PLANNED = "planned"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    FAILED = "failed"
    ABORTED = "aborted"


class ItemState(StrEnum):
    PENDING = "pending"
    SHOWN = "shown"
    VERIFIED = "verified"
    FAILED = "failed"


class CaptureState(StrEnum):
    REQUESTED = "requested"
    STORED = "stored"
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"
    FAILED = "failed"


# Reasons a paused session gives, where code (not only people) reads them.
STOPPED_BY_OPERATOR = "stopped by operator"
PAUSED_BY_OPERATOR = "paused by operator"
AWAITING_IMPORT = "awaiting rig import-photos"
INTERRUPTED = "interrupted"

S, It, C = SessionState, ItemState, CaptureState

# (state, event) -> new state, and the kind of the event row the change writes.
SESSION_TRANSITIONS: dict[tuple[SessionState, str], SessionState] = {
    **{(s, "start"): S.RUNNING for s in (S.PLANNED, S.RUNNING, S.PAUSED, S.FAILED, S.FINISHED)},
    (S.RUNNING, "pause"): S.PAUSED,
    (S.PAUSED, "pause"): S.PAUSED,  # a second reason while paused (e.g. camera lost, then stop)
    (S.PAUSED, "resume"): S.RUNNING,
    (S.RUNNING, "finish"): S.FINISHED,
    (S.PAUSED, "finish"): S.FINISHED,  # the import of the last waiting photos completes it
    **{(s, "fail"): S.FAILED for s in (S.PLANNED, S.RUNNING, S.PAUSED)},
    **{(s, "abort"): S.ABORTED for s in (S.PLANNED, S.RUNNING, S.PAUSED, S.FAILED)},
}
SESSION_EVENT_KINDS = {
    "start": "SessionStarted",
    "pause": "SessionPaused",
    "resume": "SessionResumed",
    "finish": "SessionFinished",
    "fail": "SessionFailed",
    "abort": "SessionAborted",
}

ITEM_TRANSITIONS: dict[tuple[ItemState, str], ItemState] = {
    (It.PENDING, "show"): It.SHOWN,
    (It.SHOWN, "show"): It.SHOWN,
    (It.PENDING, "verify"): It.VERIFIED,  # a stored photo registered by rig register / import
    (It.SHOWN, "verify"): It.VERIFIED,
    (It.FAILED, "verify"): It.VERIFIED,
    (It.VERIFIED, "reopen"): It.SHOWN,
    (It.PENDING, "give_up"): It.FAILED,
    (It.SHOWN, "give_up"): It.FAILED,
}

CAPTURE_TRANSITIONS: dict[tuple[CaptureState | None, str], CaptureState] = {
    (None, "request"): C.REQUESTED,
    (C.REQUESTED, "store"): C.STORED,
    (C.PENDING, "store"): C.STORED,  # rig import-photos brings the photo in
    (C.REQUESTED, "pend"): C.PENDING,
    (C.REQUESTED, "fail"): C.FAILED,
    (C.STORED, "accept"): C.VERIFIED,
    (C.STORED, "reject"): C.REJECTED,
    (C.VERIFIED, "accept"): C.VERIFIED,  # registered again (rig register)
    (C.VERIFIED, "reject"): C.REJECTED,
    (C.REJECTED, "accept"): C.VERIFIED,
    (C.REJECTED, "reject"): C.REJECTED,
}
CAPTURE_EVENT_KINDS = {
    "request": "CaptureRequested",
    "store": "CaptureStored",
    "pend": "CapturePending",
    "fail": "CaptureFailed",
    "accept": "CaptureVerified",
    "reject": "CaptureRejected",
}


def next_session_state(state: SessionState, event: str) -> SessionState:
    new = SESSION_TRANSITIONS.get((state, event))
    if new is None:
        raise TransitionError(f"the session is {state}: it cannot {event}")
    return new


def next_item_state(state: ItemState, event: str) -> ItemState:
    new = ITEM_TRANSITIONS.get((state, event))
    if new is None:
        raise TransitionError(f"the item is {state}: it cannot {event.replace('_', ' ')}")
    return new


def next_capture_state(state: CaptureState | None, event: str) -> CaptureState:
    new = CAPTURE_TRANSITIONS.get((state, event))
    if new is None:
        raise TransitionError(f"the capture is {state or 'new'}: it cannot {event}")
    return new
