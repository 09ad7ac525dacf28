"""Session states that tell the truth: validation before any row, failures end ``failed``,
resume adopts the attempt in flight, abort and delete leave nothing behind."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from scripted import PLAN, ScriptedCapturer, Step
from virtual_time import LoopClock, run_virtual

from rig.cli import main
from rig.devices.display import OffscreenDisplay
from rig.errors import TransitionError, UsageError
from rig.project import Project
from rig.session import events as ev
from rig.session import service
from rig.session.plan import CapturePlan
from rig.session.states import CaptureState, SessionState
from rig.session.store import SessionStore


def sessions(project: Project) -> list[tuple[str, str]]:
    with SessionStore.open(project) as store:
        return [(s.id, str(s.state)) for s in store.list_sessions()]


def ctx(clock: Any = None) -> service.SessionContext:
    return service.SessionContext(OffscreenDisplay(latency_ms=0), ev.EventBus(), clock=clock)


BAD_STARTS = {
    "unknown sim preset": (["--camera", "sim?preset=zzz"], "unknown camera preset 'zzz'"),
    "garbage fault spec": (["--camera", "sim?faults=garbage"], "'garbage' is not NAME=VALUE"),
    "unknown sim option": (["--camera", "sim?presett=x"], "unknown option 'presett'"),
    "unknown scheme": (["--camera", "ftp:cam"], "unknown scheme 'ftp'"),
    "bad usb option": (["--camera", "usb:0?widht=3"], "unknown option 'widht'"),
    "unknown device preset": (["--camera", "sim:zzz"], "unknown camera preset 'zzz'"),
    "limit 0": (["--limit", "0"], "limit must be >= 1, got 0"),
    "bad label value": (["--sources", "label:x=abc"], "label value must be"),
    "bad range": (["--sources", "range:a:b"], "range:START:STOP"),
    "missing source": (["--sources", "ids:999"], "no source with id 999"),
    "bad controller": (["--controller", "tcp:x"], "unknown scheme 'tcp'"),
    "chexpeditor without the flag": (["--camera", "chexpeditor://127.0.0.1:1"], "unauthenticated"),
    "unknown placement": (["--placement", "2:1"], "placement '2:1' unknown"),
}


@pytest.mark.parametrize("case", BAD_STARTS, ids=list(BAD_STARTS))
def test_bad_input_fails_at_once_with_one_line_and_no_session(
    project: Project, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args, message = BAD_STARTS[case]
    start = time.monotonic()
    code = main(["session", "start", *args, "--headless", "-p", str(project.root)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and time.monotonic() - start < 10
    assert len(err.splitlines()) == 1 and message in err, err
    assert sessions(project) == [] and not (project.root / "sessions").exists()


def test_a_bad_plan_file_fails_before_anything_is_stored(
    project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text('placement = "sideways"\n')
    assert main(["session", "start", "--plan", str(plan), "-p", str(project.root)]) == 2
    assert "placement 'sideways'" in capsys.readouterr().err
    plan.write_text("capture_timeout_s = 'soon'\n[[\n")
    assert main(["session", "start", "--plan", str(plan), "-p", str(project.root)]) == 2
    assert sessions(project) == []


def test_replay_with_a_bad_fault_spec_or_limit_fails_at_once(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    session_id = service.create(project, CapturePlan(**PLAN, limit=1))
    before = sessions(project)
    code = main(["session", "replay", session_id, "--faults", "garbage", "-p", str(project.root)])
    assert code == 2 and "fault spec" in capsys.readouterr().err
    assert sessions(project) == before


def test_a_camera_that_cannot_open_leaves_no_session(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["session", "start", "--camera", "usb:/dev/video-none", "-p", str(project.root)])
    err = capsys.readouterr().err
    assert code == 4 and "Traceback" not in err  # a device that does not open
    assert err.strip().splitlines()[-1].startswith("rig: error: usb camera: /dev/video-none")
    assert sessions(project) == [] and not (project.root / "sessions").exists()


class Boom(RuntimeError):
    pass


def test_an_error_mid_session_ends_it_failed_with_its_reason(project: Project) -> None:
    capturer = ScriptedCapturer()

    def explode(request: Any) -> None:
        if request.idx == 1:
            raise Boom("the disk caught fire")

    capturer.on_call = explode
    session_id = service.create(project, CapturePlan(**PLAN, limit=3))
    with pytest.raises(Boom):
        run_virtual(service.run(project, session_id, ctx(LoopClock()), capturer))
    with SessionStore.open(project) as store:
        record = store.session(session_id)
        captures = store.captures(session_id)
    assert record.state == SessionState.FAILED
    assert record.reason == "Boom: the disk caught fire"
    assert record.reconciliation is not None and record.reconciliation["verified"] == 1
    assert [c.state for c in captures] == [CaptureState.VERIFIED, CaptureState.REQUESTED]


@pytest.mark.parametrize("recoverable", [True, False], ids=["photo kept", "photo lost"])
def test_resume_adopts_the_attempt_in_flight(project: Project, recoverable: bool) -> None:
    """A desktop that dies while the camera holds (or is about to send) the photo of
    item 1: resume files that photo, or asks for the same attempt again; never a new shot."""
    first = ScriptedCapturer(keep=recoverable, hang_at=1)
    session_id = service.create(project, CapturePlan(**PLAN, limit=3))

    async def crash() -> None:
        task = asyncio.ensure_future(service.run(project, session_id, ctx(LoopClock()), first))
        await asyncio.sleep(60.0)  # item 1's capture hangs: the desktop "dies" here
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run_virtual(crash())
    with SessionStore.open(project) as store:
        assert store.session(session_id).state == SessionState.PAUSED  # interrupted, resumable
        in_flight = store.captures(session_id, [CaptureState.REQUESTED])
    assert [(c.idx, c.attempt) for c in in_flight] == [(1, 1)]

    second = ScriptedCapturer(kept=dict(first.kept))
    bus = ev.EventBus()
    context = service.SessionContext(OffscreenDisplay(latency_ms=0), bus, clock=LoopClock())
    rec = run_virtual(service.run(project, session_id, context, second))
    assert rec.clean and rec.retakes == 0
    with SessionStore.open(project) as store:
        item1 = [(c.attempt, c.state) for c in store.captures(session_id, idx=1)]
    assert item1 == [(1, CaptureState.VERIFIED)]
    shots = [(i, a) for i, a, _ in second.calls]
    assert shots == ([(2, 1)] if recoverable else [(1, 1), (2, 1)])


def test_abort_stops_a_running_session_at_its_next_item(project: Project) -> None:
    session_id = service.create(project, CapturePlan(**PLAN, limit=4))
    capturer = ScriptedCapturer()
    bus = ev.EventBus()

    def abort_from_elsewhere(event: ev.SessionEvent) -> None:
        if isinstance(event, ev.CaptureRequested) and event.idx == 0:
            service.abort(project, session_id)  # as `rig session abort` in another terminal

    bus.subscribe(abort_from_elsewhere)
    context = service.SessionContext(OffscreenDisplay(latency_ms=0), bus, clock=LoopClock())
    rec = run_virtual(service.run(project, session_id, context, capturer))
    assert rec.displayed == 1 and sessions(project) == [(session_id, "aborted")]
    assert [e.state for e in bus.history if isinstance(e, ev.SessionFinished)] == ["aborted"]
    with pytest.raises(TransitionError, match="aborted: it cannot start"):
        run_virtual(service.run(project, session_id, ctx(LoopClock()), ScriptedCapturer()))
    assert sessions(project) == [(session_id, "aborted")]


def test_abort_and_delete_from_the_command_line(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    p = ["-p", str(project.root)]
    done = service.create(project, CapturePlan(**PLAN, limit=2))
    rec = run_virtual(service.run(project, done, ctx(LoopClock()), ScriptedCapturer()))
    assert rec.clean
    assert main(["session", "abort", done, *p]) == 2  # a finished session cannot be aborted
    assert "finished: it cannot abort" in capsys.readouterr().err
    planned = service.create(project, CapturePlan(**PLAN, limit=2))
    assert main(["session", "abort", planned, *p]) == 0

    with SessionStore.open(project) as store:
        named = {
            sha
            for row in store.conn.execute(
                "SELECT c.photo_sha256, r.aligned_sha256, r.mask_sha256 FROM captures c "
                "JOIN registrations r ON r.capture_id = c.id"
            )
            for sha in row
        }
        # A table of another layer keyed on captures (quality grades) must not block delete.
        with store.conn:
            store.conn.execute(
                "INSERT INTO quality_grades (capture_id, photo, grade, figures, reasons, cutoffs, "
                "created_at) SELECT id, 'p' || id, 4, '{}', '[]', '{}', '' FROM captures "
                "WHERE session_id=?",
                [done],
            )
    folder = project.root / "sessions" / done
    folder.mkdir(parents=True)
    (folder / "protocol-state.json").write_text("{}")
    assert main(["session", "delete", done, *p]) == 2  # it holds verified pairs
    assert "2 verified pairs" in capsys.readouterr().err
    assert main(["session", "delete", planned, "--json", *p]) == 0
    assert json.loads(capsys.readouterr().out)["objects_removed"] == 0
    assert main(["session", "delete", done, "--force", "--json", *p]) == 0
    removed = json.loads(capsys.readouterr().out)
    assert removed["objects_removed"] == len(named) >= 4  # photos, aligned photos, masks
    assert removed["folder_removed"] and sessions(project) == [] and not folder.exists()
    assert not any(project.objects.contains(sha) for sha in named)
    db = project.db()
    leftovers = {
        t: db.execute(f"SELECT count(*) FROM {t} WHERE session_id IS NOT NULL").fetchone()[0]
        for t in ("items", "captures", "events")
    }
    for table in ("registrations", "quality_grades"):
        leftovers[table] = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    truth = db.execute("SELECT object_sha256 FROM frames").fetchall()
    db.close()
    assert leftovers == {
        "items": 0, "captures": 0, "registrations": 0, "quality_grades": 0, "events": 0
    }
    assert truth and all(project.objects.contains(sha) for (sha,) in truth)  # shared: kept


def test_show_prints_human_numbers_and_errors_name_source_ids(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    with SessionStore.open(project) as store:
        object_of_3 = store.conn.execute(
            "SELECT f.object_sha256 FROM sources s JOIN files f ON f.sha256 = s.file_sha256 "
            "WHERE s.id = 3"
        ).fetchone()[0]
    project.objects.path_for(object_of_3).write_bytes(b"damaged")
    session_id = service.create(project, CapturePlan(**PLAN, sources="ids:2,3"))
    rec = run_virtual(service.run(project, session_id, ctx(LoopClock()), ScriptedCapturer()))
    assert rec.verified == 1 and not rec.clean
    with SessionStore.open(project) as store:
        item = store.items(session_id)[1]
    assert item.reason is not None and item.reason.startswith("source 3: ")
    assert not re.search(r"[0-9a-f]{32}", item.reason), item.reason
    assert main(["session", "show", session_id, "-p", str(project.root)]) == 0
    out = capsys.readouterr().err
    assert "state: failed" in out and "duration:" in out
    assert not re.search(r"\d+\.\d{4,}", out), out
    assert main(["session", "show", session_id, "--json", "-p", str(project.root)]) == 0
    shown = json.loads(capsys.readouterr().out)
    contract = {
        "id",
        "state",
        "camera",
        "created_at",
        "items",
        "verified",
        "skipped",
        "duplicates",
        "retakes",
        "rejections",
        "reconciliation",
        "duration_s",
        "pairs_per_hour",
        "conditions",
        "captures",
    }
    assert contract <= set(shown) and shown["state"] == "failed"


def test_a_step_that_is_not_allowed_changes_nothing(project: Project) -> None:
    session_id = service.create(project, CapturePlan(**PLAN, limit=1))
    with SessionStore.open(project) as store:
        with pytest.raises(TransitionError):
            store.transition(session_id, "finish")
        store.give_up_item(session_id, 0, "x")
        with pytest.raises(TransitionError):
            store.give_up_item(session_id, 0, "x")
        assert store.session(session_id).state == SessionState.PLANNED
        kinds = [
            r[0]
            for r in store.conn.execute(
                "SELECT kind FROM events WHERE session_id=? ORDER BY id", [session_id]
            )
        ]
    assert kinds == ["SessionCreated", "ItemFailed"]
    with pytest.raises(UsageError, match="no such session"):
        service.abort(project, "s0000000000")


def test_a_delayed_step_cannot_slip_a_capture_backwards(project: Project) -> None:
    capturer = ScriptedCapturer(script={(0, 0): Step(fail=True)})
    session_id = service.create(project, CapturePlan(**PLAN, limit=1))
    run_virtual(service.run(project, session_id, ctx(LoopClock()), capturer))
    with SessionStore.open(project) as store:
        failed = store.captures(session_id, [CaptureState.FAILED])[0]
        with pytest.raises(TransitionError, match="failed: it cannot store"):
            store.store_photo(failed.id, "0" * 64)
