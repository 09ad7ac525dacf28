"""The tone-curve baseline: weighted isotonic regression and recovery of a known curve."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import isotonic_regression

from rig.ml.models.tonecurve import ToneCurve, ToneCurveConfig, accumulate, fit_lut, isotonic


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-100, 100), st.floats(0.1, 50)), min_size=1, max_size=40))
def test_isotonic_matches_scipy(points: list[tuple[float, float]]) -> None:
    values = np.array([p[0] for p in points])
    weights = np.array([p[1] for p in points])
    expected = isotonic_regression(values, weights=weights, increasing=True).x
    np.testing.assert_allclose(isotonic(values, weights), expected, rtol=1e-9, atol=1e-9)


def test_lut_recovers_known_monotone_curve() -> None:
    rng = np.random.default_rng(3)
    curve = lambda a: 255.0 * (a / 255.0) ** 1.8  # noqa: E731  the truth as a function of the photo
    pairs = []
    for _ in range(4):
        aligned = rng.integers(0, 256, (96, 96)).astype(np.uint8)
        truth = np.clip(np.rint(curve(aligned.astype(np.float64)) + rng.normal(0, 4, aligned.shape)), 0, 255)
        mask = rng.random(aligned.shape) > 0.2
        pairs.append((aligned, truth.astype(np.uint8), mask))
    lut = fit_lut(*accumulate(pairs))
    levels = np.arange(256, dtype=np.float64)
    assert np.all(np.diff(lut) >= 0)
    # ~115 samples per level with sigma 4: the mean is within ~1.2 grey levels; the ends
    # are biased by clipping of the noise at 0 and 255, so compare the mid-range.
    mid = slice(16, 240)
    assert np.max(np.abs(lut[mid] - curve(levels[mid]))) < 1.5
    model = ToneCurve(ToneCurveConfig())
    model.lut.copy_(torch.from_numpy(lut / 255.0))  # type: ignore[operator]
    x = torch.from_numpy(levels / 255.0).float().view(1, 1, 16, 16)
    np.testing.assert_allclose(model(x).numpy().ravel() * 255.0, lut, atol=1e-3)


def test_lut_ignores_pixels_outside_the_mask_and_fills_gaps() -> None:
    aligned = np.array([[10, 10, 200, 200]], np.uint8)
    truth = np.array([[20, 99, 240, 0]], np.uint8)
    mask = np.array([[True, False, True, False]])
    lut = fit_lut(*accumulate([(aligned, truth, mask)]))
    assert lut[10] == 20 and lut[200] == 240
    assert lut[0] == 20 and lut[255] == 240  # constant beyond the seen range
    np.testing.assert_allclose(lut[105], 20 + (240 - 20) * (105 - 10) / 190)
