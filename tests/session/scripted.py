"""Simulated cameras with scripted timing and faults, behind the session's ``Capturer`` interface.

They photograph the shown frame with the real simulated camera (rig.camsim, a small
sensor so tests stay quick) and add what a slow or flaky camera does: time to
acknowledge, shoot and transfer (on the running loop's clock, so virtual in timing
tests), progress reports, lost answers, failed shots, and photos kept durably for
``recover`` (as a phone's upload store does).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from rig.camsim import load_preset
from rig.devices.sim_camera import SimCamera
from rig.errors import CameraFailedError, LocalProtocolError, PhoneLostError
from rig.session.capture import (
    CapturedPhoto,
    CaptureLimits,
    CapturePhase,
    CaptureRequest,
    ProgressCallback,
)

CAMERA_URL = "sim:tripod-ideal?sensor.width_px=1600&sensor.height_px=1200"
PLAN = dict(screen_width=1280, screen_height=800, settle_ms=0, camera=CAMERA_URL)


def small_sim_camera(seed: int = 1) -> SimCamera:
    params = load_preset("tripod-ideal").with_values(
        {"sensor.width_px": 1600, "sensor.height_px": 1200}, "test"
    )
    return SimCamera(params, seed=seed)


@dataclass
class Step:
    """What one call of ``capture`` does: wait, report, then answer or fail."""

    ack_s: float = 0.0  # until the camera acknowledges (then SHOOTING is reported)
    shot_s: float = 0.0  # until the photo exists (then TRANSFERRING is reported)
    transfer_s: float = 0.0  # until it is handed over
    transfer_every_s: float = 0.0  # report TRANSFERRING again this often (bytes arriving)
    limits_on_ack: CaptureLimits | None = None  # limits the camera learns as it acknowledges
    report: bool = True  # report progress phases
    lost: bool = False  # raise PhoneLostError at the end instead of answering
    fail: bool = False  # raise CameraFailedError at the end instead of answering
    protocol_error: bool = False  # raise LocalProtocolError (a protocol fault mid-capture)


@dataclass
class ScriptedCapturer:
    """Calls take the ``Step`` of their item and call number; unscripted calls are instant."""

    script: dict[tuple[int, int], Step] = field(default_factory=dict)  # (idx, call) -> step
    limits: CaptureLimits = field(default_factory=lambda: CaptureLimits(35.0, 60.0, 5.0))
    keep: bool = False  # keep photos durably for recover()
    kept: dict[tuple[int, int], CapturedPhoto] = field(default_factory=dict)
    hang_at: int | None = None  # this item's first shot never answers (the desktop dies)
    calls: list[tuple[int, int, float]] = field(default_factory=list)  # (idx, attempt, start)
    on_call: Callable[[CaptureRequest], None] | None = None

    def __post_init__(self) -> None:
        self.camera = small_sim_camera()

    async def start(self) -> None:
        await self.camera.connect()

    async def stop(self) -> None:
        await self.camera.close()

    async def recover(self, idx: int, attempt: int) -> CapturedPhoto | None:
        return self.kept.get((idx, attempt))

    async def capture(self, request: CaptureRequest, progress: ProgressCallback) -> CapturedPhoto:
        loop = asyncio.get_running_loop()
        call = sum(1 for c in self.calls if c[0] == request.idx)
        self.calls.append((request.idx, request.attempt, loop.time()))
        if self.on_call is not None:
            self.on_call(request)
        step = self.script.get((request.idx, call), Step())
        await asyncio.sleep(step.ack_s)
        if step.limits_on_ack is not None:  # as a phone announces its camera timeout
            self.limits = step.limits_on_ack
        if step.report:
            progress(CapturePhase.SHOOTING)
        await asyncio.sleep(step.shot_s)
        photo = await self.camera.capture(request.shown_frame)
        made = CapturedPhoto(photo.jpeg, loop.time(), {"camera": "scripted"})
        if self.keep:
            self.kept[(request.idx, request.attempt)] = made
        if self.hang_at == request.idx and call == 0:
            await asyncio.Event().wait()  # the photo is kept; the answer never comes
        if step.report:
            progress(CapturePhase.TRANSFERRING)
        await self._transfer(step, progress)
        if step.lost:
            raise PhoneLostError(f"no answer from the camera for item {request.idx}")
        if step.fail:
            raise CameraFailedError(f"shutter did not fire at item {request.idx}")
        if step.protocol_error:
            raise LocalProtocolError("capture() called while another capture is open")
        return made

    @staticmethod
    async def _transfer(step: Step, progress: ProgressCallback) -> None:
        left = step.transfer_s
        while 0 < step.transfer_every_s < left:
            await asyncio.sleep(step.transfer_every_s)
            left -= step.transfer_every_s
            if step.report:
                progress(CapturePhase.TRANSFERRING)
        await asyncio.sleep(left)
