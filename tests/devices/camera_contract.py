"""The camera contract every backend passes (imported by test_devices_camera_contract.py).

Cases: a file-backed OpenCV source (an MJPG .avi and an ``img_%03d.png`` sequence,
both through UsbCamera's own code path) with a fake clock, the simulator, and —
with ``--camera-url`` — a real device (marked ``hardware``).

"The screen changed to k" is modelled per backend: the file source plays frame k
at time k/fps after connect, so the fake clock is moved there; the simulator is
handed screen k. The photo's screen number is read from its pixels.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from devices_framecode import read_frame_number, write_image_sequence, write_video

from rig.devices.camera import Camera
from rig.devices.urls import open_camera
from rig.devices.usb_camera import Source, UsbCamera, UsbSettings
from rig.errors import DeviceError

N_FRAMES = 60


class FakeClock:
    """Unix seconds that move only when the test says so."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@dataclass
class CameraCase:
    make: Callable[[], Any]
    now: Callable[[], float]
    missing_url: str | None = None
    # show(k) makes screen k current and returns the frame to hand to capture().
    show: Callable[[int], np.ndarray | None] | None = None
    # shows(photo, k): the photo shows screen k or a later one (never an older one).
    shows: Callable[[np.ndarray, int], bool] | None = None


def file_case(source: str, fps: float) -> CameraCase:
    clock = FakeClock()
    origin: list[float] = []

    def make() -> UsbCamera:
        origin.clear()
        origin.append(clock.now)  # playback starts at connect(); the clock is still here
        return UsbCamera(Source(source, True), UsbSettings(warmup_frames=2, timeout_s=5.0),
                         clock=clock)

    def show(k: int) -> None:
        # Half a frame before frame k's presentation time: frame k is the first fresh one.
        clock.now = max(clock.now, origin[0] + (k - 0.5) / fps)
        return None

    return CameraCase(make, clock, missing_url="usb:/nonexistent/clip.avi", show=show,
                      shows=lambda image, k: read_frame_number(image) >= k)


def sim_case() -> CameraCase:
    def screen(k: int) -> np.ndarray:
        return np.full((108, 192), 230 if k % 2 else 10, np.uint8)

    def shows(image: np.ndarray, k: int) -> bool:
        h, w = image.shape[:2]
        centre = float(image[h // 3:2 * h // 3, w // 3:2 * w // 3].mean())
        return (centre > 100) == bool(k % 2)

    def make() -> Any:
        # A small sensor, and a 192x108 screen frame with 10x the pitch: the geometry of a
        # 24-inch monitor filling the frame, at a fraction of the cost.
        return open_camera("sim:tripod-ideal?seed=1&sensor.width_px=400&sensor.height_px=300"
                           "&display.pixel_pitch_mm=2.768")

    return CameraCase(make, time.time, show=screen, shows=shows)


def hardware_case(url: str) -> CameraCase:
    return CameraCase(lambda: open_camera(url), time.time, missing_url="usb:/dev/video-none")


def hardware_camera_url(config: pytest.Config) -> str | None:
    try:
        option = config.getoption("--camera-url")
    except ValueError:  # tests/devices/conftest.py was not loaded at start-up
        option = None
    return option or os.environ.get("RIG_CAMERA_URL") or None


CASES = ["file-avi", "file-images", "sim", pytest.param("hardware", marks=pytest.mark.hardware)]


@pytest.fixture(params=CASES)
def camera_case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CameraCase]:
    if request.param == "file-avi":
        yield file_case(str(write_video(tmp_path / "clip.avi", N_FRAMES, fps=10.0)), 10.0)
    elif request.param == "file-images":
        # FFmpeg's image2 demuxer plays a sequence at 25 frames per second.
        yield file_case(str(write_image_sequence(tmp_path / "seq", N_FRAMES)), 25.0)
    elif request.param == "sim":
        yield sim_case()
    else:
        url = hardware_camera_url(request.config)
        if not url:
            pytest.skip("no --camera-url given")
        yield hardware_case(url)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_connect_and_close_are_idempotent(camera_case: CameraCase) -> None:
    async def go() -> None:
        cam = camera_case.make()
        assert isinstance(cam, Camera)
        await cam.connect()
        await cam.connect()
        photo = await cam.capture(camera_case.show(1) if camera_case.show else None)
        await cam.close()
        await cam.close()
        assert photo.jpeg

    run(go())


def test_capture_returns_a_decodable_jpeg_stamped_after_the_request(
        camera_case: CameraCase) -> None:
    async def go() -> None:
        cam = camera_case.make()
        await cam.connect()
        try:
            for k in (1, 2):
                shown = camera_case.show(k) if camera_case.show else None
                before = camera_case.now()
                photo = await cam.capture(shown)
                decoded = cv2.imdecode(np.frombuffer(photo.jpeg, np.uint8), cv2.IMREAD_COLOR)
                assert decoded is not None and photo.jpeg[:2] == b"\xff\xd8"
                h, w = decoded.shape[:2]
                assert 16 <= w <= 20000 and 16 <= h <= 20000
                assert photo.image.shape == decoded.shape
                assert photo.captured_at >= before
                assert isinstance(photo.device, dict) and photo.device
        finally:
            await cam.close()

    run(go())


def test_capture_after_close_raises(camera_case: CameraCase) -> None:
    async def go() -> None:
        cam = camera_case.make()
        await cam.connect()
        await cam.close()
        with pytest.raises(DeviceError):
            await cam.capture(camera_case.show(1) if camera_case.show else None)

    run(go())


def test_missing_device_fails_quickly(camera_case: CameraCase) -> None:
    if camera_case.missing_url is None:
        pytest.skip("a simulated camera cannot be missing")
    started = time.monotonic()
    with pytest.raises(DeviceError):
        run(open_camera(camera_case.missing_url).connect())
    assert time.monotonic() - started < 5.0  # bounded: no waiting on a device that is absent


def test_no_stale_frames_after_the_screen_changed(camera_case: CameraCase) -> None:
    show, shows = camera_case.show, camera_case.shows
    if show is None or shows is None:
        pytest.skip("this backend cannot change the screen by itself")

    async def go() -> None:
        cam = camera_case.make()
        await cam.connect()
        try:
            for k in (3, 4, 9, 10, 25):
                photo = await cam.capture(show(k))
                assert shows(photo.image, k), f"photo older than screen {k}"
        finally:
            await cam.close()

    run(go())
