"""AUROC, DeLong and the patient-level bootstrap against independent computations:
scikit-learn's ``roc_auc_score`` / ``roc_curve``, and DeLong's structural components
written here straight from the 1988 paper (an O(m·n) double loop over the kernel ψ)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from rig.ml import stats


def _psi(x: float, y: float) -> float:
    return 1.0 if x > y else (0.5 if x == y else 0.0)


def delong_from_the_paper(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(z, two-sided p) of AUROC(a) − AUROC(b): DeLong et al. 1988, eqs. for V10, V01, S10, S01."""
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    m, n = len(pos), len(neg)
    comps = []
    for s in (a, b):
        v10 = np.array([sum(_psi(s[i], s[j]) for j in neg) / n for i in pos])
        v01 = np.array([sum(_psi(s[i], s[j]) for i in pos) / m for j in neg])
        comps.append((v10, v01))
    (v10a, v01a), (v10b, v01b) = comps

    def cov(u: np.ndarray, v: np.ndarray) -> float:
        return float(((u - u.mean()) * (v - v.mean())).sum() / (len(u) - 1))

    s10 = [[cov(v10a, v10a), cov(v10a, v10b)], [cov(v10b, v10a), cov(v10b, v10b)]]
    s01 = [[cov(v01a, v01a), cov(v01a, v01b)], [cov(v01b, v01a), cov(v01b, v01b)]]
    var = ((s10[0][0] + s10[1][1] - 2 * s10[0][1]) / m
           + (s01[0][0] + s01[1][1] - 2 * s01[0][1]) / n)
    z = (v10a.mean() - v10b.mean()) / math.sqrt(var)
    p = 2.0 * (1.0 - 0.5 * (1.0 + math.erf(abs(z) / math.sqrt(2.0))))
    return float(z), float(p)


def _case(seed: int, n: int = 60, ties: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    y[:2], y[2:4] = 1, 0
    a = y * 1.0 + rng.normal(0, 0.9, n)
    b = 0.6 * a + rng.normal(0, 0.7, n)  # correlated with a, as two views of one case are
    if ties:
        a, b = np.round(a, 1), np.round(b, 1)
    return y, a, b


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(-5, 5)), min_size=2, max_size=40))
def test_auroc_equals_scikit_learn_with_ties(cases: list[tuple[int, int]]) -> None:
    y = np.array([c[0] for c in cases])
    s = np.array([c[1] for c in cases], np.float64)
    if len(set(y.tolist())) < 2:
        assert math.isnan(stats.auroc(y, s))
        assert stats.why_undefined(y) is not None
        return
    assert stats.auroc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


@pytest.mark.parametrize(("seed", "ties"), [(0, False), (1, True), (2, False), (3, True)])
def test_delong_matches_the_structural_components_definition(seed: int, ties: bool) -> None:
    y, a, b = _case(seed, ties=ties)
    got = stats.delong_paired(y, a, b)
    assert isinstance(got, stats.DeLongResult)
    z, p = delong_from_the_paper(y, a, b)
    assert got.z == pytest.approx(z, rel=1e-9)
    assert got.p == pytest.approx(p, rel=1e-7, abs=1e-12)
    assert got.auc_a == pytest.approx(roc_auc_score(y, a), abs=1e-12)
    assert got.auc_b == pytest.approx(roc_auc_score(y, b), abs=1e-12)


def test_delong_on_identical_scores_and_on_one_class() -> None:
    y, a, _ = _case(4)
    same = stats.delong_paired(y, a, a)
    assert isinstance(same, stats.DeLongResult) and same.diff == 0.0 and same.p == 1.0
    one = stats.delong_paired(np.ones(10, int), a[:10], a[:10])
    assert isinstance(one, stats.Undefined) and "only positives" in one.reason


def test_cluster_bootstrap_resamples_whole_patients() -> None:
    # The oracle builds each resample as an explicit list of images (every image of a drawn
    # patient, once per draw) and asks scikit-learn for its AUROC.
    y, a, _ = _case(5, n=48)
    patients = np.array([f"p{i // 3:02d}" for i in range(len(y))])  # 3 images per patient
    got = stats.bootstrap_auroc_ci(y, a, patients, resamples=300, seed=11)
    assert isinstance(got, tuple)
    ids = np.unique(patients)
    rng = np.random.default_rng(11)
    draws = rng.integers(0, len(ids), size=(300, len(ids)))
    values = []
    for d in draws:
        idx = np.concatenate([np.flatnonzero(patients == ids[k]) for k in d])
        if len(set(y[idx].tolist())) == 2:
            values.append(roc_auc_score(y[idx], a[idx]))
    lo, hi = np.percentile(values, [2.5, 97.5])
    assert got == pytest.approx((lo, hi), abs=1e-12)
    assert got[0] < stats.auroc(y, a) < got[1]


def test_cluster_bootstrap_is_wider_when_images_repeat_within_patients() -> None:
    # The same 40 independent cases, each copied 5 times: 200 images but still 40 patients.
    y, a, _ = _case(6, n=40)
    y5, a5 = np.repeat(y, 5), np.repeat(a, 5)
    by_patient = stats.bootstrap_auroc_ci(y5, a5, np.repeat(np.arange(40).astype(str), 5), seed=1)
    by_image = stats.bootstrap_auroc_ci(y5, a5, np.arange(200).astype(str), seed=1)
    assert isinstance(by_patient, tuple) and isinstance(by_image, tuple)
    assert by_patient[1] - by_patient[0] > 1.8 * (by_image[1] - by_image[0])


def test_paired_difference_ci_brackets_the_difference() -> None:
    y, a, b = _case(7, n=80)
    ci = stats.bootstrap_diff_ci(y, a, b, np.arange(80).astype(str), seed=3)
    assert isinstance(ci, tuple)
    assert ci[0] < stats.auroc(y, a) - stats.auroc(y, b) < ci[1]
    none = stats.bootstrap_auroc_ci(np.zeros(5, int), a[:5], np.arange(5).astype(str))
    assert isinstance(none, stats.Undefined) and "only negatives" in none.reason


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_youden_threshold_maximises_tpr_minus_fpr(seed: int) -> None:
    y, a, _ = _case(seed, n=50, ties=True)
    t = stats.youden_threshold(y, a)
    assert isinstance(t, float)
    fpr, tpr, _ = sk_roc_curve(y, a)
    best = float(np.max(tpr - fpr))
    op = stats.at_threshold(y, a, t)
    assert op.sensitivity + op.specificity - 1.0 == pytest.approx(best, abs=1e-12)


def test_roc_curve_matches_scikit_learn_points() -> None:
    y, a, _ = _case(8, n=30, ties=True)
    fpr, tpr = stats.roc_curve(y, a)
    sk_fpr, sk_tpr, _ = sk_roc_curve(y, a, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr, atol=1e-12)
    np.testing.assert_allclose(tpr, sk_tpr, atol=1e-12)
    assert np.trapezoid(tpr, fpr) == pytest.approx(roc_auc_score(y, a), abs=1e-12)


def test_reliability_of_a_calibrated_predictor() -> None:
    rng = np.random.default_rng(9)
    p = rng.random(20000)
    y = (rng.random(20000) < p).astype(int)
    rel = stats.reliability(y, p, bins=10)
    assert rel.count.sum() == 20000
    np.testing.assert_allclose(rel.observed, rel.mean_predicted, atol=0.03)
    assert rel.ece < 0.02
    assert stats.reliability(y, np.clip(p * 0.3, 0, 1)).ece > 0.2  # overconfident negatives


def test_spread_summary() -> None:
    s = stats.Spread.of([1.0, 2.0, 4.0])
    assert (s.mean, s.low, s.high, s.n) == (pytest.approx(7 / 3), 1.0, 4.0, 3)
    assert s.sd == pytest.approx(np.std([1, 2, 4], ddof=1))
    assert stats.Spread.of([]).n == 0
