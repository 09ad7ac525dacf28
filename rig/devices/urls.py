"""Camera URLs: one string picks a backend and its options.

    usb:0                       first V4L2/UVC camera (index)
    usb:/dev/video2?width=3840  a device path, with options
    usb:/path/to/video.avi      a file source (tests, demos); img_%03d.png sequences too
    gphoto:                     the first libgphoto2 camera (DSLR/mirrorless tethering)
    sim:paper-lcd-iphone?seed=3 the simulated camera with a camsim preset
    phone:                      the protocol-driven phone (started by ``rig session start``)

The target and option values are percent-encoded, so any path round-trips.
``open_camera`` looks the scheme up in a registry (scheme -> factory); backends
register themselves, there is no if/elif chain.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, unquote, urlencode

from rig.errors import InputError, UsageError

if TYPE_CHECKING:
    from rig.devices.camera import Camera
    from rig.devices.controller import RigController

_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")
_TARGET_SAFE = "/:._-,~@%"


@dataclass(frozen=True)
class CameraUrl:
    """A parsed camera URL: ``scheme:target?key=value&...``."""

    scheme: str
    target: str = ""
    options: tuple[tuple[str, str], ...] = ()

    def option(self, key: str, default: str | None = None) -> str | None:
        return dict(self.options).get(key, default)

    def __str__(self) -> str:
        text = f"{self.scheme}:{quote(self.target, safe=_TARGET_SAFE.replace('%', ''))}"
        if self.options:
            text += "?" + urlencode(self.options, quote_via=quote, safe="")
        return text


def parse_camera_url(text: str) -> CameraUrl:
    """``"usb:/dev/video2?width=3840"`` -> ``CameraUrl("usb", "/dev/video2", (("width", "3840"),))``."""
    scheme, colon, rest = text.strip().partition(":")
    if not colon or not _SCHEME.fullmatch(scheme):
        raise UsageError(f"camera '{text}': expected scheme:target, e.g. usb:0, "
                         f"sim:paper-lcd-iphone (schemes: {', '.join(sorted(CAMERA_BACKENDS))})")
    target, _, query = rest.partition("?")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise UsageError(f"camera '{text}': bad options after '?' (use key=value&key=value)") from exc
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise UsageError(f"camera '{text}': an option is given twice")
    return CameraUrl(scheme, unquote(target), tuple(pairs))


def check_options(url: CameraUrl, known: tuple[str, ...]) -> None:
    """Unknown options are an error naming the option (a typo never silently does nothing)."""
    for key, _ in url.options:
        if key not in known:
            raise InputError(f"camera '{url}': unknown option '{key}' "
                             f"(known for {url.scheme}: {', '.join(known) or 'none'})")


def int_option(url: CameraUrl, key: str, default: int | None = None) -> int | None:
    raw = url.option(key)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise InputError(f"camera '{url}': option '{key}' must be an integer, got {raw!r}") from exc


def float_option(url: CameraUrl, key: str, default: float | None = None) -> float | None:
    raw = url.option(key)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise InputError(f"camera '{url}': option '{key}' must be a number, got {raw!r}") from exc


CameraFactory = Callable[[CameraUrl], "Camera"]
CAMERA_BACKENDS: dict[str, str] = {
    # scheme -> "module:function" of its factory, imported on use so optional
    # dependencies (gphoto2, camsim) load only when that backend is chosen.
    "usb": "rig.devices.usb_camera:camera_from_url",
    "gphoto": "rig.devices.gphoto_camera:camera_from_url",
    "sim": "rig.devices.backends:sim_camera_from_url",
    "phone": "rig.devices.backends:phone_camera_from_url",
}


def open_camera(url: CameraUrl | str) -> Camera:
    """A camera backend for ``url`` (inert until ``await camera.connect()``)."""
    import importlib

    parsed = parse_camera_url(url) if isinstance(url, str) else url
    entry = CAMERA_BACKENDS.get(parsed.scheme)
    if entry is None:
        raise UsageError(f"camera '{parsed}': unknown scheme '{parsed.scheme}' "
                         f"(known: {', '.join(sorted(CAMERA_BACKENDS))})")
    module, _, function = entry.partition(":")
    factory: CameraFactory = getattr(importlib.import_module(module), function)
    return factory(parsed)


ControllerFactory = Callable[[CameraUrl], "RigController"]
CONTROLLER_BACKENDS: dict[str, str] = {
    "serial": "rig.devices.urls:serial_controller_from_url",
    "sim": "rig.devices.urls:sim_controller_from_url",
}
SERIAL_OPTIONS = ("baud", "timeout_s", "retries")


def open_controller(url: CameraUrl | str) -> RigController:
    """A rig controller for ``serial:/dev/ttyACM0?baud=115200``, ``serial:socket://h:p``
    or ``sim:`` (inert until ``await controller.connect()``)."""
    import importlib

    parsed = parse_camera_url(url) if isinstance(url, str) else url
    entry = CONTROLLER_BACKENDS.get(parsed.scheme)
    if entry is None:
        raise UsageError(f"controller '{parsed}': unknown scheme '{parsed.scheme}' "
                         f"(known: {', '.join(sorted(CONTROLLER_BACKENDS))})")
    module, _, function = entry.partition(":")
    factory: ControllerFactory = getattr(importlib.import_module(module), function)
    return factory(parsed)


def serial_controller_from_url(url: CameraUrl) -> RigController:
    from rig.devices.serial_controller import DEFAULT_BAUD, SerialRigController

    check_options(url, SERIAL_OPTIONS)
    if not url.target:
        raise UsageError("controller 'serial:': give the port, e.g. serial:/dev/ttyACM0")
    return SerialRigController(url.target, baud=int_option(url, "baud", DEFAULT_BAUD) or 0,
                               timeout_s=float_option(url, "timeout_s", 1.0) or 1.0,
                               retries=int_option(url, "retries", 2) or 0)


def sim_controller_from_url(url: CameraUrl) -> RigController:
    from rig.devices.sim_controller import SimRigController

    check_options(url, ())
    return SimRigController()
