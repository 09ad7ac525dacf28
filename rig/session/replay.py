"""QA's regression tool: re-run a recorded session's plan against a simulated phone.

The replay shows the same items in the same order through the in-process
simulated phone (optionally with injected faults) and compares the outcome and
the event sequence of every item with the original. An outcome difference (an
item verified in one run and not in the other) is a regression; a differing
event sequence (e.g. an extra retake under faults) is listed for review.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from rig.devices.urls import parse_camera_url
from rig.project import Project
from rig.session.plan import CapturePlan
from rig.session.store import SessionStore

STEP_KINDS = (
    "ItemShown",
    "CaptureRequested",
    "CaptureStored",
    "CaptureVerified",
    "CaptureRejected",
    "CaptureFailed",
    "ItemFailed",
)


def replay_camera(original: str, faults: str) -> str:
    """The simulated phone standing in for the original camera, keeping its preset if simulated."""
    url = parse_camera_url(original)
    params = dict(url.options) if url.scheme == "simphone" else {}
    if url.scheme == "sim":
        params = {"preset": url.target or "paper-lcd-iphone"}
    params.pop("faults", None)
    if faults:
        params["faults"] = faults
    return "sim" + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def replay_plan(project: Project, session_id: str, faults: str) -> CapturePlan:
    """The plan of the replay (validate it before ``create_replay`` stores anything)."""
    with SessionStore.open(project) as store:
        plan = store.session(session_id).plan
    replay = replace(plan, camera=replay_camera(plan.camera, faults), replay_of=session_id)
    return replay.settled(project.config.display)  # a no-op for plans stored settled


def create_replay(project: Project, plan: CapturePlan) -> str:
    """Store the replay session: the original's items, in its order, with ``plan``."""
    assert plan.replay_of is not None
    with SessionStore.open(project) as store:
        items = [(i.source_id, i.frame_id) for i in store.items(plan.replay_of)]
        return store.create_session(plan, items)


@dataclass(frozen=True)
class ReplayComparison:
    original: str
    replay: str
    outcome_differences: list[dict[str, Any]]
    event_differences: list[dict[str, Any]]
    original_reconciliation: dict[str, Any]
    replay_reconciliation: dict[str, Any]

    @property
    def same_outcome(self) -> bool:
        return not self.outcome_differences

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "same_outcome": self.same_outcome}


def compare(project: Project, original: str, replayed: str) -> ReplayComparison:
    with SessionStore.open(project) as store:
        out_a = {i.idx: str(i.state) for i in store.items(original)}
        out_b = {i.idx: str(i.state) for i in store.items(replayed)}
        steps_a = store.steps_per_item(original, STEP_KINDS)
        steps_b = store.steps_per_item(replayed, STEP_KINDS)
        rec = {sid: store.session(sid).reconciliation or {} for sid in (original, replayed)}
    outcome_diffs = [
        {"item": i, "original": out_a.get(i), "replay": out_b.get(i)}
        for i in sorted(set(out_a) | set(out_b))
        if out_a.get(i) != out_b.get(i)
    ]
    event_diffs = [
        {"item": i, "original": steps_a.get(i, []), "replay": steps_b.get(i, [])}
        for i in sorted(set(steps_a) | set(steps_b))
        if steps_a.get(i) != steps_b.get(i)
    ]
    return ReplayComparison(
        original, replayed, outcome_diffs, event_diffs, rec[original], rec[replayed]
    )
