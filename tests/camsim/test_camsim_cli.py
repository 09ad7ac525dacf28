"""rig simulate-photo and rig bench simulate through the real CLI entry point."""

from __future__ import annotations

import json

import cv2
import numpy as np

from rig.camsim import project_screen_points
from rig.cli import main


def write_frame(path, value=200):
    frame = np.zeros((108, 192), np.uint8)
    frame[30:78, 60:132] = value
    cv2.imwrite(str(path), frame)
    return frame


SMALL = ["--set", "sensor.width_px=400", "--set", "sensor.height_px=300",
         "--set", "display.pixel_pitch_mm=2.768"]


def test_simulate_photo_writes_jpeg_and_truth(tmp_path, capsys):
    write_frame(tmp_path / "frame.png")
    code = main(["simulate-photo", str(tmp_path / "frame.png"), "-o", str(tmp_path / "p.jpg"),
                 "--preset", "tripod-ideal", "--seed", "4", "--truth", str(tmp_path / "t.json"),
                 *SMALL, "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["image_size"] == [400, 300] and out["seed"] == 4
    truth = json.loads((tmp_path / "t.json").read_text())
    assert truth["seed"] == 4 and truth["params"]["sensor"]["width_px"] == 400
    photo = cv2.imread(str(tmp_path / "p.jpg"), cv2.IMREAD_GRAYSCALE)
    # The bright block's centre lands where cv2.projectPoints of the truth says.
    u, v = project_screen_points(truth, np.array([[95.5, 53.5]]))[0]
    assert photo[round(v), round(u)] > 100
    # Same command, same bytes.
    first = (tmp_path / "p.jpg").read_bytes()
    main(["simulate-photo", str(tmp_path / "frame.png"), "-o", str(tmp_path / "q.jpg"),
          "--preset", "tripod-ideal", "--seed", "4", *SMALL])
    assert (tmp_path / "q.jpg").read_bytes() == first


def test_user_errors_are_one_line(tmp_path, capsys):
    write_frame(tmp_path / "frame.png")
    code = main(["simulate-photo", str(tmp_path / "frame.png"), "-o", str(tmp_path / "p.jpg"),
                 "--set", "pose.distanse_mm=3"])
    err = capsys.readouterr().err
    assert code == 2 and "distanse_mm" in err and "Traceback" not in err  # a wrong --set
    code = main(["simulate-photo", str(tmp_path / "missing.png"), "-o", str(tmp_path / "p.jpg")])
    err = capsys.readouterr().err
    assert code == 2 and "missing.png" in err  # no such file: usage
    cv2.imwrite(str(tmp_path / "deep.png"), np.zeros((10, 10), np.uint16))
    code = main(["simulate-photo", str(tmp_path / "deep.png"), "-o", str(tmp_path / "p.jpg")])
    assert code == 3 and "8-bit" in capsys.readouterr().err


def test_help_lists_the_commands(capsys):
    assert main(["simulate-photo", "--help"]) == 0
    assert "--preset" in capsys.readouterr().out
    assert main(["bench", "simulate", "--help"]) == 0
    assert "baseline" in capsys.readouterr().out
