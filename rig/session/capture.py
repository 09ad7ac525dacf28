"""How a session gets a photo: one ``Capturer`` interface, several backends.

- ``DeviceCapturer`` wraps a camera device (``rig.devices``: simulated camera, USB
  camera): it is asked to photograph the frame on the screen.
- ``ProtocolCapturer`` (rig.session.phone) drives a paired phone through the capture
  protocol of docs/protocol.md, in-process simulated or real.
Each raises ``PhoneLostError`` when the camera side stops answering (the session
pauses and retries the same attempt: the protocol makes that idempotent) and
``CameraFailedError`` when the camera reports a failed shot (a new attempt).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rig.errors import DeviceError


class PhoneLostError(DeviceError):
    """The camera side stopped answering within the bounded waits."""


class CameraFailedError(DeviceError):
    """The camera answered but could not take the photo."""


@dataclass(frozen=True)
class CaptureRequest:
    session_id: str
    idx: int
    attempt: int
    shown_frame: np.ndarray  # the exact screen frame on display (uint8)
    shown_at: float  # unix time it was presented
    tag: dict[str, Any] = field(default_factory=dict)  # what the camera may write in EXIF


@dataclass(frozen=True)
class CapturedPhoto:
    jpeg: bytes
    captured_at: float
    device: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None  # where the capturer already stored it durably, if it did
    pending: str | None = None  # the photo stays on the phone under this name (CheXpeditor)


class Capturer(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def capture(self, request: CaptureRequest) -> CapturedPhoto: ...


class DeviceCapturer:
    """A camera device that photographs what the display shows (``rig.devices`` Camera)."""

    def __init__(self, camera: Any, url: str) -> None:
        self.camera = camera
        self.url = url

    async def start(self) -> None:
        await self.camera.connect()

    async def stop(self) -> None:
        await self.camera.close()

    async def capture(self, request: CaptureRequest) -> CapturedPhoto:
        try:
            photo = await self.camera.capture(request.shown_frame)
        except DeviceError as exc:
            raise CameraFailedError(f"{self.url}: {exc.message}") from exc
        jpeg = getattr(photo, "jpeg", None)
        if not jpeg:
            raise CameraFailedError(f"{self.url}: camera returned no JPEG")
        captured_at = float(getattr(photo, "captured_at", 0.0) or time.time())
        device = dict(getattr(photo, "device", {}) or {})
        device.setdefault("camera", self.url)
        truth = getattr(photo, "truth", None)
        if truth:  # the simulated camera's exact geometry: the oracle for registration QA
            device["truth"] = truth
        return CapturedPhoto(jpeg=jpeg, captured_at=captured_at, device=device)
