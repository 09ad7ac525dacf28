"""Statistics for diagnostic accuracy: AUROC, paired DeLong test, patient-level bootstrap.

Pure numpy (no torch), arrays in, numbers out; every function states what it does when
the answer is undefined instead of raising.

- AUROC is the Mann–Whitney statistic: the probability that a positive case scores
  above a negative one, ties counting one half (Hanley & McNeil 1982).
- DeLong, DeLong & Clarke-Pearson (Biometrics 44:837, 1988) compare two correlated
  AUROCs measured on the same cases through the covariance of their structural
  components V10 (per positive) and V01 (per negative). The components are computed
  here with midranks in O(n log n) (Sun & Xu, IEEE SPL 21:1389, 2014), which gives the
  same numbers as the O(m·n) definition (checked in tests against the definition).
  DeLong treats images as independent; several images of one patient are not, which
  is why the confidence intervals come from the cluster bootstrap below.
- Confidence intervals resample *patients* with replacement (cluster bootstrap): all
  images of a drawn patient enter together, as often as the patient is drawn, so the
  interval reflects how many patients, not images, were seen. Percentile intervals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BOOTSTRAP_RESAMPLES = 2000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Undefined:
    """Why a statistic has no value (one class only, too few cases)."""

    reason: str


def class_counts(labels: np.ndarray) -> tuple[int, int]:
    y = np.asarray(labels)
    return int((y == 1).sum()), int((y == 0).sum())


def why_undefined(labels: np.ndarray) -> str | None:
    """The reason an AUROC cannot be computed on ``labels`` (0/1), or None."""
    pos, neg = class_counts(labels)
    if pos == 0 and neg == 0:
        return "no cases with a definite label"
    if pos == 0:
        return f"only negatives ({neg}) among the cases"
    if neg == 0:
        return f"only positives ({pos}) among the cases"
    return None


def midranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of ``x`` with ties given their average rank."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), np.float64)
    sorted_x = x[order]
    # Boundaries of runs of equal values.
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], len(x)]
    mean_rank = (starts + ends + 1) / 2.0  # average of (start+1 .. end), 1-based
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """AUROC of ``scores`` for binary ``labels`` (1 = positive); NaN if one class only."""
    y = np.asarray(labels)
    s = np.asarray(scores, np.float64)
    pos, neg = class_counts(y)
    if pos == 0 or neg == 0:
        return math.nan
    ranks = midranks(s)
    return float((ranks[y == 1].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def structural_components(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's V10 (one per positive) and V01 (one per negative) via midranks.

    V10_i = P(score_i > negative) + ½P(=), V01_j = P(positive > score_j) + ½P(=).
    """
    y = np.asarray(labels)
    s = np.asarray(scores, np.float64)
    pos, neg = s[y == 1], s[y == 0]
    m, n = len(pos), len(neg)
    r_all = midranks(np.concatenate([pos, neg]))
    r_pos, r_neg = midranks(pos), midranks(neg)
    v10 = (r_all[:m] - r_pos) / n
    v01 = 1.0 - (r_all[m:] - r_neg) / m
    return v10, v01


@dataclass(frozen=True)
class DeLongResult:
    auc_a: float
    auc_b: float
    diff: float  # auc_a - auc_b
    se: float
    z: float
    p: float  # two-sided
    n_pos: int
    n_neg: int


def delong_paired(labels: np.ndarray, scores_a: np.ndarray,
                  scores_b: np.ndarray) -> DeLongResult | Undefined:
    """DeLong's test of AUROC(a) = AUROC(b) on the same cases (two-sided)."""
    y = np.asarray(labels)
    reason = why_undefined(y)
    if reason:
        return Undefined(reason)
    pos, neg = class_counts(y)
    if pos < 2 or neg < 2:
        return Undefined(f"DeLong needs at least 2 positives and 2 negatives ({pos}/{neg})")
    v10_a, v01_a = structural_components(y, scores_a)
    v10_b, v01_b = structural_components(y, scores_b)
    s10 = np.cov(np.vstack([v10_a, v10_b]))  # (2, 2), ddof 1
    s01 = np.cov(np.vstack([v01_a, v01_b]))
    var = ((s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / pos
           + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / neg)
    auc_a, auc_b = float(v10_a.mean()), float(v10_b.mean())
    diff = auc_a - auc_b
    se = math.sqrt(max(var, 0.0))
    if se == 0.0:
        z, p = 0.0, 1.0 if diff == 0.0 else 0.0
    else:
        z = diff / se
        p = math.erfc(abs(z) / math.sqrt(2.0))
    return DeLongResult(auc_a, auc_b, diff, se, z, p, pos, neg)


def _weighted_auroc(labels: np.ndarray, group: np.ndarray, n_groups: int,
                    weights: np.ndarray) -> float:
    """AUROC with integer case weights; ``group`` indexes the sorted distinct scores."""
    w_pos = np.where(labels == 1, weights, 0.0)
    w_neg = np.where(labels == 0, weights, 0.0)
    total_pos, total_neg = w_pos.sum(), w_neg.sum()
    if total_pos == 0 or total_neg == 0:
        return math.nan
    neg_at = np.bincount(group, w_neg, n_groups)  # negative weight at each distinct score
    below = np.cumsum(neg_at) - neg_at  # negative weight strictly below
    pos_at = np.bincount(group, w_pos, n_groups)
    return float((pos_at * (below + 0.5 * neg_at)).sum() / (total_pos * total_neg))


def _cluster_weights(clusters: Sequence[str] | np.ndarray, resamples: int,
                     seed: int) -> np.ndarray:
    """(resamples, n) weights: how often each case's cluster was drawn."""
    ids, inverse = np.unique(np.asarray(clusters), return_inverse=True)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(ids), size=(resamples, len(ids)))
    counts = np.stack([np.bincount(d, minlength=len(ids)) for d in draws])  # (R, clusters)
    return counts[:, inverse].astype(np.float64)


def _percentile_ci(values: np.ndarray, confidence: float) -> tuple[float, float] | Undefined:
    finite = values[np.isfinite(values)]
    if finite.size < 0.5 * len(values) or finite.size < 10:
        return Undefined(f"only {finite.size} of {len(values)} resamples had both classes")
    tail = (1.0 - confidence) / 2.0 * 100.0
    lo, hi = np.percentile(finite, [tail, 100.0 - tail])
    return float(lo), float(hi)


def _groups(scores: np.ndarray) -> tuple[np.ndarray, int]:
    uniq, group = np.unique(np.asarray(scores, np.float64), return_inverse=True)
    return group, len(uniq)


def bootstrap_auroc_ci(labels: np.ndarray, scores: np.ndarray, clusters: Sequence[str] | np.ndarray,
                       resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0,
                       confidence: float = CONFIDENCE) -> tuple[float, float] | Undefined:
    """Percentile CI of the AUROC, resampling clusters (patients) with replacement."""
    y = np.asarray(labels)
    reason = why_undefined(y)
    if reason:
        return Undefined(reason)
    group, k = _groups(scores)
    weights = _cluster_weights(clusters, resamples, seed)
    values = np.array([_weighted_auroc(y, group, k, w) for w in weights])
    return _percentile_ci(values, confidence)


def bootstrap_mean_auroc_ci(cases: Sequence[tuple[np.ndarray, np.ndarray]],
                            clusters: Sequence[str] | np.ndarray,
                            resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0,
                            confidence: float = CONFIDENCE) -> tuple[float, float] | Undefined:
    """Percentile CI of the mean AUROC over several (labels, scores) on the same cases
    (several seeds, several labels), the same patients resampled for all of them.

    Labels of -1 leave that case out of that entry's AUROC.
    """
    usable = [(np.asarray(y), np.asarray(s, np.float64)) for y, s in cases
              if why_undefined(np.asarray(y)[np.asarray(y) >= 0]) is None]
    if not usable:
        return Undefined("no entry has both classes")
    groups = [_groups(s) for _, s in usable]
    weights = _cluster_weights(clusters, resamples, seed)
    def mean_of(w: np.ndarray) -> float:
        aucs = [_weighted_auroc(y, g, k, np.where(y >= 0, w, 0.0))
                for (y, _), (g, k) in zip(usable, groups, strict=True)]
        finite = [a for a in aucs if math.isfinite(a)]
        return float(np.mean(finite)) if finite else math.nan

    return _percentile_ci(np.array([mean_of(w) for w in weights]), confidence)


def bootstrap_diff_ci(labels: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray,
                      clusters: Sequence[str] | np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES,
                      seed: int = 0, confidence: float = CONFIDENCE) -> tuple[float, float] | Undefined:
    """Percentile CI of AUROC(a) − AUROC(b) on the same cases, patients resampled together."""
    y = np.asarray(labels)
    reason = why_undefined(y)
    if reason:
        return Undefined(reason)
    ga, ka = _groups(scores_a)
    gb, kb = _groups(scores_b)
    weights = _cluster_weights(clusters, resamples, seed)
    values = np.array([_weighted_auroc(y, ga, ka, w) - _weighted_auroc(y, gb, kb, w)
                       for w in weights])
    return _percentile_ci(values, confidence)


def bootstrap_mean_ci(values: np.ndarray, clusters: Sequence[str] | np.ndarray,
                      resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0,
                      confidence: float = CONFIDENCE) -> tuple[float, float] | Undefined:
    """Percentile CI of the mean of ``values``, resampling clusters (patients)."""
    v = np.asarray(values, np.float64)
    keep = np.isfinite(v)
    v, c = v[keep], np.asarray(clusters)[keep]
    if len(np.unique(c)) < 2:
        return Undefined(f"{len(np.unique(c))} patient(s): no interval")
    weights = _cluster_weights(c, resamples, seed)
    totals = weights.sum(axis=1)
    means = np.where(totals > 0, weights @ v / np.maximum(totals, 1e-12), np.nan)
    return _percentile_ci(means, confidence)


@dataclass(frozen=True)
class Operating:
    threshold: float
    sensitivity: float
    specificity: float


def at_threshold(labels: np.ndarray, scores: np.ndarray, threshold: float) -> Operating:
    """Sensitivity and specificity when ``score >= threshold`` is called positive."""
    y = np.asarray(labels)
    called = np.asarray(scores) >= threshold
    pos, neg = class_counts(y)
    sens = float((called & (y == 1)).sum() / pos) if pos else math.nan
    spec = float((~called & (y == 0)).sum() / neg) if neg else math.nan
    return Operating(float(threshold), sens, spec)


def youden_threshold(labels: np.ndarray, scores: np.ndarray) -> float | Undefined:
    """The threshold maximising sensitivity + specificity − 1 (ties: the lowest)."""
    y = np.asarray(labels)
    reason = why_undefined(y)
    if reason:
        return Undefined(reason)
    candidates = np.unique(np.asarray(scores, np.float64))
    best, best_j = float(candidates[0]), -math.inf
    for t in candidates:
        op = at_threshold(y, scores, float(t))
        j = op.sensitivity + op.specificity - 1.0
        if j > best_j + 1e-12:
            best, best_j = float(t), j
    return best


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate) at every distinct threshold, from (0, 0)."""
    y = np.asarray(labels)
    s = np.asarray(scores, np.float64)
    pos, neg = class_counts(y)
    thresholds = np.unique(s)[::-1]
    tpr = [0.0] + [float(((s >= t) & (y == 1)).sum() / max(pos, 1)) for t in thresholds]
    fpr = [0.0] + [float(((s >= t) & (y == 0)).sum() / max(neg, 1)) for t in thresholds]
    return np.asarray(fpr), np.asarray(tpr)


@dataclass(frozen=True)
class Reliability:
    bin_lower: np.ndarray  # (bins,)
    mean_predicted: np.ndarray  # NaN for empty bins
    observed: np.ndarray
    count: np.ndarray
    ece: float  # expected calibration error: count-weighted |observed − predicted|


def reliability(labels: np.ndarray, probs: np.ndarray, bins: int = 10) -> Reliability:
    """Observed positive fraction against mean predicted probability in equal-width bins."""
    y = np.asarray(labels, np.float64)
    p = np.clip(np.asarray(probs, np.float64), 0.0, 1.0)
    idx = np.minimum((p * bins).astype(int), bins - 1)
    count = np.bincount(idx, minlength=bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.bincount(idx, p, bins) / count
        obs = np.bincount(idx, y, bins) / count
    filled = count > 0
    ece = float((np.abs(obs - mean_p)[filled] * count[filled]).sum() / max(count.sum(), 1.0))
    return Reliability(np.arange(bins) / bins, mean_p, obs, count, ece)


@dataclass(frozen=True)
class Spread:
    """Mean, sample SD, min and max of repeated measurements (seeds, runs)."""

    mean: float
    sd: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        arr = np.asarray([v for v in values if v is not None and math.isfinite(v)], np.float64)
        if arr.size == 0:
            return cls(math.nan, math.nan, math.nan, math.nan, 0)
        sd = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
        return cls(float(arr.mean()), sd, float(arr.min()), float(arr.max()), int(arr.size))

    def to_json(self, digits: int = 4) -> dict[str, float | int | None]:
        def r(v: float) -> float | None:
            return round(v, digits) if math.isfinite(v) else None

        return {"mean": r(self.mean), "sd": r(self.sd), "min": r(self.low), "max": r(self.high),
                "n": self.n}


def fmt_interval(ci: Sequence[float] | None, digits: int) -> str:
    """``[lo, hi]`` with ``digits`` decimals, or ``[n/a]``."""
    return f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]" if ci else "[n/a]"
