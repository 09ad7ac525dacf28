"""What a plan leaves unset (screen size, placement) is taken from rig.toml when the
session is created and stored with it, so resume and replay show exactly what ran."""

from __future__ import annotations

import json

import pytest
from scripted import CAMERA_URL

from rig.cli import main
from rig.devices.display import OffscreenDisplay
from rig.errors import InputError, UsageError
from rig.project import Project, open_project
from rig.session import events as ev
from rig.session import service
from rig.session.plan import CapturePlan, PlanOverrides
from rig.session.replay import replay_plan
from rig.session.store import SessionStore


def _configure(project: Project, **display: object) -> Project:
    """Rewrite ``[display]`` of the project's rig.toml and open the project again."""
    path = project.root / "rig.toml"
    text = path.read_text()
    for key, value in display.items():
        old = next(line for line in text.splitlines() if line.startswith(f"{key} ="))
        text = text.replace(old, f"{key} = {json.dumps(value)}")
    path.write_text(text)
    return open_project(project.root)


def _stored(project: Project, session_id: str) -> CapturePlan:
    with SessionStore.open(project) as store:
        return store.session(session_id).plan


def _runner_view(project: Project, session_id: str) -> tuple[tuple[int, int], str]:
    ctx = service.SessionContext(OffscreenDisplay(latency_ms=0), ev.EventBus())
    runner = service.make_runner(project, session_id, ctx)  # inert: nothing is opened
    return runner.screen_wh, runner.plan.placement


def test_rig_toml_fills_what_the_plan_leaves_unset_and_is_stored(project: Project) -> None:
    project = _configure(project, screen_width=1280, screen_height=800, placement="fit")
    sid = service.create(project, CapturePlan(camera=CAMERA_URL))
    stored = _stored(project, sid)
    assert (stored.screen_width, stored.screen_height, stored.placement) == (1280, 800, "fit")
    # rig.toml changes afterwards: the session resumes and replays with what it ran
    changed = _configure(project, screen_width=1920, screen_height=1080, placement="1:1")
    assert _runner_view(changed, sid) == ((1280, 800), "fit")
    replay = replay_plan(changed, sid, "")
    assert (replay.screen_wh, replay.placement) == ((1280, 800), "fit")
    # a plan that chooses keeps its choice over rig.toml
    chosen = CapturePlan(camera=CAMERA_URL, screen_width=1600, screen_height=900, placement="fit")
    stored = _stored(changed, service.create(changed, chosen))
    assert (stored.screen_wh, stored.placement) == ((1600, 900), "fit")


def test_defaults_apply_when_nobody_chooses(project: Project) -> None:
    plan = CapturePlan()
    assert (plan.chosen_screen, plan.placement) == (None, "")
    plan.validate()  # "not chosen" passes validation before any row exists
    sid = service.create(project, CapturePlan(camera=CAMERA_URL))
    stored = _stored(project, sid)  # rig.toml as written by init: 1920x1080, auto
    assert (stored.screen_wh, stored.placement) == ((1920, 1080), "auto")


def test_a_plan_stored_unsettled_is_settled_when_run(project: Project) -> None:
    """Sessions stored before plans were settled (placement "") run with rig.toml's."""
    project = _configure(project, screen_width=1280, screen_height=800, placement="integer")
    with SessionStore.open(project) as store:
        sid = store.create_session(CapturePlan(camera=CAMERA_URL), [(1, None)])
    assert _stored(project, sid).placement == ""
    assert _runner_view(project, sid) == ((1280, 800), "integer")


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        (CapturePlan(screen_width=1280), "set both screen_width and screen_height"),
        (CapturePlan(screen_width=1280, screen_height=10), "screen 1280x10 is too small"),
        (CapturePlan(placement="sideways"), "placement 'sideways' unknown"),
    ],
)
def test_bad_screen_or_placement_in_a_plan_names_the_setting(
    plan: CapturePlan, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        plan.validate()


def test_placement_from_the_command_line_is_checked_before_any_row(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(UsageError, match="command line: placement '2:1' unknown"):
        PlanOverrides(placement="2:1").apply(CapturePlan())
    code = main(["session", "start", "--placement", "2:1", "-p", str(project.root)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "placement '2:1'" in err
    with SessionStore.open(project) as store:
        assert store.list_sessions() == []


def test_screen_size_in_rig_toml_is_checked_when_read(project: Project) -> None:
    with pytest.raises(InputError, match=r"\[display\]: screen 1280x12 is too small"):
        _configure(project, screen_width=1280, screen_height=12)
