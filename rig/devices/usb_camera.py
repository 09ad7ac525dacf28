"""``UsbCamera``: a tethered UVC/V4L2 camera (or a video file) through OpenCV.

Theory of operation (docs/devices.md §Stale frames): a streaming camera keeps
several frames queued (V4L2 driver buffers plus OpenCV's), so a plain ``read()``
right after the screen changed returns a photo of the *previous* screen. A capture
therefore records the request time and then ``grab()``s — cheaply, without decoding
— until a frame's exposure time is at least ``settle_s`` after the request, at most
``max_drain_frames`` frames and ``timeout_s`` seconds, and only then
``retrieve()``s it. Exposure times come from a ``Timebase``:

- V4L2: the driver's buffer timestamp (``CAP_PROP_POS_MSEC``, CLOCK_MONOTONIC ms);
- a file source: the frame's presentation time, with playback starting at
  ``connect()`` on the camera's clock — so a file behaves like a live stream and
  tests can step a fake clock;
- otherwise: the time ``grab()`` returned, which is safe only when the grab waited
  for a new frame (the queue was empty), hence the one-frame ``settle_s``.

All OpenCV calls run on one dedicated worker thread (VideoCapture is not
thread-safe, and some backends insist on a single thread); every call is bounded
by ``asyncio.wait_for``, and a camera whose call timed out is marked broken.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from rig.devices.camera import CapturedPhoto
from rig.devices.urls import CameraUrl, check_options, float_option, int_option
from rig.errors import DeviceError
from rig.imaging import codec

# Still sizes UVC cameras commonly offer, largest first; the first that sticks wins.
COMMON_SIZES: tuple[tuple[int, int], ...] = (
    (4096, 3072), (3840, 2160), (3264, 2448), (2592, 1944), (2560, 1440), (1920, 1080),
    (1600, 1200), (1280, 960), (1280, 720), (1024, 768), (800, 600), (640, 480),
)
URL_OPTIONS = ("width", "height", "fps", "exposure", "focus", "wb", "warmup", "settle_ms",
               "timeout_s", "quality")
LIVE_TIMESTAMP_TOLERANCE_S = 10.0  # a driver timestamp further than this from now is bogus


@dataclass(frozen=True)
class UsbSettings:
    """What to ask the device for; ``None`` leaves the driver's automatic choice."""

    width: int | None = None  # None: the largest of COMMON_SIZES the device accepts
    height: int | None = None
    fps: float | None = None
    exposure: float | None = None  # driver units (UVC: 100 µs steps); turns auto-exposure off
    focus: float | None = None  # driver units; turns autofocus off
    wb_temperature_k: int | None = None  # turns auto white balance off
    warmup_frames: int = 5  # let auto-exposure settle / flush the first frames
    settle_ms: float | None = None  # None: one frame period for live devices, 0 for files
    max_drain_frames: int = 90
    timeout_s: float = 5.0
    jpeg_quality: int = 95


@dataclass(frozen=True)
class Source:
    """Where frames come from: a V4L2 index/path or a file/image sequence."""

    spec: int | str
    is_file: bool

    @property
    def label(self) -> str:
        # A file path may say anything about its contents, so it is never recorded.
        return "file source" if self.is_file else f"video device {self.spec}"


def source_from_target(target: str) -> Source:
    """``"0"`` -> index 0; ``"/dev/video2"`` -> that device; anything else is a file."""
    if target.isdigit():
        return Source(int(target), False)
    if target.startswith("/dev/"):
        return Source(target, False)
    return Source(target, True)


class Timebase:
    """Maps a grabbed frame to its exposure time on the camera's (unix) clock."""

    def __init__(self, source: Source, clock: Callable[[], float], origin_s: float) -> None:
        self.source, self.clock, self.origin_s = source, clock, origin_s

    def frame_time_s(self, pos_msec: float, grabbed_at_s: float) -> float:
        if self.source.is_file:
            return self.origin_s + pos_msec / 1000.0
        if pos_msec > 0:
            age_s = time.monotonic() - pos_msec / 1000.0
            if 0 <= age_s < LIVE_TIMESTAMP_TOLERANCE_S:
                return grabbed_at_s - age_s
        return grabbed_at_s


def pick_size(try_size: Callable[[int, int], tuple[int, int]],
              wanted: tuple[int, int] | None) -> tuple[int, int]:
    """Ask for ``wanted`` (or each common size, largest first); the first that sticks wins."""
    candidates = [wanted] if wanted else list(COMMON_SIZES)
    got = (0, 0)
    for size in candidates:
        got = try_size(*size)
        if got == size:
            return got
    return got  # nothing stuck exactly: keep what the driver chose for the last request


class UsbCamera:
    """A V4L2/UVC camera or a file source; the constructor is inert."""

    def __init__(self, source: Source, settings: UsbSettings | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.source = source
        self.settings = settings or UsbSettings()
        self.clock = clock
        self._cap: Any = None
        self._worker: concurrent.futures.ThreadPoolExecutor | None = None
        self._timebase: Timebase | None = None
        self._device: dict[str, Any] = {}
        self._closed = False
        self._broken: str | None = None

    # ---- Camera protocol
    async def connect(self) -> None:
        if self._cap is not None:
            return
        self._closed, self._broken = False, None
        self._worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="usb-camera")
        try:
            await self._run(self._open, what="open")
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        self._closed = True
        cap, worker, self._cap, self._worker = self._cap, self._worker, None, None
        if worker is None:
            return
        if cap is not None and self._broken is None:
            await asyncio.wrap_future(worker.submit(cap.release))
        worker.shutdown(wait=False)

    async def capture(self, shown_frame: np.ndarray | None = None, *,
                      not_before_s: float | None = None) -> CapturedPhoto:
        """A photo exposed after this call (or after ``not_before_s``, e.g. when the
        display presented the frame). ``shown_frame`` is ignored: this is a real camera."""
        if self._cap is None:
            state = "closed" if self._closed else "not connected (call connect() first)"
            raise DeviceError(f"usb camera ({self.source.label}) is {state}")
        if self._broken:
            raise DeviceError(f"usb camera ({self.source.label}) stopped answering earlier "
                              f"({self._broken}); reconnect it")
        requested = self.clock() if not_before_s is None else not_before_s
        image, captured_at = await self._run(self._fresh_frame, requested, what="capture")
        jpeg = codec.encode_jpeg(image, self.settings.jpeg_quality,
                                 what=f"usb camera ({self.source.label})", error=DeviceError)
        return CapturedPhoto(jpeg=jpeg, image=image, captured_at=captured_at,
                             device=dict(self._device))

    # ---- worker-thread side
    async def _run(self, fn: Callable[..., Any], *args: Any, what: str) -> Any:
        assert self._worker is not None
        future = self._worker.submit(fn, *args)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future),
                                          self.settings.timeout_s * 2)
        except TimeoutError as exc:
            self._broken = f"{what} took over {self.settings.timeout_s * 2:.0f} s"
            raise DeviceError(f"usb camera ({self.source.label}): {self._broken}") from exc

    def _open(self) -> None:
        spec = self.source.spec
        node = f"/dev/video{spec}" if isinstance(spec, int) else spec
        on_linux = sys.platform.startswith("linux")
        if not self.source.is_file and (on_linux or isinstance(spec, str)) \
                and not os.path.exists(node):
            # Checked first: fails at once, and without OpenCV's warnings on stderr.
            raise DeviceError(f"usb camera: {node} does not exist (see 'rig devices list')")
        if self.source.is_file and "%" not in str(spec) and not Path(str(spec)).is_file():
            raise DeviceError(f"usb camera: file source {spec} not found")
        api = cv2.CAP_V4L2 if on_linux and not self.source.is_file else cv2.CAP_ANY
        timeout_ms = int(self.settings.timeout_s * 1000)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms,
                  cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
        cap = cv2.VideoCapture(spec, api, params)
        if not cap.isOpened():
            cap.release()
            raise DeviceError(f"usb camera: cannot open {self.source.label} "
                              "(unplugged, busy in another program, or no permission?)")
        self._cap = cap
        self._device = self._configure(cap)
        self._timebase = Timebase(self.source, self.clock, self.clock())
        for _ in range(self.settings.warmup_frames):
            if not cap.grab():
                raise DeviceError(f"usb camera ({self.source.label}): no frames during warm-up")
        ok, frame = cap.retrieve()
        if not ok or frame is None:
            raise DeviceError(f"usb camera ({self.source.label}): cannot decode frames")
        self._device["resolution"] = [int(frame.shape[1]), int(frame.shape[0])]

    def _configure(self, cap: Any) -> dict[str, Any]:
        s = self.settings
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # fewer queued frames where the backend allows
        buffered = cap.get(cv2.CAP_PROP_BUFFERSIZE)
        if not self.source.is_file:
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*"MJPG"))  # large sizes need it

        def try_size(width: int, height: int) -> tuple[int, int]:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            return int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))

        wanted = (s.width, s.height or round(s.width * 3 / 4)) if s.width else None
        if not self.source.is_file:
            pick_size(try_size, wanted)
        applied = {
            "fps": _apply(cap, [(cv2.CAP_PROP_FPS, s.fps)]),
            # V4L2 backend: AUTO_EXPOSURE 1 = manual, 3 = aperture priority (auto).
            "exposure": _apply(cap, [(cv2.CAP_PROP_AUTO_EXPOSURE, 1 if s.exposure else None),
                                     (cv2.CAP_PROP_EXPOSURE, s.exposure)]),
            "focus": _apply(cap, [(cv2.CAP_PROP_AUTOFOCUS, 0 if s.focus is not None else None),
                                  (cv2.CAP_PROP_FOCUS, s.focus)]),
            "wb_temperature_k": _apply(cap, [(cv2.CAP_PROP_AUTO_WB, 0 if s.wb_temperature_k
                                              else None),
                                             (cv2.CAP_PROP_WB_TEMPERATURE, s.wb_temperature_k)]),
        }
        fps = cap.get(cv2.CAP_PROP_FPS)
        return {
            "backend": "usb",
            "model": _device_name(self.source),
            "api": cap.getBackendName(),
            "source": "file" if self.source.is_file else "v4l2",
            "fps": round(float(fps), 3) if fps and fps > 0 else None,
            "buffer_frames": buffered if buffered > 0 else None,
            "requested": {k: v for k, v in asdict(s).items() if v is not None},
            "settings": applied,
        }

    def _settle_s(self) -> float:
        if self.settings.settle_ms is not None:
            return self.settings.settle_ms / 1000.0
        if self.source.is_file:
            return 0.0  # presentation times are exact
        fps = self._device.get("fps") or 30.0
        return 1.0 / float(fps)  # the driver may stamp the start *or* the end of read-out

    def _fresh_frame(self, requested_s: float) -> tuple[np.ndarray, float]:
        """Grab until a frame was exposed after ``requested_s`` (bounded), then decode it."""
        cap, timebase, s = self._cap, self._timebase, self.settings
        assert cap is not None and timebase is not None
        earliest = requested_s + self._settle_s()
        deadline = time.monotonic() + s.timeout_s
        for _ in range(s.max_drain_frames):
            if not cap.grab():
                end = "the file source ended" if self.source.is_file else "no frame"
                raise DeviceError(f"usb camera ({self.source.label}): {end}")
            frame_s = timebase.frame_time_s(cap.get(cv2.CAP_PROP_POS_MSEC), self.clock())
            if frame_s >= earliest:
                ok, image = cap.retrieve()
                if not ok or image is None:
                    raise DeviceError(f"usb camera ({self.source.label}): frame decode failed")
                return image, frame_s
            if time.monotonic() > deadline:
                break
        raise DeviceError(f"usb camera ({self.source.label}): no frame newer than the request "
                          f"within {s.max_drain_frames} frames / {s.timeout_s:.1f} s")


def _apply(cap: Any, steps: list[tuple[int, float | None]]) -> dict[str, Any] | None:
    """Set properties in order; record the request, whether the driver took it, and readback."""
    if steps[-1][1] is None:
        return None
    record: dict[str, Any] = {}
    for prop, value in steps:
        if value is None:
            continue
        accepted = bool(cap.set(prop, float(value)))
        readback = cap.get(prop)
        record = {"requested": value, "accepted": accepted and abs(readback - value) < 1e-3 * max(1.0, abs(value)),
                  "value": readback}
    return record


def _device_name(source: Source) -> str:
    if source.is_file:
        return "file source"
    node = f"video{source.spec}" if isinstance(source.spec, int) else Path(source.spec).name
    try:
        return Path(f"/sys/class/video4linux/{node}/name").read_text().strip() or node
    except OSError:
        return node


def camera_from_url(url: CameraUrl) -> UsbCamera:
    """``usb:0``, ``usb:/dev/video2?width=3840&exposure=150``, ``usb:clip.avi``."""
    check_options(url, URL_OPTIONS)
    if not url.target:
        raise DeviceError("usb camera: give a device index, /dev/videoN or a file (usb:0)")
    base = UsbSettings()
    wb = int_option(url, "wb")
    settings = UsbSettings(
        width=int_option(url, "width"), height=int_option(url, "height"),
        fps=float_option(url, "fps"), exposure=float_option(url, "exposure"),
        focus=float_option(url, "focus"), wb_temperature_k=wb,
        warmup_frames=int_option(url, "warmup", base.warmup_frames) or 0,
        settle_ms=float_option(url, "settle_ms"),
        timeout_s=float_option(url, "timeout_s", base.timeout_s) or base.timeout_s,
        jpeg_quality=int_option(url, "quality", base.jpeg_quality) or base.jpeg_quality,
    )
    return UsbCamera(source_from_target(url.target), settings)
