"""`rig session start --classifier RUN` (issue 16): every verified photo of a real session is
scored by a classifier run in the background, stored, shown in `session show` and narrated."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rig.devices.display import OffscreenDisplay
from rig.library.importer import import_paths
from rig.library.samples import SampleSpec, write_samples
from rig.ml.classify import ClassifyConfig, train_classifier
from rig.project import init_project
from rig.session import events as ev
from rig.session import service
from rig.session.narration import narrate
from rig.session.plan import CapturePlan
from rig.session.summary import summarize

CAMERA = "sim:tripod-ideal?sensor.width_px=1600&sensor.height_px=1200"


def test_a_session_scores_every_verified_photo_with_the_classifier(
    labelled_folder: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "cls"
    train_classifier(
        labelled_folder,
        run_dir,
        ClassifyConfig(
            labels=("Finding",),
            model="tinycnn",
            input_size=48,
            device="cpu",
            batch=8,
            epochs=1,
            steps_per_epoch=2,
            patience=100,
        ),
    )
    project = init_project(tmp_path / "project")
    labels = write_samples(
        tmp_path / "in", n_images=3, seed=5, spec=SampleSpec(rows=240, columns=200)
    )
    import_paths(project, [tmp_path / "in"], labels, recursive=True)
    plan = CapturePlan(
        screen_width=1280, screen_height=800, camera=CAMERA, limit=3, classifier=str(run_dir)
    )
    session_id = service.create(project, plan)
    bus = ev.EventBus()
    asyncio.run(
        service.run(
            project, session_id, service.SessionContext(OffscreenDisplay(latency_ms=1), bus)
        )
    )
    scored = [e for e in bus.history if isinstance(e, ev.CaptureScored)]
    assert sorted(e.idx for e in scored) == [0, 1, 2]
    assert all(e.model == "classify" and e.error is None for e in scored)
    assert all(set(e.scores) == {"Finding"} and 0.0 <= e.scores["Finding"] <= 1.0 for e in scored)
    line = narrate(scored[0])
    assert "classifier" in line.text and "Finding" in line.text and "\n" not in line.text
    shown = summarize(project, session_id).to_dict()["scores"]
    assert sorted(s["item"] for s in shown if s["model"] == "classify") == [0, 1, 2]
