"""Every limit of the runner, just under and just over it, on virtual time.

Settle time, the capture deadline (the camera's own limits plus a margin, extended as
the camera reports progress), the camera-lost limit and the attempt limit; and the
operator's pause, which automatic retries must never lift.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from scripted import PLAN, ScriptedCapturer, Step
from virtual_time import LoopClock, run_virtual

from rig.project import Project
from rig.session import events as ev
from rig.session import service
from rig.session.capture import CaptureLimits, Capturer
from rig.session.plan import CapturePlan
from rig.session.reconcile import Reconciliation
from rig.session.runner import SessionRunner
from rig.session.states import CaptureState, SessionState
from rig.session.store import SessionStore


@dataclass
class ClockDisplay:
    """An instant display that notes when (on the loop's clock) each frame went up."""

    shown: list[float] = field(default_factory=list)

    async def show(self, frame: np.ndarray) -> float:
        self.shown.append(asyncio.get_running_loop().time())
        return self.shown[-1]

    def tap(self, at: float | None = None) -> np.ndarray | None:
        return None


def make_runner(
    project: Project, plan: CapturePlan, capturer: Capturer, **kwargs: Any
) -> tuple[SessionRunner, ClockDisplay]:
    session_id = service.create(project, plan)
    display = ClockDisplay()
    ctx = service.SessionContext(display, ev.EventBus(), clock=LoopClock())
    runner = service.make_runner(project, session_id, ctx, capturer)
    for key, value in kwargs.items():
        setattr(runner, key, value)
    return runner, display


def session_row(project: Project, session_id: str) -> tuple[SessionState, str | None]:
    with SessionStore.open(project) as store:
        record = store.session(session_id)
    return record.state, record.reason


def kinds(runner: SessionRunner, kind: type[ev.SessionEvent]) -> list[Any]:
    return [e for e in runner.bus.history if isinstance(e, kind)]


def test_the_shot_waits_exactly_the_settle_time(project: Project) -> None:
    capturer = ScriptedCapturer()
    runner, display = make_runner(
        project, CapturePlan(**{**PLAN, "settle_ms": 750}, limit=2), capturer
    )
    rec = run_virtual(runner.run())
    assert rec.clean
    starts = [t for _, _, t in capturer.calls]
    assert [round(s - d, 6) for s, d in zip(starts, display.shown, strict=True)] == [0.75, 0.75]


# Limits 35 s shot + 60 s transfer + 5 s margin: 100 s from the request; an acknowledged
# shot gets the whole 100 s again from its acknowledgement, an announced photo 65 s for
# its transfer from the announcement and again from every later report of bytes arriving
# (never less than it already had). Limits learnt at the acknowledgement (a phone's
# announced camera timeout) count from then on.
DEADLINE_CASES = {  # step, the deadline it runs into (None: it makes it)
    "silent camera just under 100 s": (Step(shot_s=99.9, report=False), None),
    "silent camera just over 100 s": (Step(shot_s=100.1, report=False), 100),
    "34.9 s shot, 59.9 s upload": (Step(shot_s=34.9, transfer_s=59.9), None),
    "upload past the first deadline, within its own 65 s": (
        Step(ack_s=20, shot_s=34.9, transfer_s=64.9),
        None,
    ),
    "upload past its own 65 s": (Step(ack_s=20, shot_s=34.9, transfer_s=65.2), 120),
    "acknowledged at 40 s, photo ready just in time": (Step(ack_s=40, shot_s=99.9), None),
    "acknowledged at 40 s, photo ready too late": (Step(ack_s=40, shot_s=100.1), 140),
    # announced at 30 s (deadline stays 100), bytes at 94 (159), 158 (223); done at 180
    "150 s upload, bytes every 64 s": (Step(shot_s=30, transfer_s=150, transfer_every_s=64), None),
    # announced at 30 s (100), bytes at 96 (161); the next would come at 162
    "150 s upload, bytes every 66 s": (Step(shot_s=30, transfer_s=150, transfer_every_s=66), 161),
    "slower camera learnt at the ack, shot just in time": (
        Step(shot_s=114.9, limits_on_ack=CaptureLimits(50.0, 60.0, 5.0)),
        None,
    ),
    "slower camera learnt at the ack, shot too late": (
        Step(shot_s=115.1, limits_on_ack=CaptureLimits(50.0, 60.0, 5.0)),
        115,
    ),
}


@pytest.mark.parametrize("case", DEADLINE_CASES, ids=list(DEADLINE_CASES))
def test_capture_deadline_composes_from_the_camera_limits(project: Project, case: str) -> None:
    step, deadline = DEADLINE_CASES[case]
    capturer = ScriptedCapturer(script={(0, 0): step})
    runner, _ = make_runner(project, CapturePlan(**PLAN, limit=1), capturer, retry_delay_s=1.0)
    rec = run_virtual(runner.run())
    assert rec.clean and rec.retakes == 0  # a late photo is asked again, same attempt
    lost = kinds(runner, ev.CameraLost)
    assert len(lost) == int(deadline is not None), lost
    if deadline is not None:
        assert lost[0].reason.startswith(f"no photo within {deadline} s")
        assert [(i, a) for i, a, _ in capturer.calls] == [(0, 1), (0, 1)]


@pytest.mark.parametrize(("losses", "fails"), [(5, False), (6, True)])
def test_a_lost_camera_is_retried_until_the_pause_limit(
    project: Project, losses: int, fails: bool
) -> None:
    # Each call answers "lost" after 10 s, the retry waits 2 s: losses at 10, 22, 34, 46,
    # 58, 70 s; with a 60 s limit the fifth is within it, the sixth is past it.
    script = {(0, call): Step(shot_s=10.0, lost=True) for call in range(losses)}
    capturer = ScriptedCapturer(script=script)
    runner, _ = make_runner(
        project, CapturePlan(**PLAN, limit=2), capturer, pause_limit_s=60.0, retry_delay_s=2.0
    )
    rec = run_virtual(runner.run())
    state, reason = session_row(project, runner.session_id)
    assert len(kinds(runner, ev.CameraLost)) == losses
    if fails:
        assert state == SessionState.FAILED and reason is not None
        assert reason.startswith("camera lost for 60 s at item 0")
        assert not rec.clean and rec.displayed == 1  # stopped: item 1 was never shown
    else:
        assert state == SessionState.FINISHED and rec.clean and rec.retakes == 0
        paused = kinds(runner, ev.SessionPaused)
        assert paused and all("camera lost" in e.reason for e in paused)
        assert len(kinds(runner, ev.SessionResumed)) == 1


@pytest.mark.parametrize(("failures", "verified"), [(3, True), (4, False)])
def test_failed_shots_use_new_attempts_up_to_max_attempts(
    project: Project, failures: int, verified: bool
) -> None:
    capturer = ScriptedCapturer(script={(1, call): Step(fail=True) for call in range(failures)})
    runner, _ = make_runner(project, CapturePlan(**PLAN, limit=2, max_attempts=4), capturer)
    rec = run_virtual(runner.run())
    attempts = [a for i, a, _ in capturer.calls if i == 1]
    assert attempts == list(range(1, min(failures + 1, 4) + 1))
    with SessionStore.open(project) as store:
        states = [c.state for c in store.captures(runner.session_id, idx=1)]
    state, reason = session_row(project, runner.session_id)
    if verified:
        assert rec.clean and states == [CaptureState.FAILED] * 3 + [CaptureState.VERIFIED]
        assert state == SessionState.FINISHED
    else:
        assert states == [CaptureState.FAILED] * 4 and not rec.clean
        assert [e.reason for e in kinds(runner, ev.ItemFailed)] == [
            "no verified photo after 4 attempts"
        ]
        assert state == SessionState.FAILED
        assert reason == "1 of 2 items verified; not captured: item 1; not verified: item 1"


def test_an_operator_pause_survives_automatic_retries(project: Project) -> None:
    """Regression: retrying a lost camera used to call pause() then resume(), which
    silently lifted a pause the operator made while the capture was in flight."""
    capturer = ScriptedCapturer(script={(0, 0): Step(shot_s=5.0, lost=True)})
    runner, display = make_runner(
        project, CapturePlan(**PLAN, limit=2), capturer, retry_delay_s=1.0
    )

    def pause_during_first_capture(event: ev.SessionEvent) -> None:
        if isinstance(event, ev.CaptureRequested) and event.idx == 0:
            runner.pause()

    runner.bus.subscribe(pause_during_first_capture)

    async def scenario() -> Reconciliation:
        task = asyncio.ensure_future(runner.run())
        await asyncio.sleep(3600.0)  # an hour of virtual time later…
        assert not task.done()
        assert session_row(project, runner.session_id) == (
            SessionState.PAUSED,
            "paused by operator",
        )
        assert len(display.shown) == 1  # …still at item 0: nothing was shown since
        assert len(kinds(runner, ev.CameraLost)) == 1 and not kinds(runner, ev.SessionResumed)
        runner.resume()
        return await task

    rec = run_virtual(scenario())
    assert rec.clean and len(display.shown) == 2 and rec.retakes == 0
    assert session_row(project, runner.session_id) == (SessionState.FINISHED, None)


def test_a_runner_can_run_again_in_the_same_process(project: Project) -> None:
    """Resources are opened in run(), not in the constructor: stop, then run the same
    runner again (this used to raise 'cannot schedule new futures after shutdown')."""
    capturer = ScriptedCapturer()
    runner, _ = make_runner(project, CapturePlan(**PLAN, limit=3), capturer)

    def stop_after_first(event: ev.SessionEvent) -> None:
        if isinstance(event, ev.CaptureRequested):
            runner.stop()  # takes effect once the capture in flight is done

    runner.bus.subscribe(stop_after_first)
    first = run_virtual(runner.run())
    assert first.verified == 1 and first.displayed == 1
    assert session_row(project, runner.session_id) == (SessionState.PAUSED, "stopped by operator")
    runner.bus = ev.EventBus()
    second = run_virtual(runner.run())
    assert second.clean and second.verified == 3


def test_a_protocol_error_mid_capture_is_a_lost_camera_not_an_exit(project: Project) -> None:
    """Issue 23: a LocalProtocolError during a capture crashed the desktop; now the session
    tells the operator (CameraLost, paused) and asks for the same attempt again."""
    capturer = ScriptedCapturer(script={(0, 0): Step(shot_s=3.0, protocol_error=True)})
    runner, _ = make_runner(project, CapturePlan(**PLAN, limit=1), capturer, retry_delay_s=1.0)
    rec = run_virtual(runner.run())
    assert rec.clean and rec.retakes == 0
    lost = kinds(runner, ev.CameraLost)
    assert [e.reason for e in lost] == ["capture() called while another capture is open"]
    assert [e.reason for e in kinds(runner, ev.SessionPaused)] == [
        "camera lost: capture() called while another capture is open; retrying"
    ]
    assert [(i, a) for i, a, _ in capturer.calls] == [(0, 1), (0, 1)]
