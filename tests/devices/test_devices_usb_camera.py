"""UsbCamera details beyond the contract: exact fresh frames, bounds, sizes, settings."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from camera_contract import FakeClock
from devices_framecode import read_frame_number, write_video

from rig.devices.urls import parse_camera_url
from rig.devices.usb_camera import (
    COMMON_SIZES,
    Source,
    Timebase,
    UsbCamera,
    UsbSettings,
    camera_from_url,
    pick_size,
    source_from_target,
)
from rig.errors import DeviceError

FPS = 10.0


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("clip") / "clip.avi", 40, FPS)


def file_camera(clip: Path, clock: FakeClock, **settings: float) -> UsbCamera:
    options = {"warmup_frames": 2, **settings}
    return UsbCamera(Source(str(clip), True), UsbSettings(**options), clock=clock)  # type: ignore[arg-type]


def test_the_first_frame_after_the_request_is_returned(clip: Path) -> None:
    clock = FakeClock()
    origin = clock.now

    async def go() -> list[tuple[int, float]]:
        cam = file_camera(clip, clock)
        await cam.connect()
        out = []
        for request_s in (0.05, 0.31, 0.31, 1.75):
            clock.now = origin + request_s
            photo = await cam.capture()
            out.append((read_frame_number(photo.image), photo.captured_at - origin))
        await cam.close()
        return out

    got = asyncio.run(go())
    # Frame k is presented at k/FPS: the first at or after each request time (and the
    # same request twice gets the next frame, as a stream would).
    assert [n for n, _ in got] == [2, 4, 5, 18]
    for number, at_s in got:
        assert at_s == pytest.approx(number / FPS)


def test_the_drain_is_bounded(clip: Path) -> None:
    clock = FakeClock()

    async def go() -> None:
        cam = file_camera(clip, clock, max_drain_frames=5)
        await cam.connect()
        clock.now += 2.0  # 20 frames later: more than the drain allows
        with pytest.raises(DeviceError, match="no frame newer than the request within 5"):
            await cam.capture()
        await cam.close()

    asyncio.run(go())


def test_end_of_file_is_a_device_error(clip: Path) -> None:
    clock = FakeClock()

    async def go() -> None:
        cam = file_camera(clip, clock)
        await cam.connect()
        clock.now += 60.0
        with pytest.raises(DeviceError, match="file source ended"):
            await cam.capture()
        await cam.close()

    asyncio.run(go())


def test_device_record_has_settings_but_no_path(clip: Path) -> None:
    async def go() -> dict:
        cam = file_camera(clip, FakeClock(), exposure=120.0)
        await cam.connect()
        photo = await cam.capture()
        await cam.close()
        return photo.device

    device = asyncio.run(go())
    assert device["resolution"] == [320, 240]
    assert device["settings"]["exposure"]["requested"] == 120.0
    assert device["settings"]["exposure"]["accepted"] is False  # a file has no exposure
    assert str(clip.parent) not in repr(device) and "clip" not in repr(device)


def test_a_hung_driver_call_is_bounded() -> None:
    release = threading.Event()

    class HangingCamera(UsbCamera):
        def _open(self) -> None:
            release.wait(10)  # a driver that never returns

    cam = HangingCamera(Source(0, False), UsbSettings(timeout_s=0.05))
    started = time.monotonic()
    try:
        with pytest.raises(DeviceError, match="open took over"):
            asyncio.run(cam.connect())
    finally:
        release.set()
    assert time.monotonic() - started < 5.0


class SnappingDriver:
    """A fake V4L2 driver: snaps any request to the nearest size it supports."""

    def __init__(self, supported: list[tuple[int, int]]) -> None:
        self.supported = supported
        self.asked: list[tuple[int, int]] = []

    def __call__(self, width: int, height: int) -> tuple[int, int]:
        self.asked.append((width, height))
        return min(self.supported, key=lambda s: abs(s[0] - width) + abs(s[1] - height))


def test_pick_size_keeps_the_largest_size_that_sticks() -> None:
    driver = SnappingDriver([(640, 480), (1280, 720), (1920, 1080)])
    assert pick_size(driver, None) == (1920, 1080)
    assert driver.asked[-1] == (1920, 1080)
    assert all(size in COMMON_SIZES for size in driver.asked)


def test_pick_size_reports_what_the_driver_chose_for_an_odd_request() -> None:
    driver = SnappingDriver([(640, 480), (1280, 720)])
    assert pick_size(driver, (1000, 700)) == (1280, 720)


def test_live_timebase_uses_driver_timestamps_when_plausible() -> None:
    base = Timebase(Source(0, False), time.time, 0.0)
    grabbed = 1_800_000_000.0
    half_second_ago_ms = (time.monotonic() - 0.5) * 1000
    assert base.frame_time_s(half_second_ago_ms, grabbed) == pytest.approx(grabbed - 0.5, abs=0.05)
    assert base.frame_time_s(0.0, grabbed) == grabbed  # no timestamp: the grab time
    assert base.frame_time_s(5.0, grabbed) == grabbed  # a bogus epoch: the grab time


@pytest.mark.parametrize(("target", "spec", "is_file"), [
    ("0", 0, False), ("12", 12, False), ("/dev/video2", "/dev/video2", False),
    ("clip.avi", "clip.avi", True), ("/data/img_%03d.png", "/data/img_%03d.png", True),
])
def test_sources_from_targets(target: str, spec: int | str, is_file: bool) -> None:
    assert source_from_target(target) == Source(spec, is_file)


def test_url_options_become_settings() -> None:
    cam = camera_from_url(parse_camera_url("usb:/dev/video2?width=3840&exposure=150&wb=4500"
                                           "&warmup=0"))
    assert cam.settings.width == 3840 and cam.settings.exposure == 150.0
    assert cam.settings.wb_temperature_k == 4500 and cam.settings.warmup_frames == 0
