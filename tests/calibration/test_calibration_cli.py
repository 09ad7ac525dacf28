"""CLI: rig compose, rig register-photo (exit codes 0/3/1/2), rig calibrate, frame PNGs."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from calibration_helpers import textured_image, view
from hypothesis import given, settings
from hypothesis import strategies as st

from calibration.fiducials import FiducialLayout
from calibration.framecode import FrameCode
from calibration.registration import frame_code_of
from calibration.synthetic import PhotoEffects, look_at_view, render_photo
from rig.cli import main
from rig.imaging.screen import (
    compose_screen_frame,
    decode_frame_image,
    encode_screen_png,
    read_png_meta,
)

SCREEN = "1280x720"


def _compose(tmp_path: Path, name: str, index: int, seed: int) -> Path:
    src = tmp_path / f"src{seed}.png"
    cv2.imwrite(str(src), textured_image(seed, (700, 450)))
    out = tmp_path / name
    assert (
        main(
            [
                "compose",
                str(src),
                "-o",
                str(out),
                "--screen",
                SCREEN,
                "--index",
                str(index),
                "--session",
                "4",
                "--placement",
                "integer",
            ]
        )
        == 0
    )
    return out


def _photo_of(frame_png: Path, tmp_path: Path, name: str) -> Path:
    frame = cv2.imread(str(frame_png), cv2.IMREAD_UNCHANGED)
    v = look_at_view(
        (1280, 720),
        (2000, 1500),
        angles_deg=(3.0, -5.0, 1.0),
        fill=0.88,
        dist_coeffs=(0.05, -0.03, 0, 0, 0),
    )
    out = tmp_path / name
    cv2.imwrite(str(out), render_photo(frame, v, PhotoEffects()))
    return out


def test_compose_writes_the_frame_and_its_description(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "src.png"
    image = textured_image(1, (600, 400))
    cv2.imwrite(str(src), image)
    out = tmp_path / "screen.png"
    assert (
        main(
            [
                "compose",
                str(src),
                "-o",
                str(out),
                "--screen",
                SCREEN,
                "--index",
                "12",
                "--session",
                "3",
                "--attempt",
                "2",
                "--json",
            ]
        )
        == 0
    )
    printed = json.loads(capsys.readouterr().out)
    frame = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert frame.shape == (720, 1280)
    p = printed["placement"]
    # 1:1 placement: the image pixels are on screen exactly where the JSON says.
    assert np.array_equal(
        frame[p["offset_y"] : p["offset_y"] + 400, p["offset_x"] : p["offset_x"] + 600], image
    )
    code = frame_code_of(frame, FiducialLayout.from_dict(printed["layout"]))
    assert code is not None and (code.session, code.index, code.attempt) == (3, 12, 2)
    assert read_png_meta(out.read_bytes()) == {
        k: printed[k] for k in ("code", "layout", "placement", "screen_wh")
    }


def test_register_photo_accepts_and_rejects_with_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _compose(tmp_path, "f7.png", 7, 1)
    other = _compose(tmp_path, "f8.png", 8, 2)
    photo = _photo_of(good, tmp_path, "p7.png")
    capsys.readouterr()
    aligned = tmp_path / "aligned.png"
    assert (
        main(["register-photo", str(photo), "--frame", str(good), "-o", str(aligned), "--json"])
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["verdict"] == "accepted" and aligned.exists()
    meta = read_png_meta(good.read_bytes())
    assert meta is not None
    truth = cv2.imread(str(good), cv2.IMREAD_UNCHANGED)
    a = result["area"]
    assert a == {
        "x": meta["placement"]["offset_x"],
        "y": meta["placement"]["offset_y"],
        "width": meta["placement"]["width"],
        "height": meta["placement"]["height"],
    }
    assert cv2.imread(str(aligned), cv2.IMREAD_UNCHANGED).shape[:2] == (a["height"], a["width"])
    assert truth is not None

    rejected = tmp_path / "rejected.png"
    assert (
        main(["register-photo", str(photo), "--frame", str(other), "-o", str(rejected), "--json"])
        == 3
    )
    result = json.loads(capsys.readouterr().out)
    assert result["verdict"] == "rejected" and "item 7, expected item 8" in result["reason"]
    assert not rejected.exists()
    # Expecting another attempt than the one shown is a rejection too.
    assert (
        main(
            [
                "register-photo",
                str(photo),
                "--frame",
                str(good),
                "-o",
                str(rejected),
                "--expect-code",
                '{"attempt": 1}',
            ]
        )
        == 3
    )


def test_register_photo_input_and_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _compose(tmp_path, "f.png", 1, 1)
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not an image")
    assert (
        main(["register-photo", str(junk), "--frame", str(good), "-o", str(tmp_path / "a.png")])
        == 3
    )
    assert (
        main(
            [
                "register-photo",
                str(junk),
                "--frame",
                str(good),
                "-o",
                str(tmp_path / "a.png"),
                "--expect-code",
                "colour=3",
            ]
        )
        == 2
    )
    assert main(["compose", str(good), "-o", str(tmp_path / "b.png"), "--screen", "12"]) == 2
    err = capsys.readouterr().err
    assert "junk.jpg" in err and "Traceback" not in err


def test_calibrate_patterns_session_and_tone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pats = tmp_path / "pats"
    assert main(["calibrate", "patterns", str(pats), "--screen", SCREEN, "--square-px", "64"]) == 0
    v = view(dist=(0.07, -0.05, 0, 0, 0), screen_wh=(1280, 720))
    photos = {}
    for name in ("charuco", "grey-steps"):
        frame = cv2.imread(str(pats / f"{name}.png"), cv2.IMREAD_UNCHANGED)
        photos[name] = tmp_path / f"{name}.jpg"
        cv2.imwrite(str(photos[name]), render_photo(frame, v, PhotoEffects()))
    cal = tmp_path / "cal.json"
    assert (
        main(
            [
                "calibrate",
                "session",
                str(photos["charuco"]),
                "--screen",
                SCREEN,
                "--charuco",
                str(pats / "charuco.json"),
                "-o",
                str(cal),
            ]
        )
        == 0
    )
    assert json.loads(cal.read_text())["rms_px"] < 0.5
    tone = tmp_path / "tone.json"
    assert (
        main(
            [
                "calibrate",
                "tone",
                str(photos["grey-steps"]),
                "--frame",
                str(pats / "grey-steps.png"),
                "-o",
                str(tone),
            ]
        )
        == 0
    )
    levels = json.loads(tone.read_text())["camera_levels"]
    assert np.all(np.diff(levels) >= 0) and levels[-1] - levels[0] > 100
    capsys.readouterr()
    argv = ["register-photo", str(photos["grey-steps"]), "--frame", str(pats / "grey-steps.png")]
    argv += ["-o", str(tmp_path / "n.png"), "--tone-curve", str(tone), "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    # Mapped back to display levels, the photo is far closer to the truth.
    assert result["psnr_tone_normalised_db"] > result["psnr_db"] + 6


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**16 - 1), st.integers(0, 2**20 - 1), st.integers(0, 15), st.booleans())
def test_frame_png_round_trip(session: int, index: int, attempt: int, colour: bool) -> None:
    image = textured_image(index % 5, (300, 200))
    if colour:
        image = np.dstack([image, 255 - image, image // 2])
    frame = compose_screen_frame(
        image, (1280, 720), FiducialLayout(), FrameCode(session, index, attempt, 0)
    )
    data = encode_screen_png(frame)
    again = decode_frame_image(data, "frame")
    assert np.array_equal(again, frame.canvas)
    assert read_png_meta(data) == frame.meta()
    assert frame_code_of(again, frame.layout) == frame.code


def test_calibrate_camera_usage_errors(tmp_path: Path) -> None:
    photo = tmp_path / "p.png"
    cv2.imwrite(str(photo), np.zeros((100, 100), np.uint8))
    base = ["calibrate", "camera", str(photo), "-o", str(tmp_path / "c.json"), "--screen", SCREEN]
    assert main([*base, "--pitch-mm", "0"]) == 2
    assert main([*base, "--pitch-mm", "0.27"]) == 3  # no board in the photo: rejected input
