from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import confusion_matrix, mean_absolute_error, roc_auc_score, roc_curve

from rig.quality import evaluation as ev


@settings(max_examples=150, deadline=None)
@given(data=st.lists(st.tuples(st.booleans(), st.integers(0, 6)), min_size=2, max_size=80))
def test_auc_matches_scikit_learn_with_ties(data: list[tuple[bool, int]]) -> None:
    y = np.array([d[0] for d in data])
    s = np.array([d[1] for d in data], float)
    if y.all() or not y.any():
        assert np.isnan(ev.auc(y, s))
        return
    assert ev.auc(y, s) == pytest.approx(roc_auc_score(y, s))
    fpr, tpr, _ = ev.roc_curve(y, s)
    sk_fpr, sk_tpr, _ = roc_curve(y, s, drop_intermediate=False)
    assert np.allclose(fpr, sk_fpr) and np.allclose(tpr, sk_tpr)


def _toy(seed: int, n_patients: int = 40) -> tuple[np.ndarray, np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    patients = [f"p{i}" for i in range(n_patients) for _ in range(5)]
    y = rng.random(len(patients)) < 0.3
    score = y * 1.0 + rng.normal(0, 0.8, len(patients))
    return y, score, patients


def test_bootstrap_ci_reproducible_by_seed_and_patient_level() -> None:
    y, s, patients = _toy(1)
    a = ev.bootstrap_auc_ci(y, s, patients, n_boot=300, seed=7)
    assert a == ev.bootstrap_auc_ci(y, s, patients, n_boot=300, seed=7)
    assert a != ev.bootstrap_auc_ci(y, s, patients, n_boot=300, seed=8)
    assert a[0] < ev.auc(y, s) < a[1]
    # Five photos per patient are not five independent photos: resampling patients with a
    # shared patient effect gives a wider interval than resampling photos.
    rng = np.random.default_rng(2)
    effect = np.repeat(rng.normal(0, 1.5, 40), 5)
    clustered = s + effect
    by_patient = ev.bootstrap_auc_ci(y, clustered, patients, n_boot=400, seed=0)
    by_photo = ev.bootstrap_auc_ci(y, clustered, None, n_boot=400, seed=0)
    assert by_patient[1] - by_patient[0] > by_photo[1] - by_photo[0]


def test_youden_threshold_is_chosen_on_validation_only() -> None:
    rng = np.random.default_rng(0)
    grades_val = rng.integers(1, 5, 200)
    bad_val = grades_val < 3
    # P(grade <= k) per cut, informative on validation
    cum_val = np.column_stack([np.clip((grades_val <= k) * 0.6 + rng.random(200) * 0.4, 0, 1)
                               for k in (1, 2, 3)])
    point = ev.choose_operating_point(cum_val, bad_val)
    assert point.k == 2  # the cut that is the binary question
    thr, j = ev.youden_threshold(bad_val, cum_val[:, 1])
    assert (point.threshold, point.youden_j) == (thr, j)
    # The J-optimal threshold on a test split is elsewhere; the chosen one does not move.
    bad_test = rng.random(200) < 0.5
    test_score = bad_test * 0.2 + rng.random(200) * 0.9
    assert ev.youden_threshold(bad_test, test_score)[0] != point.threshold
    table = ev.score_table(bad_test, test_score, point.threshold, n_boot=50)
    assert table["threshold"] == point.threshold


def test_binary_and_ordinal_tables_match_scikit_learn() -> None:
    rng = np.random.default_rng(3)
    true = rng.integers(1, 5, 300)
    pred = np.clip(true + rng.integers(-1, 2, 300), 1, 4)
    table = ev.ordinal_table(true, pred)
    assert table["confusion"] == confusion_matrix(true, pred, labels=[1, 2, 3, 4]).tolist()
    assert table["mae"] == pytest.approx(mean_absolute_error(true, pred))
    bad, flagged = true < 3, pred < 3
    tn, fp, fn, tp = confusion_matrix(~bad, ~flagged).ravel()  # good is positive
    b = ev.binary_table(bad, flagged)
    assert b["sensitivity"] == pytest.approx(tp / (tp + fn))
    assert b["specificity"] == pytest.approx(tn / (tn + fp))
    assert b["ppv"] == pytest.approx(tp / (tp + fp)) and b["npv"] == pytest.approx(tn / (tn + fn))


def test_roc_plot_is_a_png(tmp_path: Path) -> None:
    y, s, _ = _toy(4)
    path = tmp_path / "roc.png"
    ev.plot_roc({"model": (y, s), "baseline": (y, -s)}, path, "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
