"""The session engine against real devices' simulated backends (no mocks of rig code)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
import pytest

from rig.camsim import load_preset
from rig.devices.display import OffscreenDisplay
from rig.devices.sim_camera import SimCamera
from rig.errors import DeviceError
from rig.project import Project
from rig.session import events as ev
from rig.session import service
from rig.session.capture import DeviceCapturer
from rig.session.plan import CapturePlan
from rig.session.reconcile import Reconciliation

# A small sensor keeps the simulated photos quick; the screen is smaller than 1080p too.
CAMERA = "sim:tripod-ideal?sensor.width_px=1600&sensor.height_px=1200"
PLAN = dict(screen_width=1280, screen_height=800, settle_ms=0, camera=CAMERA)


def sim_camera() -> SimCamera:
    params = load_preset("tripod-ideal").with_values(
        {"sensor.width_px": 1600, "sensor.height_px": 1200}, "test"
    )
    return SimCamera(params, seed=1)


class FaultyCamera:
    """Simulated hardware faults around the simulated camera: a stale shot, a failed shot."""

    def __init__(self, stale_at: set[int], fail_at: set[int]) -> None:
        self.inner = sim_camera()
        self.stale_at, self.fail_at = stale_at, fail_at
        self.shots = 0
        self.previous: np.ndarray | None = None

    async def connect(self) -> None:
        await self.inner.connect()

    async def close(self) -> None:
        await self.inner.close()

    async def capture(self, shown_frame: np.ndarray | None = None) -> Any:
        shot, self.shots = self.shots, self.shots + 1
        previous, self.previous = self.previous, shown_frame
        if shot in self.fail_at:
            raise DeviceError("shutter did not fire")
        frame = previous if shot in self.stale_at and previous is not None else shown_frame
        return await self.inner.capture(frame)


def run(
    project: Project, plan: CapturePlan, capturer: Any = None
) -> tuple[str, Reconciliation, ev.EventBus]:
    session_id = service.create(project, plan)
    bus = ev.EventBus()
    ctx = service.SessionContext(OffscreenDisplay(latency_ms=1), bus)
    summary = asyncio.run(service.run(project, session_id, ctx, capturer))
    return session_id, summary, bus


def verified_per_item(project: Project, session_id: str) -> list[tuple[int, int]]:
    db = project.db()
    try:
        return [
            tuple(r)
            for r in db.execute(
                "SELECT idx, count(*) FROM captures WHERE session_id=? AND state='verified' GROUP BY idx",
                [session_id],
            )
        ]
    finally:
        db.close()


def test_every_item_gets_one_verified_photo(project: Project) -> None:
    session_id, summary, bus = run(project, CapturePlan(**PLAN))
    assert summary.clean and summary.verified == summary.items == 6
    assert verified_per_item(project, session_id) == [(i, 1) for i in range(6)]
    kinds = [e.kind for e in bus.history]
    assert kinds[0] == "SessionStarted" and kinds[-1] == "SessionFinished"
    assert kinds.count("CaptureVerified") == 6
    db = project.db()
    logged = [
        r[0]
        for r in db.execute("SELECT kind FROM events WHERE session_id=? ORDER BY id", [session_id])
    ]
    for kind in ("ItemShown", "CaptureRequested", "CaptureStored", "CaptureVerified"):
        assert logged.count(kind) == 6, kind
    quality = list(db.query("SELECT psnr_db, reproj_err_px FROM registrations"))
    assert all(q["psnr_db"] > 20 and q["reproj_err_px"] < 1.0 for q in quality)


def test_stale_photo_is_rejected_and_retaken(project: Project) -> None:
    camera = FaultyCamera(stale_at={2}, fail_at=set())
    session_id, summary, bus = run(project, CapturePlan(**PLAN), DeviceCapturer(camera, "faulty"))
    assert summary.clean
    rejected = [e for e in bus.history if isinstance(e, ev.CaptureRejected)]
    assert [(e.idx, e.attempt) for e in rejected] == [(2, 1)]
    assert rejected[0].reason == "photo shows item 1, expected item 2"
    assert verified_per_item(project, session_id) == [(i, 1) for i in range(6)]


def test_camera_failure_uses_a_new_attempt(project: Project) -> None:
    camera = FaultyCamera(stale_at=set(), fail_at={0, 3})
    session_id, summary, bus = run(project, CapturePlan(**PLAN), DeviceCapturer(camera, "faulty"))
    assert summary.clean
    failed = [(e.idx, e.attempt) for e in bus.history if isinstance(e, ev.CaptureFailed)]
    assert failed == [(0, 1), (2, 1)]
    db = project.db()
    attempts = dict(
        db.execute(
            "SELECT idx, attempt FROM captures WHERE session_id=? AND state='verified'",
            [session_id],
        ).fetchall()
    )
    assert sorted(v for v in attempts.values() if v > 1) == [2, 2]


def test_stop_then_resume_finishes_without_duplicates(project: Project) -> None:
    plan = CapturePlan(**PLAN)
    session_id = service.create(project, plan)
    bus = ev.EventBus()
    ctx = service.SessionContext(OffscreenDisplay(latency_ms=1), bus)
    runner = service.make_runner(project, session_id, ctx)

    def stop_after_two(event: ev.SessionEvent) -> None:
        if isinstance(event, ev.CaptureVerified) and event.idx >= 1:
            runner.stop()

    bus.subscribe(stop_after_two)
    first = asyncio.run(runner.run())
    assert not first.clean and first.pending > 0
    bus2 = ev.EventBus()
    second = asyncio.run(
        service.run(project, session_id, service.SessionContext(OffscreenDisplay(1), bus2))
    )
    assert second.clean
    started = next(e for e in bus2.history if isinstance(e, ev.SessionStarted))
    assert started.resumed_at >= 2
    assert verified_per_item(project, session_id) == [(i, 1) for i in range(6)]
    db = project.db()
    state = db.execute(
        "SELECT state, reconciliation FROM sessions WHERE id=?", [session_id]
    ).fetchone()
    assert state[0] == "finished" and json.loads(state[1])["clean"]


def test_bad_plans_are_usage_errors_before_anything_is_stored(project: Project) -> None:
    from rig.errors import UsageError

    with pytest.raises(UsageError, match="no source with id 999"):
        service.create(project, CapturePlan(sources="ids:1,999", **PLAN))
    with pytest.raises(UsageError, match="too small"):
        service.create(project, CapturePlan(**{**PLAN, "screen_width": 640}))
    db = project.db()
    assert db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0


def test_register_session_again_finds_a_mixed_up_photo(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    from rig.cli import main

    session_id, summary, _ = run(project, CapturePlan(**PLAN))
    assert summary.clean
    p = ["-p", str(project.root)]
    assert main(["register", session_id, "--json", *p]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["accepted"] == 6 and again["changed"] == []
    db = project.db()
    with db.conn:  # a mix-up: item 3's record points at item 4's photo
        sha4 = db.execute(
            "SELECT photo_sha256 FROM captures WHERE session_id=? AND idx=4", [session_id]
        ).fetchone()[0]
        db.execute(
            "UPDATE captures SET photo_sha256=? WHERE session_id=? AND idx=3", [sha4, session_id]
        )
    assert main(["register", session_id, "--json", *p]) == 1
    found = json.loads(capsys.readouterr().out)
    assert [(c["item"], c["now"]) for c in found["changed"]] == [(3, "rejected")]
    assert found["changed"][0]["reason"] == "photo shows item 4, expected item 3"
    assert found["reconciliation"]["problems"] == {"not_verified": [3]}


def test_replay_with_faults_matches_the_original(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    from rig.cli import main

    plan = CapturePlan(**{**PLAN, "camera": "sim?preset=none"})
    session_id, summary, _ = run(project, plan)
    assert summary.clean
    p = ["-p", str(project.root)]
    code = main(
        [
            "session",
            "replay",
            session_id,
            "--faults",
            "loss=0.2,dup=0.05,restart_at=2",
            "--json",
            *p,
        ]
    )
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["same_outcome"] and result["replay_reconciliation"]["clean"]
    assert result["replay"] != session_id
    db = project.db()
    replayed = json.loads(
        db.execute("SELECT plan FROM sessions WHERE id=?", [result["replay"]]).fetchone()[0]
    )
    assert replayed["replay_of"] == session_id and "faults=loss=0.2" in replayed["camera"]
