"""``GphotoCamera``: DSLR/mirrorless tethering through libgphoto2 (optional extra).

Install with ``pip install 'rig[gphoto]'`` (the ``gphoto2`` Python bindings; they
need libgphoto2 on the system). The module is imported lazily so rig works without
it. Capture is "capture-and-download": trigger the shutter, wait for the camera to
write the file, download it into memory, delete it from the card.

Cameras answer "busy" (GP_ERROR_CAMERA_BUSY, -110) while focusing or writing the
card, and the desktop's auto-mounter may hold the USB device (GP_ERROR_IO_USB_CLAIM,
-53): both are retried a bounded number of times before a ``DeviceError``.

Tested here only for the missing-module path: no tethered camera was available.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from rig.devices.camera import CapturedPhoto
from rig.devices.urls import CameraUrl, check_options, float_option, int_option
from rig.errors import DeviceError
from rig.imaging import codec

URL_OPTIONS = ("port", "retries", "timeout_s")
BUSY_CODES = (-110, -53)  # GP_ERROR_CAMERA_BUSY, GP_ERROR_IO_USB_CLAIM
RETRY_DELAY_S = 0.5


def import_gphoto2() -> Any:
    """The ``gphoto2`` module, or a DeviceError that says how to install it."""
    try:
        import gphoto2
    except ImportError as exc:
        raise DeviceError("gphoto camera: the gphoto2 module is missing; "
                          "install rig[gphoto] (pip install 'rig[gphoto]')") from exc
    return gphoto2


def list_gphoto_cameras() -> list[dict[str, str]]:
    """Attached libgphoto2 cameras as ``{"model", "port"}``; empty without the module."""
    try:
        gp = import_gphoto2()
    except DeviceError:
        return []
    try:
        return [{"model": name, "port": port} for name, port in gp.Camera.autodetect()]
    except Exception:  # a USB hiccup while listing is not worth failing the listing for
        return []


class GphotoCamera:
    """A libgphoto2 camera; the constructor is inert."""

    def __init__(self, port: str | None = None, retries: int = 5, timeout_s: float = 20.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.port = port
        self.retries = retries
        self.timeout_s = timeout_s
        self.clock = clock
        self._camera: Any = None
        self._gp: Any = None
        self._model = "unknown"
        self._closed = False
        self._lock = asyncio.Lock()

    async def connect(self) -> None:
        if self._camera is not None:
            return
        self._gp = import_gphoto2()
        self._closed = False
        await self._bounded(self._open, "connect")

    async def close(self) -> None:
        self._closed = True
        camera, self._camera = self._camera, None
        if camera is not None:
            await asyncio.to_thread(_quietly, camera.exit)

    async def capture(self, shown_frame: np.ndarray | None = None) -> CapturedPhoto:
        if self._camera is None:
            raise DeviceError("gphoto camera is " + ("closed" if self._closed else
                                                     "not connected (call connect() first)"))
        async with self._lock:
            requested = self.clock()
            jpeg = await self._bounded(self._capture_blocking, "capture")
        image = codec.try_decode(jpeg, "color")
        if image is None:
            raise DeviceError("gphoto camera: the downloaded file is not a JPEG "
                              "(set the camera to JPEG, not RAW only)")
        return CapturedPhoto(jpeg=jpeg, image=image, captured_at=max(requested, self.clock()),
                             device={"backend": "gphoto", "model": self._model,
                                     "resolution": [int(image.shape[1]), int(image.shape[0])]})

    async def _bounded(self, fn: Callable[[], Any], what: str) -> Any:
        try:
            return await asyncio.wait_for(asyncio.to_thread(self._retrying, fn, what),
                                          self.timeout_s)
        except TimeoutError as exc:
            raise DeviceError(f"gphoto camera: {what} took over {self.timeout_s:.0f} s") from exc

    def _retrying(self, fn: Callable[[], Any], what: str) -> Any:
        gp = self._gp
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except gp.GPhoto2Error as exc:
                if exc.code not in BUSY_CODES or attempt == self.retries:
                    raise DeviceError(f"gphoto camera: {what} failed ({exc.string})") from exc
                time.sleep(RETRY_DELAY_S)  # camera busy (focusing, writing the card)
        raise DeviceError(f"gphoto camera: {what} failed")

    def _open(self) -> None:
        gp = self._gp
        camera = gp.Camera()
        if self.port:
            ports = gp.PortInfoList()
            ports.load()
            camera.set_port_info(ports[ports.lookup_path(self.port)])
        camera.init()
        self._camera = camera
        try:
            self._model = str(camera.get_summary()).splitlines()[0][:80]
        except Exception:
            self._model = "gphoto2 camera"

    def _capture_blocking(self) -> bytes:
        gp, camera = self._gp, self._camera
        path = camera.capture(gp.GP_CAPTURE_IMAGE)
        camera_file = camera.file_get(path.folder, path.name, gp.GP_FILE_TYPE_NORMAL)
        data = bytes(memoryview(camera_file.get_data_and_size()))
        _quietly(camera.file_delete, path.folder, path.name)  # keep the card from filling up
        return data


def _quietly(fn: Callable[..., Any], *args: Any) -> None:
    with contextlib.suppress(Exception):  # cleanup of a camera that may already be gone
        fn(*args)


def camera_from_url(url: CameraUrl) -> GphotoCamera:
    """``gphoto:`` (first camera) or ``gphoto:?port=usb:001,004``."""
    check_options(url, URL_OPTIONS)
    import_gphoto2()
    return GphotoCamera(port=url.option("port") or (url.target or None),
                        retries=int_option(url, "retries", 5) or 0,
                        timeout_s=float_option(url, "timeout_s", 20.0) or 20.0)
