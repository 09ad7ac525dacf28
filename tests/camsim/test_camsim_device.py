"""The device adapter: rig.devices.sim_camera.SimCamera behind the Camera protocol."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from rig.camsim import load_preset
from rig.devices.camera import Camera
from rig.devices.sim_camera import SimCamera
from rig.errors import DeviceError

SMALL = {"sensor.width_px": 320, "sensor.height_px": 240, "display.pixel_pitch_mm": 2.768}


def make(seed=2, clock=lambda: 1000.0):
    return SimCamera(load_preset("tripod-ideal").with_values(SMALL), seed, clock=clock)


def test_is_a_camera_and_photographs_the_shown_frame():
    async def go():
        cam = make()
        assert isinstance(cam, Camera)
        with pytest.raises(DeviceError, match="not connected"):
            await cam.capture(np.zeros((108, 192), np.uint8))
        await cam.connect()
        with pytest.raises(DeviceError, match="shown frame"):
            await cam.capture(None)
        dark = await cam.capture(np.zeros((108, 192), np.uint8))
        bright = await cam.capture(np.full((108, 192), 255, np.uint8))
        await cam.close()
        return dark, bright

    dark, bright = asyncio.run(go())
    assert bright.image.mean() > dark.image.mean() + 50
    assert dark.captured_at == 1000.0 and dark.truth is not None
    assert (dark.truth["shot"], bright.truth["shot"]) == (0, 1)
    assert dark.device["backend"] == "sim"


def test_replays_are_identical_and_overrides_apply():
    frame = np.full((108, 192), 90, np.uint8)

    async def shoot(overrides=None):
        cam = make()
        await cam.connect()
        if overrides:
            cam.apply_overrides(overrides)
        photo = await cam.capture(frame)
        await cam.close()
        return photo

    a, b = asyncio.run(shoot()), asyncio.run(shoot())
    hazy = asyncio.run(shoot({"ambient.haze": 0.2}))
    assert a.jpeg == b.jpeg
    assert hazy.image.mean() > a.image.mean() + 10
    assert hazy.truth["params"]["ambient"]["haze"] == 0.2
