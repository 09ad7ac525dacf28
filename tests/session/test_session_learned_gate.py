"""The learned quality gate acting as the gate (``--quality-gate RUN``) where the frame code
cannot verify a photo live: a USB snapshot camera in a session (retaken) and CheXpeditor
photos at import (refused, counted). A tiny model is trained here; its run's operating
point (the Youden threshold in ``quality_run.json``) is then set to flag every photo or
none, so the test exercises the real model, the real session and the real database."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from toy_quality import tiny_label_set

from rig.camsim import load_preset
from rig.devices.display import OffscreenDisplay
from rig.devices.sim_camera import SimCamera
from rig.project import Project
from rig.quality.learned_gate import learned_gate_acts
from rig.quality.training import RUN_FILE, QualityTrainConfig, train_quality
from rig.session import events as ev
from rig.session import service
from rig.session.capture import DeviceCapturer
from rig.session.plan import CapturePlan
from rig.session.summary import summarize

PLAN = dict(screen_width=1280, screen_height=800, settle_ms=0)


@pytest.fixture(scope="module")
def quality_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny quality model trained on sharp (4) and blurred (1) photos of 9 patients."""
    folder = tiny_label_set(tmp_path_factory.mktemp("qset"))
    run_dir = tmp_path_factory.mktemp("qrun")
    train_quality(folder, run_dir, QualityTrainConfig(
        backbone="tiny", epochs=1, steps_per_epoch=2, batch=2, bag_size=2, patch=64,
        device="cpu"))
    return run_dir


def with_threshold(run_dir: Path, threshold: float, into: Path) -> Path:
    """A copy of the run whose operating point flags P(bad) >= ``threshold``."""
    import shutil

    shutil.copytree(run_dir, into)
    data = json.loads((into / RUN_FILE).read_text())
    data["operating_point"]["threshold"] = threshold
    (into / RUN_FILE).write_text(json.dumps(data))
    return into


def run_session(project: Project, plan: CapturePlan) -> tuple[str, ev.EventBus]:
    params = load_preset("tripod-ideal").with_values(
        {"sensor.width_px": 1600, "sensor.height_px": 1200}, "test")
    session_id = service.create(project, plan)
    bus = ev.EventBus()
    ctx = service.SessionContext(OffscreenDisplay(latency_ms=1), bus)
    asyncio.run(service.run(project, session_id, ctx,
                            DeviceCapturer(SimCamera(params, seed=1), "snapshots")))
    return session_id, bus


def test_the_learned_gate_acts_only_for_cameras_the_frame_code_cannot_verify() -> None:
    assert learned_gate_acts("usb:0") and learned_gate_acts("usb:/dev/video2?width=1920")
    assert learned_gate_acts("chexpeditor://10.0.0.5:4445?frames=/tmp/f")
    assert not learned_gate_acts("sim:tripod-ideal") and not learned_gate_acts("phone")


@pytest.mark.parametrize("camera, flags", [("usb:0", True), ("sim:tripod-ideal", False)])
def test_a_usb_snapshot_flagged_bad_is_retaken(project: Project, quality_run: Path,
                                               tmp_path: Path, camera: str, flags: bool) -> None:
    run_dir = with_threshold(quality_run, 0.0, tmp_path / "flag-all")  # P(bad) >= 0: always
    plan = CapturePlan(**PLAN, camera=camera, limit=1, max_attempts=2, min_grade=1,
                       quality_gate=str(run_dir))
    session_id, bus = run_session(project, plan)
    rejected = [e for e in bus.history if isinstance(e, ev.CaptureRejected)]
    summary = summarize(project, session_id).to_dict()
    if not flags:  # a verifiable camera: the model's P(bad) is shown, never acted on
        assert rejected == [] and summary["verified"] == 1
        assert summary["scores"][0]["scores"]["flagged_bad"] == 1.0
        return
    assert [(e.idx, e.attempt) for e in rejected] == [(0, 1), (0, 2)]
    assert all(e.reason.startswith("learned quality gate: P(bad) ") for e in rejected)
    assert summary["verified"] == 0
    assert summary["quality_gate"]["retaken"] == 2
    assert summary["quality_gate"]["by_figure"] == {"p_bad": 2}


def test_an_unflagged_usb_snapshot_passes(project: Project, quality_run: Path,
                                          tmp_path: Path) -> None:
    run_dir = with_threshold(quality_run, 1.01, tmp_path / "flag-none")  # P(bad) <= 1
    plan = CapturePlan(**PLAN, camera="usb:0", limit=2, min_grade=1, quality_gate=str(run_dir))
    session_id, bus = run_session(project, plan)
    assert not [e for e in bus.history if isinstance(e, ev.CaptureRejected)]
    summary = summarize(project, session_id).to_dict()
    assert summary["verified"] == 2 and summary["quality_gate"]["retaken"] == 0


def test_chexpeditor_photos_flagged_bad_are_refused_at_import(
    project: Project, quality_run: Path, tmp_path: Path, free_udp_port: int,
    capsys: pytest.CaptureFixture[str]
) -> None:
    import subprocess
    import sys

    from rig.cli import main

    frames, store = tmp_path / "frames", tmp_path / "phone"
    frames.mkdir()
    phone = subprocess.Popen(
        [sys.executable, "-m", "rig", "phone-sim", "--compat", "chexpeditor",
         "--insecure-chexpeditor", "--port", str(free_udp_port), "--store", str(store),
         "--source-root", str(frames)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    p = ["-p", str(project.root)]
    camera = f"chexpeditor://127.0.0.1:{free_udp_port}?frames={frames}"
    try:
        main(["session", "start", "--camera", camera, "--limit", "2", "--insecure-chexpeditor",
              "--json", *p])
        started = json.loads(capsys.readouterr().out)
    finally:
        phone.terminate()
        phone.wait(timeout=10)
    assert started["pending_import"] == [0, 1]
    run_dir = with_threshold(quality_run, 0.0, tmp_path / "flag-all")
    code = main(["import-photos", str(store), "--chexpeditor", "--session", started["id"],
                 "--quality-gate", str(run_dir), "--json", *p])
    imported = json.loads(capsys.readouterr().out)
    assert code == 1  # refused photos: the items still need photos
    assert imported["verified"] == [] and sorted(r["item"] for r in imported["flagged"]) == [0, 1]
    assert all(r["reason"].startswith("learned quality gate: P(bad) ")
               for r in imported["rejected"])
    main(["session", "show", started["id"], "--json", *p])
    shown = json.loads(capsys.readouterr().out)
    assert shown["quality_gate"]["by_figure"] == {"p_bad": 2}
