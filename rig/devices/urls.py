"""Camera URLs: one string picks a backend and its options.

    usb:0                       first V4L2/UVC camera (index)
    usb:/dev/video2?width=3840  a device path, with options
    usb:/path/to/video.avi      a file source (tests, demos); img_%03d.png sequences too
    gphoto:                     the first libgphoto2 camera (DSLR/mirrorless tethering)
    sim:paper-lcd-iphone?seed=3 the simulated camera with a camsim preset
    phone  (or phone:)          a real or `rig phone-sim` phone, paired by QR (sessions only)
    sim?preset=P&faults=SPEC    the in-process simulated phone (sessions only; = simphone:?…)
    chexpeditor://HOST:PORT     an unmodified CheXpeditor app (sessions only)

The target and option values are percent-encoded, so any path round-trips. A bare
name (``sim``, ``phone``) is a short form of the scheme in ``BARE_NAMES``.
``CAMERA_BACKENDS`` is the one registry of camera URLs: each scheme names either a
camera device factory (``open_camera``) or the factory of a session capturer (a
camera driven by a protocol, which exists only inside a capture session;
``rig.session.capture``). There is no if/elif chain anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

from rig.errors import UsageError

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


# Bare names (no colon) accepted as short forms: ``sim`` is the simulated *phone*,
# while ``sim:PRESET`` is the simulated camera device.
BARE_NAMES = {"sim": "simphone", "phone": "phone"}


def parse_camera_url(text: str) -> CameraUrl:
    """``"usb:/dev/video2?width=3840"`` -> ``CameraUrl("usb", "/dev/video2", (("width", "3840"),))``."""
    name, question, query = text.strip().partition("?")
    if name in BARE_NAMES:
        text = f"{BARE_NAMES[name]}:{question}{query}"
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
            raise UsageError(f"camera '{url}': unknown option '{key}' "
                             f"(known for {url.scheme}: {', '.join(known) or 'none'})")


def int_option(url: CameraUrl, key: str, default: int | None = None) -> int | None:
    raw = url.option(key)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise UsageError(f"camera '{url}': option '{key}' must be an integer, got {raw!r}") from exc


def float_option(url: CameraUrl, key: str, default: float | None = None) -> float | None:
    raw = url.option(key)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise UsageError(f"camera '{url}': option '{key}' must be a number, got {raw!r}") from exc


CameraFactory = Callable[[CameraUrl], "Camera"]


@dataclass(frozen=True)
class CameraBackend:
    """What a scheme means: "module:function" of a camera device factory (``device``,
    ``CameraUrl -> Camera``) or of a session capturer spec (``session``, see
    ``rig.session.capture.capturer_spec``), imported on use so optional dependencies
    (gphoto2, camsim, the protocol) load only when that backend is chosen."""

    device: str | None = None
    session: str | None = None


CAMERA_BACKENDS: dict[str, CameraBackend] = {
    "usb": CameraBackend(device="rig.devices.usb_camera:camera_from_url"),
    "gphoto": CameraBackend(device="rig.devices.gphoto_camera:camera_from_url"),
    "sim": CameraBackend(device="rig.devices.backends:sim_camera_from_url"),
    "phone": CameraBackend(session="rig.session.phone:phone_spec_from_url"),
    "simphone": CameraBackend(session="rig.session.phone:sim_phone_spec_from_url"),
    "chexpeditor": CameraBackend(session="rig.session.chexpeditor:spec_from_url"),
}


def camera_backend(url: CameraUrl) -> CameraBackend:
    entry = CAMERA_BACKENDS.get(url.scheme)
    if entry is None:
        raise UsageError(f"camera '{url}': unknown scheme '{url.scheme}' "
                         f"(known: {', '.join(sorted(CAMERA_BACKENDS))})")
    return entry


def load_factory(entry: str) -> Any:
    """The function named by a registry entry "module:function"."""
    import importlib

    module, _, function = entry.partition(":")
    return getattr(importlib.import_module(module), function)


def open_camera(url: CameraUrl | str) -> Camera:
    """A camera backend for ``url`` (inert until ``await camera.connect()``)."""
    parsed = parse_camera_url(url) if isinstance(url, str) else url
    entry = camera_backend(parsed)
    if entry.device is None:
        raise UsageError(f"camera '{parsed}': this camera runs inside a capture session; "
                         f"use rig session start --camera {parsed}")
    factory: CameraFactory = load_factory(entry.device)
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
    parsed = parse_camera_url(url) if isinstance(url, str) else url
    entry = CONTROLLER_BACKENDS.get(parsed.scheme)
    if entry is None:
        raise UsageError(f"controller '{parsed}': unknown scheme '{parsed.scheme}' "
                         f"(known: {', '.join(sorted(CONTROLLER_BACKENDS))})")
    factory: ControllerFactory = load_factory(entry)
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
