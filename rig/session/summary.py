"""What ``rig session show`` reports: counts, rates, retakes, rejections, reconciliation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rig.project import Project
from rig.quality.store import session_gate_counts, session_scores
from rig.session.reconcile import Reconciliation, reconcile
from rig.session.store import SessionStore


@dataclass(frozen=True)
class CaptureLine:
    item: int
    attempt: int
    state: str
    conditions: dict[str, Any]
    reason: str | None


@dataclass(frozen=True)
class SessionSummary:
    id: str
    state: str
    reason: str | None  # why it is paused or failed
    camera: str
    created_at: str
    reconciliation: Reconciliation
    rejections: dict[str, int]  # reason -> captures rejected or failed for it
    duration_s: float
    conditions: dict[str, Any]
    captures: list[CaptureLine]
    quality_gate: dict[str, Any] = field(default_factory=dict)  # retakes per failing figure
    scores: list[dict[str, Any]] = field(default_factory=list)  # background model scores

    @property
    def pairs_per_hour(self) -> float | None:
        verified = self.reconciliation.verified
        return verified / self.duration_s * 3600 if self.duration_s else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``rig session show --json`` (its keys are a contract)."""
        rec = self.reconciliation
        return {
            "id": self.id,
            "state": self.state,
            "reason": self.reason,
            "camera": self.camera,
            "created_at": self.created_at,
            "items": rec.items,
            "verified": rec.verified,
            "skipped": rec.pending,
            "duplicates": len(rec.problems.get("duplicates", [])),
            "retakes": rec.retakes,
            "rejections": self.rejections,
            "reconciliation": rec.to_dict(),
            "duration_s": self.duration_s,
            "pairs_per_hour": self.pairs_per_hour,
            "conditions": self.conditions,
            "captures": [line.__dict__ for line in self.captures],
            "quality_gate": self.quality_gate,
            "scores": self.scores,
        }


def summarize(project: Project, session_id: str) -> SessionSummary:
    with SessionStore.open(project) as store:
        record = store.session(session_id)
        rec = reconcile(store, session_id, project.objects)
        first, last = store.event_span(session_id)
        captures = [
            CaptureLine(c.idx, c.attempt, str(c.state), c.conditions, c.reason)
            for c in store.captures(session_id)
        ]
        rejections = store.rejection_reasons(session_id)
        gate = {"min_grade": _min_grade(project, record.plan.min_grade),
                **session_gate_counts(store.db, session_id)}
        scores = session_scores(store.db, session_id)
    return SessionSummary(
        session_id,
        str(record.state),
        record.reason,
        record.camera,
        record.created_at,
        rec,
        rejections,
        (last - first) if first is not None and last is not None else 0.0,
        record.conditions,
        captures,
        gate,
        scores,
    )


def _min_grade(project: Project, plan_min_grade: int | None) -> int:
    return project.config.quality.min_grade if plan_min_grade is None else plan_min_grade
