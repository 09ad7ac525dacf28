"""How a session gets a photo: one ``Capturer`` interface, several backends.

- ``DeviceCapturer`` wraps a ``rig.devices`` ``Camera`` (simulated camera, USB camera,
  gphoto): it is asked to photograph the frame on the screen.
- ``ProtocolCapturer`` (rig.session.phone) drives a paired phone through the capture
  protocol of docs/protocol.md, in-process simulated or real.
- ``ChexpeditorCapturer`` (rig.session.chexpeditor) triggers an unmodified CheXpeditor app.

Which one a camera URL means is looked up in the one registry of camera URLs
(``rig.devices.urls.CAMERA_BACKENDS``). Every backend raises ``PhoneLostError`` when the
camera side stops answering (the session pauses and retries the same attempt: the
protocol makes that idempotent) and ``CameraFailedError`` when the camera reports a
failed shot (a new attempt); any other error during a capture is treated as lost.

Timeouts compose: a backend states its own ``limits`` (how long a shot and a transfer
may take); the session's deadline for one capture is their sum plus a margin, and is
extended whenever the backend reports that the capture moved on (``CapturePhase``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rig.devices.camera import Camera
from rig.devices.urls import camera_backend, load_factory, open_camera, parse_camera_url
from rig.errors import CameraFailedError, DeviceError, RigError, UsageError
from rig.session.clock import Clock
from rig.session.plan import CapturePlan


@dataclass(frozen=True)
class CaptureRequest:
    session_id: str
    idx: int
    attempt: int
    shown_frame: np.ndarray  # the exact screen frame on display (uint8, BGR)
    shown_at: float  # unix time it was presented
    tag: dict[str, Any] = field(default_factory=dict)  # what the camera may write in EXIF


@dataclass(frozen=True)
class CapturedPhoto:
    jpeg: bytes
    captured_at: float
    device: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None  # where the capturer already stored it durably, if it did
    pending: str | None = None  # the photo stays on the phone under this name (CheXpeditor)
    # Pipelined (docs/protocol.md §6.4): the photo is durable on the camera side and its bytes
    # arrive later; awaiting this gives the photo (or raises CameraFailedError: retake).
    later: Awaitable[CapturedPhoto] | None = None


class CapturePhase(StrEnum):
    """How far a capture got, as the backend reports it. Each report gives the capture the
    whole of that phase's limit from now on: a transfer reported again as more bytes arrive
    lives as long as its bytes keep coming (the protocol's upload wait does the same)."""

    SHOOTING = "shooting"  # the camera acknowledged the request and is taking the photo
    TRANSFERRING = "transferring"  # the photo exists; it is being uploaded / read out


@dataclass(frozen=True)
class CaptureLimits:
    """The longest a backend's shot and transfer may legitimately take, in seconds."""

    shot_s: float
    transfer_s: float = 0.0
    margin_s: float = 5.0

    def deadline_s(self, phase: CapturePhase | None = None) -> float:
        """Time allowed from the start of ``phase`` (None: the request) to the photo."""
        if phase == CapturePhase.TRANSFERRING:
            return self.transfer_s + self.margin_s
        return self.shot_s + self.transfer_s + self.margin_s


ProgressCallback = Callable[[CapturePhase], None]


class Capturer(Protocol):
    """A session's camera. Constructors are inert; ``start`` opens, ``stop`` closes."""

    @property
    def limits(self) -> CaptureLimits: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def capture(self, request: CaptureRequest, progress: ProgressCallback) -> CapturedPhoto:
        """One photo of ``request.shown_frame`` for (idx, attempt); ``progress`` hears of phases."""
        ...

    async def recover(self, idx: int, attempt: int) -> CapturedPhoto | None:
        """A photo of exactly (idx, attempt) that reached durable storage before a crash."""
        ...


async def capture_before_deadline(
    capturer: Capturer, request: CaptureRequest, clock: Clock, floor_s: float | None = None
) -> CapturedPhoto:
    """``capturer.capture`` bounded by the camera's own limits (never less than ``floor_s``),
    the deadline extended whenever the camera reports progress; ``TimeoutError`` past it.

    The limits are read again at each report: a camera may learn its own (a phone announces
    its camera timeout when it connects, possibly during the first capture).
    """
    limits, start = capturer.limits, clock.now()
    deadline = start + max(floor_s or 0.0, limits.deadline_s())

    def progress(phase: CapturePhase) -> None:
        nonlocal deadline, limits
        limits = capturer.limits
        deadline = max(deadline, clock.now() + limits.deadline_s(phase))

    task = asyncio.ensure_future(capturer.capture(request, progress))
    try:
        while not task.done():
            remaining = deadline - clock.now()
            if remaining <= 0:
                raise TimeoutError(
                    f"no photo within {clock.now() - start:.0f} s (camera limits: shot "
                    f"{limits.shot_s:g} s + transfer {limits.transfer_s:g} s "
                    f"+ {limits.margin_s:g} s)"
                )
            timer = asyncio.ensure_future(clock.sleep(remaining))
            await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
            timer.cancel()
        return task.result()
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


DEVICE_LIMITS = CaptureLimits(shot_s=30.0, transfer_s=0.0, margin_s=5.0)


class DeviceCapturer:
    """A camera device that photographs what the display shows (``rig.devices`` Camera)."""

    def __init__(
        self,
        camera: Camera,
        url: str,
        limits: CaptureLimits = DEVICE_LIMITS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.camera = camera
        self.url = url
        self._limits = limits
        self.clock = clock

    @property
    def limits(self) -> CaptureLimits:
        return self._limits

    async def start(self) -> None:
        await self.camera.connect()

    async def stop(self) -> None:
        await self.camera.close()

    async def recover(self, idx: int, attempt: int) -> CapturedPhoto | None:
        return None  # a camera device keeps nothing between runs

    async def capture(self, request: CaptureRequest, progress: ProgressCallback) -> CapturedPhoto:
        try:
            photo = await self.camera.capture(request.shown_frame)
        except DeviceError as exc:
            raise CameraFailedError(f"{self.url}: {exc.message}") from exc
        if not photo.jpeg:
            raise CameraFailedError(f"{self.url}: camera returned no JPEG")
        device = {"camera": self.url, **photo.device}
        if photo.truth:  # the simulated camera's exact geometry: the oracle for registration QA
            device["truth"] = photo.truth
        return CapturedPhoto(photo.jpeg, photo.captured_at or self.clock(), device)


@dataclass(frozen=True)
class CapturerEnv:
    """What building a capturer needs from the session around it."""

    session_dir: Path  # the session's own folder (protocol uploads and state)
    pairing: dict[str, Any]  # the stored pairing record ({} when there is none)
    screen_tap: Callable[[float], np.ndarray | None] | None = None  # simulation: unix time ->
    # the frame on screen then (rig.devices.display.Display.tap)
    on_pairing: Callable[[str, Any], None] | None = None  # (QR payload, PairingRecord)
    on_warning: Callable[[str], None] | None = None
    on_paired: Callable[[str], None] | None = None  # (peer): whoever calls on_pairing calls it


class CapturerSpec(Protocol):
    """A camera URL, validated; it builds the session's capturer later (nothing opened)."""

    @property
    def pairs(self) -> bool:
        """True if the session stores a pairing record for it (protocol phones)."""
        ...

    def build(self, env: CapturerEnv) -> Capturer: ...


@dataclass(frozen=True)
class DeviceSpec:
    """A ``rig.devices`` camera URL (sim:, usb:, gphoto:) as the session's camera."""

    url: str
    pairs: bool = False

    def build(self, env: CapturerEnv) -> Capturer:
        return DeviceCapturer(open_camera(self.url), self.url)


SpecFactory = Callable[[Any, CapturePlan], CapturerSpec]


def capturer_spec(plan: CapturePlan) -> CapturerSpec:
    """Validate ``plan.camera`` through the camera-URL registry, before anything is stored.

    Device cameras are constructed (constructors are inert, so a preset, option or
    path is checked without touching hardware); protocol cameras check their options,
    presets and fault specs. Any problem is a usage error naming the URL.
    """
    try:
        url = parse_camera_url(plan.camera)
        backend = camera_backend(url)
        if backend.device is not None:
            open_camera(url)
            return DeviceSpec(plan.camera)
        assert backend.session is not None
        factory: SpecFactory = load_factory(backend.session)
        return factory(url, plan)
    except UsageError:
        raise
    except RigError as exc:
        raise UsageError(f"--camera '{plan.camera}': {exc.message}") from exc
