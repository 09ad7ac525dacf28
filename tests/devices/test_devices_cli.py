"""``rig devices ...`` and ``rig controller ...`` end to end."""

from __future__ import annotations

import json
import select
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from devices_framecode import read_frame_number, write_video

from rig.cli import main
from rig.devices.discovery import list_video_devices

SMALL_SIM = ("sim:tripod-ideal?sensor.width_px=320&sensor.height_px=240"
             "&display.pixel_pitch_mm=2.768")


def run_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_snapshot_from_a_file_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = write_video(tmp_path / "clip.avi", 30, 10.0)
    out = tmp_path / "photo.jpg"
    facts = run_json(["devices", "snapshot", f"usb:{clip}?warmup=3", "-o", str(out)], capsys)
    image = cv2.imread(str(out))
    assert image is not None and facts["size"] == [320, 240]
    assert read_frame_number(image) >= 3  # not one of the warm-up frames


def test_snapshot_of_a_given_frame_with_the_simulator(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dark, bright = tmp_path / "dark.png", tmp_path / "bright.png"
    cv2.imwrite(str(dark), np.full((108, 192), 5, np.uint8))
    cv2.imwrite(str(bright), np.full((108, 192), 250, np.uint8))
    means = []
    for frame in (dark, bright):
        out = tmp_path / f"{frame.stem}.jpg"
        run_json(["devices", "snapshot", SMALL_SIM, "-o", str(out), "--frame", str(frame)], capsys)
        photo = cv2.imread(str(out), cv2.IMREAD_GRAYSCALE)
        assert photo is not None
        means.append(float(photo[80:160, 107:213].mean()))
    assert means[1] > means[0] + 100


def test_snapshot_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["devices", "snapshot", "usb:/dev/video-none", "-o", str(tmp_path / "x.jpg")]) == 4  # a device that does not open
    err = capsys.readouterr().err
    assert err.startswith("rig: error: ") and err.count("\n") == 1
    assert main(["devices", "snapshot", "phone:", "-o", str(tmp_path / "x.jpg")]) == 2
    assert "rig session start --camera phone" in capsys.readouterr().err


def test_list_reads_names_from_sysfs(tmp_path: Path) -> None:
    dev, sysfs = tmp_path / "dev", tmp_path / "sys"
    for n, name, index in [(0, "HD Pro Webcam C920", "0"), (1, "HD Pro Webcam C920", "1"),
                           (10, "Other cam", "0")]:
        (dev / f"video{n}").parent.mkdir(parents=True, exist_ok=True)
        (dev / f"video{n}").touch()
        (sysfs / f"video{n}").mkdir(parents=True)
        (sysfs / f"video{n}" / "name").write_text(name + "\n")
        (sysfs / f"video{n}" / "index").write_text(index + "\n")
    found = list_video_devices(dev, sysfs)
    assert [(d["path"].rsplit("/", 1)[1], d["name"], d["capture_node"]) for d in found] == [
        ("video0", "HD Pro Webcam C920", True), ("video1", "HD Pro Webcam C920", False),
        ("video10", "Other cam", True)]
    assert found[0]["url"] == f"usb:{dev / 'video0'}"


def test_list_json_has_cameras_and_controllers(capsys: pytest.CaptureFixture[str]) -> None:
    found = run_json(["devices", "list"], capsys)
    assert set(found) == {"cameras", "controllers"}


def test_controller_set_and_status_with_the_in_process_simulator(
        capsys: pytest.CaptureFixture[str]) -> None:
    applied = run_json(["controller", "set", "lights=dim", "backlight=on", "-c", "sim:"], capsys)
    assert applied == {"applied": {"light": "dim", "backlight": "on"}}
    status = run_json(["controller", "status", "-c", "sim:"], capsys)
    assert status["version"]["proto"] == "1" and "lux" in status["sensor"]


def test_controller_without_a_port_is_a_usage_error(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RIG_CONTROLLER", raising=False)
    assert main(["controller", "status"]) == 2
    assert "--controller serial:" in capsys.readouterr().err
    assert main(["controller", "set", "light", "-c", "sim:"]) == 2


def test_simulate_then_talk_to_it_like_hardware(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    link = tmp_path / "ttyRIG"
    proc = subprocess.Popen([sys.executable, "-m", "rig", "controller", "simulate",
                             "--link", str(link)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 30.0)
        assert ready and proc.stdout.readline().decode().strip() == str(link)
        port = f"serial:{link}?timeout_s=2"
        assert run_json(["controller", "set", "light=on", "ring=120", "-c", port], capsys) == {
            "applied": {"light": "on", "ring": "120"}}
        status = run_json(["controller", "status", "-c", port], capsys)
        # The device keeps its state between connections, like a real board.
        assert status["outputs"] == {"light": "on", "ring": "120", "backlight": "off"}
        assert status["sensor"]["lux"] > 300
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert not link.exists()  # the simulator removes its link when it stops
