"""The quality tables of ``rig.db`` (``quality_grades``, ``quality_ratings``): small
functions, one transaction each. Photos are named by their exported pair id."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import sqlite_utils

from rig.config import QualityConfig
from rig.quality.figures import PairFigures
from rig.quality.grading import Grade
from rig.quality.ratings import Rating
from rig.store.db import utc_now

if TYPE_CHECKING:
    from rig.quality.gate import GateDecision, GateVerdict


def pair_id(session_id: str, idx: int, attempt: int) -> str:
    """The exported pair id of a capture (as ``rig.export.pairs`` names it)."""
    return f"{session_id}-{idx:05d}-a{attempt}"


def save_grade(
    db: sqlite_utils.Database,
    capture_id: int,
    photo: str,
    figures: PairFigures,
    grade: Grade,
    config: QualityConfig,
) -> None:
    """Store (or replace) the automatic grade of one capture."""
    with db.conn:
        db.execute(
            "INSERT OR REPLACE INTO quality_grades (capture_id, photo, grade, figures, reasons, "
            "cutoffs, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [capture_id, photo, grade.grade, json.dumps(figures.to_dict(), sort_keys=True),
             json.dumps(list(grade.reasons)), json.dumps(asdict(config), sort_keys=True),
             utc_now()],
        )


def load_grades(db: sqlite_utils.Database) -> dict[str, dict[str, Any]]:
    """photo -> {grade, figures, reasons} of every graded capture."""
    out = {}
    for row in db.query("SELECT photo, grade, figures, reasons FROM quality_grades"):
        out[row["photo"]] = {"grade": row["grade"], "figures": json.loads(row["figures"]),
                             "reasons": json.loads(row["reasons"])}
    return out


def save_ratings(db: sqlite_utils.Database, ratings: list[Rating], origin: str) -> int:
    """Store ratings (a rater re-rating a photo replaces the earlier grade) in one
    transaction; returns how many."""
    now = utc_now()
    with db.conn:
        db.conn.executemany(
            "INSERT OR REPLACE INTO quality_ratings (rater, photo, grade, origin, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [(r.rater, r.photo, r.grade, origin, now) for r in ratings],
        )
    return len(ratings)


def load_ratings(db: sqlite_utils.Database, rater: str | None = None) -> list[Rating]:
    where, params = ("WHERE rater=?", [rater]) if rater is not None else ("", [])
    return [Rating(r["rater"], r["photo"], r["grade"]) for r in
            db.query(f"SELECT rater, photo, grade FROM quality_ratings {where} "
                     "ORDER BY rater, photo", params)]


def save_capture_score(db: sqlite_utils.Database, capture_id: int, kind: str, run: str,
                       scores: dict[str, float], error: str | None) -> None:
    """Store (or replace) what a learned model said of one capture."""
    with db.conn:
        db.execute(
            "INSERT OR REPLACE INTO capture_scores (capture_id, kind, run, scores, error, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [capture_id, kind, run, json.dumps(scores, sort_keys=True), error, utc_now()])


def session_scores(db: sqlite_utils.Database, session_id: str) -> list[dict[str, Any]]:
    """Every stored score of a session's captures, in item order."""
    return [{"item": r["idx"], "attempt": r["attempt"], "model": r["kind"],
             "scores": json.loads(r["scores"]), "error": r["error"]}
            for r in db.query(
                "SELECT c.idx, c.attempt, s.kind, s.scores, s.error FROM capture_scores s "
                "JOIN captures c ON c.id = s.capture_id WHERE c.session_id = ? "
                "ORDER BY c.idx, c.attempt, s.kind", [session_id])]


def save_gate_decision(db: sqlite_utils.Database, capture_id: int, decision: GateDecision
                       ) -> None:
    """Store (or replace) what the live or import gate decided for one capture."""
    with db.conn:
        db.execute(
            "INSERT OR REPLACE INTO gate_decisions (capture_id, gate, retake, figures, reason, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [capture_id, decision.gate, int(decision.retake), json.dumps(list(decision.figures)),
             decision.reason, utc_now()])


def save_verdict(db: sqlite_utils.Database, capture_id: int, photo: str, verdict: GateVerdict,
                 config: QualityConfig) -> None:
    """A graded capture: its grade (the label) and the gate's decision."""
    save_grade(db, capture_id, photo, verdict.figures, verdict.grade, config)
    save_gate_decision(db, capture_id, verdict.decision)


def session_gate_counts(db: sqlite_utils.Database, session_id: str) -> dict[str, Any]:
    """The gate's retakes of a session as it decided them, counted per failing figure
    (``p_bad``: the learned gate)."""
    counts: dict[str, int] = {}
    retaken = 0
    for row in db.query(
            "SELECT d.figures FROM gate_decisions d JOIN captures c ON c.id = d.capture_id "
            "WHERE c.session_id = ? AND d.retake = 1", [session_id]):
        retaken += 1
        for figure in json.loads(row["figures"]):
            counts[figure] = counts.get(figure, 0) + 1
    return {"retaken": retaken, "by_figure": dict(sorted(counts.items(), key=lambda kv: -kv[1]))}
