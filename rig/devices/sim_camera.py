"""``SimCamera``: the simulated camera (rig.camsim) behind the ``Camera`` interface.

It photographs the frame it is handed (what the display shows) through the
preset's known geometry and returns the ground truth with the photo. Instant
apart from the simulation itself, which runs in a worker thread so the event loop
stays responsive; captures are serialised so shot k always uses sub-seed (seed, k).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from rig import camsim
from rig.camsim.params import CameraParams
from rig.devices.camera import CapturedPhoto
from rig.errors import DeviceError


class SimCamera:
    def __init__(self, params: CameraParams, seed: int = 0, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.params = params
        self.seed = seed
        self.clock = clock
        self._camera: camsim.SimCamera | None = None
        self._closed = False
        self._lock = asyncio.Lock()

    async def connect(self) -> None:
        if self._camera is None:
            self._camera = camsim.SimCamera(self.params, seed=self.seed)
        self._closed = False

    async def close(self) -> None:
        self._camera = None
        self._closed = True

    def apply_overrides(self, overrides: dict[str, Any]) -> None:
        """Change conditions (dotted camsim keys, e.g. from SimRigController.overrides())
        for the next photos; the shot counter and seed carry on."""
        self.params = self.params.with_values(overrides, "sim camera overrides")
        if self._camera is not None:
            self._camera.params = self.params

    async def capture(self, shown_frame: np.ndarray | None = None) -> CapturedPhoto:
        camera = self._camera
        if camera is None:
            state = "closed" if self._closed else "not connected (call connect() first)"
            raise DeviceError(f"sim camera ({self.params.name}) is {state}")
        if shown_frame is None:
            raise DeviceError("sim camera photographs the shown frame: pass it to capture()")
        async with self._lock:
            requested = self.clock()
            photo = await asyncio.to_thread(camera.capture, shown_frame)
            image = await asyncio.to_thread(lambda: photo.image)
        device = {"backend": "sim", "preset": self.params.name, "seed": self.seed,
                  "shot": photo.truth["shot"], "resolution": photo.truth["image_size"]}
        return CapturedPhoto(jpeg=photo.jpeg, image=image, captured_at=max(requested,
                             self.clock()), device=device, truth=photo.truth)
