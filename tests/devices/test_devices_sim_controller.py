"""SimRigController: the same protocol in-process, and its effect on camsim photos."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from rig.camsim import CameraParams
from rig.devices.controller import RigController
from rig.devices.sim_camera import SimCamera
from rig.devices.sim_controller import (
    SimRigController,
    camsim_overrides,
    overrides_for_conditions,
)
from rig.errors import DeviceError


def test_sim_controller_follows_the_protocol() -> None:
    async def session() -> None:
        ctl = SimRigController()
        assert isinstance(ctl, RigController)
        with pytest.raises(DeviceError, match="not connected"):
            await ctl.set(light="on")
        await ctl.connect()
        assert (await ctl.version())["proto"] == "1"
        dark = (await ctl.read_sensor())["lux"]
        assert await ctl.set(lights="on", backlight="on") == {"light": "on", "backlight": "on"}
        assert (await ctl.read_sensor())["lux"] > dark
        with pytest.raises(DeviceError, match="VALUE"):
            await ctl.set(ring="eleven")
        await ctl.close()
        with pytest.raises(DeviceError, match="closed"):
            await ctl.read_sensor()

    asyncio.run(session())


def test_overrides_are_valid_camsim_keys_and_monotonic() -> None:
    base = CameraParams()
    levels = [camsim_overrides({"light": v}) for v in (0, 64, 128, 255)]
    for overrides in levels:
        base.with_values(overrides)  # raises on an unknown or invalid key
    hazes = [o["ambient.haze"] for o in levels]
    assert hazes == sorted(hazes) and hazes[0] < hazes[-1]


def test_room_lights_change_the_simulated_photo() -> None:
    params = CameraParams().with_values({"sensor.width_px": 160, "sensor.height_px": 120,
                                         "sensor.read_noise_e": 0.0,
                                         # a 160x90 frame as big as a real monitor
                                         "display.pixel_pitch_mm": 3.0,
                                         "display.subpixels": "uniform"})
    frame = np.full((90, 160), 40, np.uint8)  # a dark image: reflections show most

    async def photo_means() -> list[float]:
        ctl, cam = SimRigController(), SimCamera(params, seed=1)
        await ctl.connect()
        await cam.connect()
        means = []
        for level in ("off", "on"):
            await ctl.set(light=level)
            cam.apply_overrides(ctl.overrides())  # what the session engine does
            image = (await cam.capture(frame)).image
            means.append(float(image[40:80, 50:110].mean()))  # the screen's middle
        return means

    off, on = asyncio.run(photo_means())
    assert on > off + 2.0


def test_conditions_map_to_the_same_overrides_as_the_controller() -> None:
    async def via_controller() -> dict:
        ctl = SimRigController()
        await ctl.connect()
        await ctl.set(lights="dim", backlight="on")
        return ctl.overrides()

    assert overrides_for_conditions({"lights": "dim", "backlight": "on"}) == asyncio.run(
        via_controller())
    with pytest.raises(DeviceError, match="fan=on"):
        overrides_for_conditions({"fan": "on"})
