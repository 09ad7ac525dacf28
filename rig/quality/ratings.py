"""Human ratings (pure): CSV parsing, per-rater order, consensus and agreement.

* Consensus of a photo: the majority grade of its raters; a tie goes to the lowest of
  the tied grades (a photo two raters call poor and two call good is not good).
* Inter-rater agreement: Cohen's quadratic weighted kappa of every pair of raters over
  the photos both rated (Cohen 1968; weights (i - j)² / (K - 1)²), and their mean.
* The automatic grades are compared with the consensus the same way (QWK, exact and
  within-one agreement).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np

from rig.errors import InputError

GRADE_RANGE = (1, 4)
CSV_COLUMNS = ("rater", "photo", "grade")


@dataclass(frozen=True)
class Rating:
    rater: str
    photo: str
    grade: int
    line: int = field(default=0, compare=False)  # where it came from in an imported CSV


def parse_ratings_csv(text: str, name: str) -> list[Rating]:
    """Rows of a ``rater,photo,grade`` CSV (header required); a bad row is an InputError
    naming the file and line."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header] != list(CSV_COLUMNS):
        raise InputError(f"{name} line 1: the header must be exactly 'rater,photo,grade'")
    out: list[Rating] = []
    seen: dict[tuple[str, str], int] = {}
    for line, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != 3:
            raise InputError(f"{name} line {line}: expected 3 fields (rater,photo,grade), "
                             f"got {len(row)}")
        rater, photo, grade_text = (cell.strip() for cell in row)
        if not rater or not photo:
            raise InputError(f"{name} line {line}: rater and photo must not be empty")
        try:
            grade = int(grade_text)
        except ValueError:
            grade = 0
        if not GRADE_RANGE[0] <= grade <= GRADE_RANGE[1]:
            raise InputError(f"{name} line {line}: grade '{grade_text}' must be 1, 2, 3 or 4")
        if (rater, photo) in seen:
            raise InputError(f"{name} line {line}: rater '{rater}' already rated '{photo}' on "
                             f"line {seen[(rater, photo)]}")
        seen[(rater, photo)] = line
        out.append(Rating(rater, photo, grade, line))
    return out


def rater_order(photos: Sequence[str], rater: str) -> list[str]:
    """``photos`` shuffled for ``rater``: each rater sees another order (so no two raters
    drift together), the same one every time (so a rater can stop and resume)."""
    seed = int.from_bytes(hashlib.sha256(rater.encode()).digest()[:8], "big")
    order = np.random.default_rng(seed).permutation(len(photos))
    return [photos[i] for i in order]


def consensus(ratings: Iterable[Rating]) -> dict[str, int]:
    """Majority grade per photo, ties to the lowest tied grade."""
    votes: dict[str, Counter[int]] = defaultdict(Counter)
    for r in ratings:
        votes[r.photo][r.grade] += 1
    out = {}
    for photo, counter in votes.items():
        top = max(counter.values())
        out[photo] = min(g for g, n in counter.items() if n == top)
    return out


def quadratic_weighted_kappa(a: Sequence[int], b: Sequence[int], k: int = 4) -> float:
    """Cohen's kappa with quadratic weights for grades 1..k (1 = perfect, 0 = chance).

    Both raters constant at the same grade agree perfectly but chance does too; that
    undefined case returns 1.0 if they agree everywhere, else 0.0.
    """
    if len(a) != len(b):
        raise ValueError("both raters must grade the same photos")
    if not a:
        return float("nan")
    x, y = np.asarray(a, np.int64) - 1, np.asarray(b, np.int64) - 1
    observed = np.zeros((k, k))
    np.add.at(observed, (x, y), 1.0)
    expected = np.outer(observed.sum(1), observed.sum(0)) / len(a)
    i, j = np.indices((k, k))
    weights = (i - j) ** 2 / (k - 1) ** 2
    denom = float((weights * expected).sum())
    if denom == 0.0:
        return 1.0 if np.array_equal(x, y) else 0.0
    return 1.0 - float((weights * observed).sum()) / denom


@dataclass(frozen=True)
class Agreement:
    """Agreement of two gradings over their common photos."""

    photos: int
    qwk: float
    exact: float  # fraction graded the same
    within_one: float  # fraction at most one grade apart

    def to_dict(self) -> dict[str, float]:
        return {"photos": self.photos, "qwk": self.qwk, "exact": self.exact,
                "within_one": self.within_one}


def agreement(a: Mapping[str, int], b: Mapping[str, int]) -> Agreement:
    """QWK, exact and within-one agreement of two photo -> grade maps on common photos."""
    common = sorted(set(a) & set(b))
    x = [a[p] for p in common]
    y = [b[p] for p in common]
    if not common:
        return Agreement(0, float("nan"), float("nan"), float("nan"))
    diff = np.abs(np.asarray(x) - np.asarray(y))
    return Agreement(len(common), quadratic_weighted_kappa(x, y),
                     float((diff == 0).mean()), float((diff <= 1).mean()))


def by_rater(ratings: Iterable[Rating]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for r in ratings:
        out[r.rater][r.photo] = r.grade
    return dict(out)


def inter_rater(ratings: Sequence[Rating], min_common: int = 1) -> dict[str, Any]:
    """Pairwise QWK of every two raters with ``min_common`` photos in common, and the mean."""
    raters = by_rater(ratings)
    pairs: list[dict[str, Any]] = []
    kappas: list[float] = []
    for r1, r2 in combinations(sorted(raters), 2):
        ag = agreement(raters[r1], raters[r2])
        if ag.photos >= min_common:
            pairs.append({"raters": [r1, r2], **ag.to_dict()})
            if np.isfinite(ag.qwk):
                kappas.append(ag.qwk)
    return {"raters": len(raters), "pairs": pairs,
            "mean_qwk": float(np.mean(kappas)) if kappas else None}
