"""Evaluation of a quality score against grades (pure numpy; a ROC plot via matplotlib).

Conventions. A *score* is "how bad" a photo is (the model's P(bad), or a baseline
oriented so that higher is worse); a photo is *bad* when its reference grade is below
``min_grade``. Like the skin-image study, the binary table is reported with *good*
as the positive class (sensitivity = good photos accepted, PPV = accepted photos that
are good): the gate accepts a photo when its score is below the threshold.

* AUC: the Mann-Whitney statistic, ties counted one half (equal to the area under the
  empirical ROC curve) — ``rig.ml.stats.auroc``, the classifier's own.
* 95 % CI: percentile bootstrap (``rig.ml.stats.bootstrap_auroc_ci``), resampling
  *patients* with replacement when patient ids are given (photos of one patient are
  not independent), photos otherwise. Reproducible by ``seed``.
* Youden's threshold here returns J too and breaks ties towards the *highest*
  threshold (fewest retakes), which a gate wants; ``rig.ml.stats.youden_threshold``
  (the classifier's) takes the lowest.
* Operating point: Youden's J = sensitivity + specificity − 1, maximised on the
  *validation* split only, over the ordinal cut k* (bad = grade ≤ k*) and the threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from rig.ml import stats
from rig.quality.ratings import quadratic_weighted_kappa


def auc(is_bad: np.ndarray, score: np.ndarray) -> float:
    """P(score of a random bad photo > score of a random good one), ties one half
    (``rig.ml.stats.auroc`` with bad as the positive class); NaN with one class only."""
    return stats.auroc(np.asarray(is_bad, bool).astype(np.int8), score)


def roc_curve(is_bad: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false-positive rate, true-positive rate, thresholds), bad positive, "score >= t"."""
    y = np.asarray(is_bad, bool)
    s = np.asarray(score, np.float64)
    thresholds = np.r_[np.inf, np.unique(s)[::-1]]
    tp = np.array([(s[y] >= t).sum() for t in thresholds], np.float64)
    fp = np.array([(s[~y] >= t).sum() for t in thresholds], np.float64)
    return fp / max(1, int((~y).sum())), tp / max(1, int(y.sum())), thresholds


def bootstrap_auc_ci(
    is_bad: np.ndarray,
    score: np.ndarray,
    groups: Sequence[str] | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap CI of the AUC, resampling ``groups`` (patients) if given,
    photos otherwise (``rig.ml.stats.bootstrap_auroc_ci``); NaNs when undefined."""
    y = np.asarray(is_bad, bool).astype(np.int8)
    clusters = np.arange(len(y)).astype(str) if groups is None else np.asarray(groups)
    ci = stats.bootstrap_auroc_ci(y, score, clusters, n_boot, seed, level)
    return (float("nan"), float("nan")) if isinstance(ci, stats.Undefined) else ci


@dataclass(frozen=True)
class OperatingPoint:
    """bad := P(grade <= k) >= threshold; chosen by Youden's J on validation."""

    k: int
    threshold: float
    youden_j: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def youden_threshold(is_bad: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """(threshold, J) maximising sensitivity + specificity − 1 for "bad if score >= t";
    among equal J the highest threshold (fewest retakes) wins."""
    fpr, tpr, thresholds = roc_curve(is_bad, score)
    j = tpr - fpr
    best = int(np.argmax(j))  # thresholds fall, so the first maximum is the highest
    threshold = float(thresholds[best])
    return (threshold if np.isfinite(threshold) else float(np.max(score)) + 1.0), float(j[best])


def choose_operating_point(cum_le: np.ndarray, is_bad: np.ndarray) -> OperatingPoint:
    """The ordinal cut k* and threshold with the best J, from *validation* data only.

    ``cum_le`` is (N, K-1): column k-1 is P(grade <= k) for k = 1..K-1.
    """
    best: OperatingPoint | None = None
    for k in range(1, cum_le.shape[1] + 1):
        threshold, j = youden_threshold(is_bad, cum_le[:, k - 1])
        if best is None or j > best.youden_j:
            best = OperatingPoint(k, threshold, j)
    assert best is not None  # K >= 2
    return best


def binary_table(is_bad: np.ndarray, flagged_bad: np.ndarray) -> dict[str, float]:
    """Sensitivity, specificity, PPV, NPV with *good* as the positive class (the study's)."""
    good = ~np.asarray(is_bad, bool)
    accepted = ~np.asarray(flagged_bad, bool)
    tp = float((good & accepted).sum())
    fn = float((good & ~accepted).sum())
    tn = float((~good & ~accepted).sum())
    fp = float((~good & accepted).sum())

    def ratio(a: float, b: float) -> float:
        return a / b if b else float("nan")

    return {"sensitivity": ratio(tp, tp + fn), "specificity": ratio(tn, tn + fp),
            "ppv": ratio(tp, tp + fp), "npv": ratio(tn, tn + fn),
            "retake_rate": ratio(fn + tn, tp + fn + tn + fp)}


def confusion(true_grades: ArrayLike, predicted: ArrayLike, k: int = 4) -> list[list[int]]:
    """k x k counts, rows true grade 1..k, columns predicted grade."""
    out = np.zeros((k, k), np.int64)
    np.add.at(out, (np.asarray(true_grades) - 1, np.asarray(predicted) - 1), 1)
    return out.tolist()


def ordinal_table(true_grades: ArrayLike, predicted: ArrayLike) -> dict[str, Any]:
    """Confusion matrix, ordinal MAE and QWK of predicted grades."""
    t, p = np.asarray(true_grades), np.asarray(predicted)
    return {"confusion": confusion(t, p), "mae": float(np.abs(t - p).mean()) if t.size else
            float("nan"), "qwk": quadratic_weighted_kappa([int(v) for v in t], [int(v) for v in p])}


def score_table(
    is_bad: np.ndarray,
    score: np.ndarray,
    threshold: float,
    groups: Sequence[str] | None = None,
    seed: int = 0,
    n_boot: int = 2000,
) -> dict[str, Any]:
    """The study's table for one score: AUC, its bootstrap CI, the binary table at
    ``threshold`` (chosen elsewhere, on validation)."""
    lo, hi = bootstrap_auc_ci(is_bad, score, groups, n_boot, seed)
    return {"auc": auc(is_bad, score), "auc_ci": [lo, hi], "threshold": threshold,
            **binary_table(is_bad, np.asarray(score) >= threshold), "photos": len(score)}


def plot_roc(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, title: str) -> None:
    """ROC curves (name -> (is_bad, score)) to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rig.atomic import atomic_open

    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=120)
    for name, (y, s) in curves.items():
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc(y, s):.3f})")
    ax.plot([0, 1], [0, 1], color="0.7", linestyle=":")
    ax.set(xlabel="false-positive rate (good photos flagged)",
           ylabel="true-positive rate (bad photos flagged)", title=title)
    ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    with atomic_open(path, "wb") as out:
        fig.savefig(out, format="png")
    plt.close(fig)
