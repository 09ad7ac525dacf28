"""Events the protocol machines emit (past tense; docs/protocol.md §8)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    """Base of all protocol events."""


# ---- desktop side
@dataclass(frozen=True)
class PeerHello(Event):
    cursor: int


@dataclass(frozen=True)
class CaptureAcked(Event):
    index: int
    attempt: int
    state: int


@dataclass(frozen=True)
class PhotoAnnounced(Event):
    index: int
    attempt: int
    sha256: str
    size: int


@dataclass(frozen=True)
class PhotoHeld(Event):
    """v1.2 pipelining (§6.4): the phone saved the photo durably and announced it; the capture
    is closed and the photo's upload and verification go on while the next item is shot."""

    index: int
    attempt: int
    sha256: str
    size: int


@dataclass(frozen=True)
class PhotoVerified(Event):
    index: int
    attempt: int
    sha256: str


@dataclass(frozen=True)
class PhoneLost(Event):
    index: int
    attempt: int
    reason: str


@dataclass(frozen=True)
class CameraFailed(Event):
    index: int
    attempt: int
    reason: str


@dataclass(frozen=True)
class ResyncNeeded(Event):
    index: int
    attempt: int
    phone_cursor: int


@dataclass(frozen=True)
class Replanned(Event):
    """The phone had passed the item: its capture travels as wire (index, wire_attempt)."""

    item: int
    attempt: int
    index: int
    wire_attempt: int


@dataclass(frozen=True)
class ByeAcked(Event):
    pass


# ---- both sides
@dataclass(frozen=True)
class Resynced(Event):
    old: int
    new: int


# ---- phone side
@dataclass(frozen=True)
class Connected(Event):
    next: int


@dataclass(frozen=True)
class DesktopLost(Event):
    pass


@dataclass(frozen=True)
class ShootRequested(Event):
    index: int
    attempt: int
    tag: str


@dataclass(frozen=True)
class UploadRequested(Event):
    index: int
    attempt: int
    sha256: str
    size: int


@dataclass(frozen=True)
class PhotoStored(Event):
    index: int
    attempt: int


@dataclass(frozen=True)
class SessionEnded(Event):
    """The desktop said BYE: no more keepalives until it asks again (v1.1, §7.5)."""

    reason: str
