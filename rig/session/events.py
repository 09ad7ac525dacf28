"""Session events: what the runner emits and the GUI, the CLI and the event log consume.

Events are past-tense facts (STYLE.md). The runner never renders anything itself;
views subscribe to an ``EventBus``. The same names are the ``kind`` of the rows
``rig.session.store`` writes to the event log, so a view of a live session and a
view of a recorded one read the same words. They are distinct from the protocol's
own events (``rig.protocol.events``: ``PhotoVerified``, ``PhoneLost`` … with
``index``): a session speaks of items (``idx``, the column of ``items``) and of its
capture attempts, whatever camera took them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rig.session.reconcile import Reconciliation


@dataclass(frozen=True)
class SessionEvent:
    session_id: str
    ts: float = field(default_factory=time.time, kw_only=True)

    @property
    def kind(self) -> str:
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}


@dataclass(frozen=True)
class SessionStarted(SessionEvent):
    items: int
    resumed_at: int  # first item without a verified photo


@dataclass(frozen=True)
class ItemShown(SessionEvent):
    idx: int
    attempt: int
    source_id: int


@dataclass(frozen=True)
class CaptureRequested(SessionEvent):
    idx: int
    attempt: int


@dataclass(frozen=True)
class CaptureStored(SessionEvent):
    idx: int
    attempt: int
    sha256: str
    received_at: float = 0.0  # when the camera side handed the photo over


@dataclass(frozen=True)
class CapturePending(SessionEvent):
    """The photo stays on the phone (CheXpeditor app) until ``rig import-photos``."""

    idx: int
    attempt: int
    name: str


@dataclass(frozen=True)
class CaptureVerified(SessionEvent):
    idx: int
    attempt: int
    psnr_db: float | None
    ssim: float | None
    reproj_err_px: float | None
    aligned_sha256: str | None = None


@dataclass(frozen=True)
class CaptureScored(SessionEvent):
    """A learned model scored a photo in the background (rig.session.scoring)."""

    idx: int
    attempt: int
    model: str  # "quality" | "classify"
    scores: dict[str, float]
    error: str | None = None


@dataclass(frozen=True)
class CaptureRejected(SessionEvent):
    idx: int
    attempt: int
    reason: str


@dataclass(frozen=True)
class CaptureFailed(SessionEvent):
    idx: int
    attempt: int
    reason: str


@dataclass(frozen=True)
class CameraLost(SessionEvent):
    """The camera side stopped answering; the session retries the same attempt."""

    idx: int
    reason: str


@dataclass(frozen=True)
class PhonePaired(SessionEvent):
    """A phone said HELLO to the session's protocol endpoint (``peer``: its host:port).

    Capturers that publish a pairing code (``CapturerEnv.on_pairing``) announce this once
    per run, so a view can take the code down and let frames through."""

    peer: str


@dataclass(frozen=True)
class ItemFailed(SessionEvent):
    """No verified photo for the item after the plan's attempts (or its frame failed)."""

    idx: int
    reason: str


@dataclass(frozen=True)
class SessionPaused(SessionEvent):
    reason: str


@dataclass(frozen=True)
class SessionResumed(SessionEvent):
    pass


@dataclass(frozen=True)
class Progressed(SessionEvent):
    verified: int
    total: int
    rate_per_h: float
    eta_s: float | None


@dataclass(frozen=True)
class SessionFinished(SessionEvent):
    """The runner ended: ``state`` is finished, failed or paused (stopped, awaiting import)."""

    state: str
    reason: str | None
    reconciliation: Reconciliation


Listener = Callable[[SessionEvent], None]


class EventBus:
    """Synchronous fan-out; a failing listener is dropped so it cannot stop a session."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self.history: list[SessionEvent] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def emit(self, event: SessionEvent) -> None:
        self.history.append(event)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                self._listeners.remove(listener)
