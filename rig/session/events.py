"""Session events: what the runner emits and the GUI, the CLI and the event log consume.

Events are past-tense facts (STYLE.md). The runner never renders anything itself;
views subscribe to an ``EventBus``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


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
class PhotoStored(SessionEvent):
    idx: int
    attempt: int
    sha256: str
    received_at: float = 0.0  # when the camera side handed the photo over


@dataclass(frozen=True)
class PhotoPending(SessionEvent):
    """The photo stays on the phone (CheXpeditor app) until ``rig import-photos``."""

    idx: int
    attempt: int
    name: str


@dataclass(frozen=True)
class PhotoVerified(SessionEvent):
    idx: int
    attempt: int
    psnr_db: float | None
    ssim: float | None
    reproj_err_px: float | None
    aligned_sha256: str | None = None


@dataclass(frozen=True)
class PhotoRejected(SessionEvent):
    idx: int
    attempt: int
    reason: str


@dataclass(frozen=True)
class CaptureFailed(SessionEvent):
    idx: int
    attempt: int
    reason: str


@dataclass(frozen=True)
class PhoneLost(SessionEvent):
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
    state: str  # finished | stopped | failed
    reconciliation: dict[str, Any]


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
