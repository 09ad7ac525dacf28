"""CLI end to end on a tiny folder: train, eval --json, restore; bad input is one line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import pytest

from rig.cli import main


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_train_eval_restore_end_to_end(tiny_folder: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    code, out, err = _run(["train", "restore", "--model", "dncnn", "--data", str(tiny_folder),
                           "-o", str(run), "--epochs", "1", "--steps", "3", "--patch", "32",
                           "--batch", "4", "--device", "cpu", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["epochs_done"] == 1
    code, out, err = _run(["eval", "restore", str(run), "--split", "test", "--split", "valid",
                           "--json", "--device", "cpu", "--report", str(tmp_path / "rep")], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert result["model"] == "dncnn"
    assert result["splits"]["test"]["n"] == 2 and result["splits"]["valid"]["n"] == 2
    for key in ("psnr_before", "psnr_after", "ssim_before", "ssim_after", "psnr_after_sd"):
        assert isinstance(result["splits"]["test"][key], float)
    assert set(result["conditions"]) == {"preset", "cond_room_light"}  # label column left out
    assert (tmp_path / "rep" / "report.md").is_file()
    assert (tmp_path / "rep" / "hist_psnr.png").is_file()
    assert json.loads((tmp_path / "rep" / "metrics.json").read_text())["splits"]["test"]["n"] == 2
    with (tmp_path / "rep" / "scores.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["split"] for r in rows) == ["test", "test", "valid", "valid"]
    assert "cond_room_light" in rows[0] and "psnr_after" in rows[0]
    assert (tmp_path / "rep" / "training_curves.png").is_file()
    code, out, err = _run(["restore", str(run), str(tiny_folder / "aligned"), "-o",
                           str(tmp_path / "out"), "--device", "cpu", "--json"], capsys)
    assert code == 0, err
    written = json.loads(out)["written"]
    assert len(written) == 8
    restored = cv2.imread(written[0], cv2.IMREAD_GRAYSCALE)
    assert restored is not None and restored.shape == (64, 64)


def test_missing_manifest_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    code, _, err = _run(["train", "restore", "--data", str(tmp_path / "empty"), "-o",
                         str(tmp_path / "run")], capsys)
    assert code == 3  # the folder holds no dataset: rejected input
    assert err.count("\n") == 1 and "manifest.csv" in err and "Traceback" not in err


def test_wrong_columns_is_one_line(tiny_folder: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tiny_folder / "manifest.csv"
    lines = manifest.read_text().splitlines()
    manifest.write_text("\n".join([lines[0].replace("aligned", "photo_aligned"), *lines[1:]]) + "\n")
    code, _, err = _run(["train", "restore", "--data", str(tiny_folder), "-o", str(tmp_path / "r")],
                        capsys)
    assert code == 3
    assert err.count("\n") == 1 and "missing column(s) aligned" in err


@pytest.mark.parametrize("args", [
    ["train", "restore", "--model", "nope", "--data", ".", "-o", "x"],
    ["train", "restore", "-o", "x"],
    ["eval", "restore", "nowhere"],
])
def test_usage_errors_are_one_line(args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "manifest.csv").write_text("pair_id,split,ground_truth,aligned,mask\n")
    code, _, err = _run(args, capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("rig: error:") and "Traceback" not in err


def test_restore_registers_raw_screen_photos_first_and_refuses_without_a_frame(
        tiny_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import numpy as np

    from calibration.fiducials import FiducialLayout
    from calibration.framecode import FrameCode
    from rig.camsim import SimCamera, load_preset
    from rig.imaging.screen import compose_screen_frame, encode_screen_png
    from rig.ml.samplesource import draw_case

    image, _ = draw_case(np.random.default_rng(4), 480, 400)
    frame = compose_screen_frame(image, (1920, 1080), FiducialLayout(), FrameCode(3, 1, 0, 0))
    (tmp_path / "frame.png").write_bytes(encode_screen_png(frame))
    photo = SimCamera(load_preset("paper-lcd-iphone"), seed=3).capture(frame.canvas)
    raw = tmp_path / "raw" / "photo.jpg"
    raw.parent.mkdir()
    raw.write_bytes(photo.jpeg)
    run = tmp_path / "run"
    code, _, err = _run(["train", "restore", "--model", "tonecurve", "--data", str(tiny_folder),
                         "-o", str(run), "--device", "cpu"], capsys)
    assert code == 0, err
    code, out, err = _run(["restore", str(run), str(raw), "--frame", str(tmp_path / "frame.png"),
                           "-o", str(tmp_path / "out"), "--device", "cpu", "--json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert result["registered"] == 1 and result["refused"] == [] and result["mpx_per_s"] > 0
    restored = cv2.imread(result["written"][0], cv2.IMREAD_GRAYSCALE)
    assert restored is not None and restored.shape == image.shape  # the image area, not the screen
    # The same raw photo without its frame: a warning and one error line; exit 3 (rejected)
    # when no photo was restored, 1 (partly done) when a registered one was.
    code, out, err = _run(["restore", str(run), str(raw), "-o", str(tmp_path / "out2"),
                           "--device", "cpu"], capsys)
    assert code == 3
    assert "unregistered photo of a rig screen" in err and "--frame" in err
    assert not (tmp_path / "out2" / "photo.png").exists()
    registered = tmp_path / "reg"
    registered.mkdir()
    cv2.imwrite(str(registered / "ok.png"), image)
    code, out, err = _run(["restore", str(run), str(raw), str(registered / "ok.png"), "-o",
                           str(tmp_path / "out3"), "--device", "cpu", "--json"], capsys)
    assert code == 1 and json.loads(out)["written"] == [str(tmp_path / "out3" / "ok.png")]
