"""Background scoring: the bounded queue never blocks capture, and a session with
``quality_gate`` stores P(bad) for every verified photo (a tiny model trained here)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import numpy as np
from toy_quality import tiny_label_set

from rig.devices.display import OffscreenDisplay
from rig.project import Project
from rig.quality.training import QualityTrainConfig, train_quality
from rig.session import events as ev
from rig.session import service
from rig.session.plan import CapturePlan
from rig.session.scoring import BackgroundScorer, ScoreJob, ScoreResult
from rig.session.summary import summarize

CAMERA = "sim:tripod-ideal?sensor.width_px=1600&sensor.height_px=1200"


class BlockingScorer:
    """Scores only when released: the worker is busy for as long as the test wants."""

    kind, run = "quality", "blocking"

    def __init__(self) -> None:
        self.release, self.started = threading.Event(), threading.Event()

    def score(self, gray: np.ndarray) -> dict[str, float]:
        self.started.set()
        assert self.release.wait(30)
        return {"mean": float(gray.mean())}


def test_a_full_queue_drops_jobs_instead_of_blocking() -> None:
    scorer, results = BlockingScorer(), []
    worker = BackgroundScorer([scorer], results.append, max_queue=2)
    worker.start()
    image = np.full((8, 8), 7, np.uint8)
    jobs = [ScoreJob(i, i, 1, lambda: image) for i in range(5)]
    assert worker.submit(jobs[0])
    assert scorer.started.wait(30)  # the worker holds job 0; the queue is empty
    accepted = [worker.submit(j) for j in jobs[1:]]
    assert accepted == [True, True, False, False] and worker.dropped == 2
    scorer.release.set()
    worker.stop()
    assert [r.capture_id for r in results] == [0, 1, 2]
    assert all(r.scores == {"mean": 7.0} and r.error is None for r in results)


def test_a_broken_photo_is_a_result_with_its_error() -> None:
    results: list[ScoreResult] = []
    worker = BackgroundScorer([BlockingScorer()], results.append)
    worker.start()

    def unreadable() -> np.ndarray:
        raise OSError("object missing")

    worker.submit(ScoreJob(9, 0, 1, unreadable))
    worker.stop()
    assert results[0].scores == {} and "object missing" in str(results[0].error)


def test_session_scores_every_verified_photo_in_the_background(project: Project,
                                                               tmp_path: Path) -> None:
    data = tiny_label_set(tmp_path / "set")
    run_dir = tmp_path / "qrun"
    cfg = QualityTrainConfig(backbone="tiny", epochs=1, steps_per_epoch=2, batch=2, bag_size=2,
                             patch=64, device="cpu")
    train_quality(data, run_dir, cfg)
    plan = CapturePlan(screen_width=1280, screen_height=800, settle_ms=0, camera=CAMERA,
                       limit=3, quality_gate=str(run_dir))
    session_id = service.create(project, plan)
    bus = ev.EventBus()
    ctx = service.SessionContext(OffscreenDisplay(latency_ms=1), bus)
    asyncio.run(service.run(project, session_id, ctx))
    scored = [e for e in bus.history if isinstance(e, ev.CaptureScored)]
    assert sorted(e.idx for e in scored) == [0, 1, 2]
    assert all(e.model == "quality" and 0.0 <= e.scores["p_bad"] <= 1.0 for e in scored)
    # Scores are events after the verifications they belong to, and before the end.
    kinds = [e.kind for e in bus.history]
    assert kinds.index("CaptureScored") > kinds.index("CaptureVerified")
    assert kinds[-1] == "SessionFinished"
    shown = summarize(project, session_id).to_dict()["scores"]
    assert [(s["item"], s["model"]) for s in shown] == [(0, "quality"), (1, "quality"),
                                                         (2, "quality")]
    assert shown[0]["scores"]["p_bad"] == scored[[e.idx for e in scored].index(0)].scores["p_bad"]
