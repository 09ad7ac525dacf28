"""A headless session sweeps three lighting conditions through a serial rig controller.

The controller is the simulated board on a pseudo-terminal (`rig controller simulate`,
a separate process speaking the documented line protocol), driven as real hardware.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from rig.cli import main
from rig.project import Project

CAMERA = "sim:tripod-ideal?sensor.width_px=1600&sensor.height_px=1200"


def test_sweep_through_a_serial_controller(project: Project, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    link = tmp_path / "ttyRIG"
    board = subprocess.Popen(
        [sys.executable, "-m", "rig", "controller", "simulate", "--link", str(link)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not link.exists():
            assert board.poll() is None, board.stderr.read() if board.stderr else ""
            assert time.monotonic() < deadline, "the simulated board never appeared"
            time.sleep(0.05)
        code = main(
            [
                "session",
                "start",
                "--camera",
                CAMERA,
                "--headless",
                "--controller",
                f"serial:{link}",
                "--sweep",
                "lights=off,on,dim",
                "--sweep-every",
                "2",
                "--json",
                "-p",
                str(project.root),
            ]
        )
        out = json.loads(capsys.readouterr().out)
        assert code == 0 and out["clean"], out
    finally:
        board.terminate()
        board.wait(timeout=10)
    assert main(["session", "show", out["id"], "--json", "-p", str(project.root)]) == 0
    shown = json.loads(capsys.readouterr().out)
    captures = [c for c in shown["captures"] if c["state"] == "verified"]
    assert [c["item"] for c in captures] == list(range(6))
    lights = [c["conditions"]["light"] for c in captures]
    assert lights[0] == lights[1] and lights[2] == lights[3] and lights[4] == lights[5]
    assert len({lights[0], lights[2], lights[4]}) == 3
    lux = [c["conditions"]["sensor"] for c in captures]
    assert all(isinstance(s, dict) and s for s in lux)
    # The lights really changed the simulated photos: room light adds haze and glare on the screen.
    db = project.db()
    shas = [
        r[0]
        for r in db.execute(
            "SELECT photo_sha256 FROM captures WHERE session_id=? AND state='verified' ORDER BY idx",
            [out["id"]],
        )
    ]
    import cv2

    means = [
        float(np.mean(cv2.imdecode(np.frombuffer(project.objects.get(s), np.uint8), 0)))
        for s in shas
    ]
    assert min(means[2:4]) > max(means[0:2]) + 5.0  # lights on vs off
    assert max(means[0:2]) < min(means[4:6]) < min(means[2:4])  # off < dim < on
