"""``rig quality grade``: automatic grades for the verified pairs already in a project.

The same figures and grades the live gate will compute, so a project captured before
the gate existed gets its labels, and a change of cut-offs can be re-applied.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlite_utils

from calibration.photometric import ToneCurve
from rig.config import QualityConfig
from rig.errors import StoreError
from rig.quality.figures import PairFigures, pair_figures
from rig.quality.grading import Grade, grade_figures
from rig.quality.store import save_grade


@dataclass(frozen=True)
class GradedPair:
    photo: str
    capture_id: int
    figures: PairFigures
    grade: Grade


def session_tone_curve(db: sqlite_utils.Database, session_id: str) -> ToneCurve | None:
    """The session's calibrated tone curve (``calibrations`` kind 'photometric'), if any."""
    row = db.execute(
        "SELECT data FROM calibrations WHERE session_id=? AND kind='photometric' "
        "ORDER BY id DESC LIMIT 1", [session_id]).fetchone()
    if row is None:
        return None
    try:
        return ToneCurve.from_dict(json.loads(row[0]))
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"session {session_id}: stored tone curve is damaged ({exc})") from exc


def grade_pair_images(
    aligned: np.ndarray,
    truth: np.ndarray,
    mask: np.ndarray,
    marker_residual_px: float | None,
    config: QualityConfig,
    tone_curve: ToneCurve | None = None,
) -> tuple[PairFigures, Grade]:
    """Figures and grade of one verified pair: the live gate's one call."""
    figures = pair_figures(aligned, truth, mask, marker_residual_px, tone_curve=tone_curve,
                           glare_delta=config.glare_delta,
                           saturation_level=config.saturation_level)
    return figures, grade_figures(figures, config)


def grade_project(
    project: Any,
    sessions: Sequence[str],
    config: QualityConfig,
    on_pair: Callable[[GradedPair], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Grade and store every verified pair of ``sessions`` (all when empty)."""
    from rig.export.pairs import select_pairs
    from rig.library.frames import decode_png

    db = project.db()
    counts: Counter[int] = Counter()
    reasons: Counter[str] = Counter()
    try:
        pairs = [p for p in select_pairs(db, sessions) if p.aligned_sha256 and p.mask_sha256]
        if on_total is not None:
            on_total(len(pairs))
        curves: dict[str, ToneCurve | None] = {}
        for pair in pairs:
            if pair.session_id not in curves:
                curves[pair.session_id] = session_tone_curve(db, pair.session_id)
            capture_id = db.execute(
                "SELECT id FROM captures WHERE session_id=? AND idx=? AND attempt=?",
                [pair.session_id, pair.idx, pair.attempt]).fetchone()[0]
            aligned = decode_png(project.objects.get(pair.aligned_sha256))
            truth = decode_png(project.objects.get(pair.ground_truth_sha256))
            mask = decode_png(project.objects.get(pair.mask_sha256)) > 127
            figures, grade = grade_pair_images(aligned, truth, mask,
                                               pair.quality.get("reproj_err_px"), config,
                                               curves[pair.session_id])
            save_grade(db, capture_id, pair.pair_id, figures, grade, config)
            counts[grade.grade] += 1
            reasons.update(grade.failing(config.min_grade))
            if on_pair is not None:
                on_pair(GradedPair(pair.pair_id, capture_id, figures, grade))
    finally:
        db.close()
    below = sum(n for g, n in counts.items() if g < config.min_grade)
    return {"pairs": len(pairs), "grades": {str(g): counts.get(g, 0) for g in (1, 2, 3, 4)},
            "below_min_grade": below, "min_grade": config.min_grade,
            "reasons": dict(reasons.most_common())}
