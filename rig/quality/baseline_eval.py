"""The no-reference baselines scored against automatic grades on a label set.

Patients are split once (``split_patients``: a keyed hash, so the split does not depend
on the order of the rows) into validation and test; each baseline's threshold is chosen
by Youden's J on validation and the study's table is reported on test, with a patient
bootstrap CI. NIQE's pristine model is fitted on ground truths of patients that are in
neither split (seeds from ``PRISTINE_SEED``).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from rig.errors import InputError
from rig.quality import evaluation as ev
from rig.quality.baselines import baseline_scores
from rig.quality.labelset import LabelRow, mask_path, photo_path
from rig.quality.niqe import NiqeModel, fit_niqe

PRISTINE_SEED = 900_000


def split_patients(patients: Sequence[str], valid_fraction: float, seed: int) -> set[str]:
    """The validation patients: those whose keyed hash falls under ``valid_fraction``."""
    def unit(p: str) -> float:
        digest = hashlib.sha256(f"{seed}:{p}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    return {p for p in set(patients) if unit(p) < valid_fraction}


def pristine_niqe(n_images: int, image_wh: tuple[int, int]) -> NiqeModel:
    from rig.camsim.testframes import xray_like_image

    return fit_niqe(xray_like_image(PRISTINE_SEED + i, image_wh) for i in range(n_images))


def grade_distribution(rows: Sequence[LabelRow]) -> dict[str, dict[str, int]]:
    """preset -> {"1".."4", "rejected"} counts."""
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        out[row.preset]["rejected" if row.grade is None else str(row.grade)] += 1
    return {p: {k: c.get(k, 0) for k in ("1", "2", "3", "4", "rejected")}
            for p, c in sorted(out.items())}


def _read(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise InputError(f"{path}: missing or unreadable")
    return image


def score_baselines(
    folder: Path,
    rows: Sequence[LabelRow],
    pristine_images: int = 8,
    on_photo: Callable[[], None] | None = None,
) -> dict[str, np.ndarray]:
    """Every baseline's score (higher = worse) of every row, on the photo the model sees."""
    first = _read(photo_path(folder, rows[0]))
    scorers = baseline_scores(pristine_niqe(pristine_images, (first.shape[1], first.shape[0]))
                              if pristine_images > 0 else None)
    scores: dict[str, list[float]] = {name: [] for name in scorers}
    for row in rows:
        photo, mask = _read(photo_path(folder, row)), _read(mask_path(folder, row)) > 127
        for name, fn in scorers.items():
            scores[name].append(fn(photo, mask))
        if on_photo is not None:
            on_photo()
    return {name: np.asarray(values, np.float64) for name, values in scores.items()}


def baseline_tables(
    scores: dict[str, np.ndarray],
    bad: np.ndarray,
    valid: np.ndarray,
    patients: Sequence[str],
    seed: int = 0,
    n_boot: int = 2000,
) -> dict[str, dict[str, Any]]:
    """The study's table per baseline on the non-``valid`` photos, each threshold chosen
    by Youden's J on the ``valid`` photos only."""
    test_groups = [p for p, v in zip(patients, valid, strict=True) if not v]
    out = {}
    for name, s in scores.items():
        threshold, _ = ev.youden_threshold(bad[valid], s[valid])
        out[name] = ev.score_table(bad[~valid], s[~valid], threshold, test_groups, seed, n_boot)
    return out


def evaluate_baselines(
    folder: Path,
    rows: Sequence[LabelRow],
    min_grade: int = 3,
    valid_fraction: float = 0.3,
    seed: int = 0,
    pristine_images: int = 8,
    n_boot: int = 2000,
    on_photo: Callable[[], None] | None = None,
    roc_png: Path | None = None,
) -> dict[str, Any]:
    """The study's table for every baseline on the test patients of a label set."""
    graded = [r for r in rows if r.grade is not None]
    if not graded:
        raise InputError(f"{folder}: no graded photo in the label set")
    scores = score_baselines(folder, graded, pristine_images, on_photo)
    grades = np.array([r.grade for r in graded])
    patients = [r.patient for r in graded]
    valid_patients = split_patients(patients, valid_fraction, seed)
    valid = np.array([p in valid_patients for p in patients])
    bad = grades < min_grade
    out: dict[str, Any] = {"photos": len(graded), "bad": int(bad.sum()),
                           "valid_photos": int(valid.sum()), "test_photos": int((~valid).sum()),
                           "min_grade": min_grade,
                           "baselines": baseline_tables(scores, bad, valid, patients, seed, n_boot)}
    best = max(out["baselines"], key=lambda n: out["baselines"][n]["auc"])
    out["best_baseline"], out["baseline_auc"] = best, out["baselines"][best]["auc"]
    out["grades"] = grade_distribution(rows)
    if roc_png is not None:
        curves = {name: (bad[~valid], s[~valid]) for name, s in scores.items()}
        ev.plot_roc(curves, roc_png, f"baselines, test patients (bad = grade < {min_grade})")
    return out
