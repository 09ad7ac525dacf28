"""QA's regression tool: re-run a recorded session's plan against a simulated phone.

The replay shows the same items in the same order through the in-process
simulated phone (optionally with injected faults) and compares the outcome and
the event sequence of every item with the original. An outcome difference (an
item verified in one run and not in the other) is a regression; a differing
event sequence (e.g. an extra retake under faults) is listed for review.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import sqlite_utils

from rig.project import Project
from rig.session import records
from rig.session.plan import CapturePlan, split_camera
from rig.session.service import load

STEP_KINDS = ("ItemShown", "CaptureRequested", "PhotoStored", "PhotoVerified", "PhotoRejected",
              "CaptureFailed")  # fmt: skip


def replay_camera(original: str, faults: str) -> str:
    """The simulated phone standing in for the original camera, keeping its preset if simulated."""
    base, params = split_camera(original)
    if base != "sim":
        params = {}
    if base.startswith("sim:"):
        params = {"preset": base[4:]}
    params.pop("faults", None)
    if faults:
        params["faults"] = faults
    return "sim" + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def create_replay(project: Project, session_id: str, faults: str) -> str:
    plan, _ = load(project, session_id)
    new_plan: CapturePlan = replace(
        plan, camera=replay_camera(plan.camera, faults), replay_of=session_id
    )
    db = project.db()
    try:
        items = [
            (r["source_id"], r["frame_id"])
            for r in db.query(
                "SELECT source_id, frame_id FROM items WHERE session_id=? ORDER BY idx",
                [session_id],
            )
        ]
        new_id = records.new_session_id()
        records.create_session(
            db,
            new_id,
            new_plan.to_dict(),
            new_plan.camera,
            items,
            layout=new_plan.layout,
            conditions=new_plan.conditions,
        )
    finally:
        db.close()
    return new_id


def _per_item(
    db: sqlite_utils.Database, session_id: str
) -> tuple[dict[int, str], dict[int, list[str]]]:
    outcome = {
        r["idx"]: r["state"]
        for r in db.query("SELECT idx, state FROM items WHERE session_id=?", [session_id])
    }
    steps: dict[int, list[str]] = {}
    marks = ",".join("?" * len(STEP_KINDS))
    for r in db.query(
        f"SELECT idx, kind FROM events WHERE session_id=? AND idx IS NOT NULL "
        f"AND kind IN ({marks}) ORDER BY id",
        [session_id, *STEP_KINDS],
    ):
        steps.setdefault(r["idx"], []).append(r["kind"])
    return outcome, steps


def compare(project: Project, original: str, replayed: str) -> dict[str, Any]:
    db = project.db()
    try:
        out_a, steps_a = _per_item(db, original)
        out_b, steps_b = _per_item(db, replayed)
        rec = {
            sid: json.loads(
                db.execute("SELECT reconciliation FROM sessions WHERE id=?", [sid]).fetchone()[0]
                or "{}"
            )
            for sid in (original, replayed)
        }
    finally:
        db.close()
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
    return {
        "original": original,
        "replay": replayed,
        "outcome_differences": outcome_diffs,
        "event_differences": event_diffs,
        "original_reconciliation": rec[original],
        "replay_reconciliation": rec[replayed],
        "same_outcome": not outcome_diffs,
    }
