"""Camera factory for the ``sim:`` URL scheme (see ``urls``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rig.devices.urls import CameraUrl, check_options, int_option

if TYPE_CHECKING:
    from rig.devices.camera import Camera

DEFAULT_SIM_PRESET = "paper-lcd-iphone"


def sim_camera_from_url(url: CameraUrl) -> Camera:
    """``sim:PRESET?seed=N&sensor.width_px=640`` -> the simulated camera with that camsim
    preset (or .toml path); dotted options override preset values (checked by camsim)."""
    from rig.camsim import load_preset
    from rig.camsim.params import parse_override
    from rig.devices.sim_camera import SimCamera

    check_options(url, ("seed", *(k for k, _ in url.options if "." in k)))
    overrides: dict[str, Any] = dict(parse_override(f"{k}={v}") for k, v in url.options
                                     if "." in k)
    params = load_preset(url.target or DEFAULT_SIM_PRESET).with_values(overrides, str(url))
    return SimCamera(params, seed=int_option(url, "seed", 0) or 0)

