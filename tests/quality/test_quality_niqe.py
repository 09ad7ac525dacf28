from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from quality_helpers import real_like_image

from rig.quality.baselines import laplacian_score, saturated_score
from rig.quality.niqe import aggd_features, fit_niqe, ggd_features


def _ggd_samples(alpha: float, n: int, rng: np.random.Generator) -> np.ndarray:
    # |X|^alpha ~ Gamma(1/alpha): the standard generalised-Gaussian sampler.
    g = rng.gamma(1 / alpha, 1.0, n) ** (1 / alpha)
    return g * rng.choice([-1.0, 1.0], n)


@pytest.mark.parametrize("alpha", [0.6, 1.0, 2.0, 3.0])
def test_ggd_fit_recovers_the_shape(alpha: float) -> None:
    x = _ggd_samples(alpha, 200_000, np.random.default_rng(0))
    shape, var = ggd_features(x[None, :])[0]
    assert shape == pytest.approx(alpha, rel=0.05)
    expected_var = math.gamma(3 / alpha) / math.gamma(1 / alpha)
    assert var == pytest.approx(expected_var, rel=0.05)


def test_aggd_fit_recovers_asymmetry() -> None:
    rng = np.random.default_rng(1)
    x = np.abs(_ggd_samples(1.5, 200_000, rng))
    # An AGGD with scales 0.5 (left) and 2 (right) shares one density constant, so the
    # left side holds 0.5 / (0.5 + 2) of the mass.
    sided = np.where(rng.random(x.size) < 0.2, -0.5 * x, 2.0 * x)
    shape, mean, left_var, right_var = aggd_features(sided[None, :])[0]
    assert shape == pytest.approx(1.5, rel=0.08)
    assert right_var / left_var == pytest.approx(16.0, rel=0.05)
    assert mean > 0  # the heavier right side pulls the mean up


def test_niqe_ranks_distortions_below_pristine() -> None:
    model = fit_niqe(real_like_image(s, (480, 384)) for s in (11, 12, 13))
    clean = real_like_image(20, (480, 384))
    blurred = cv2.GaussianBlur(clean, (0, 0), 2.0)
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 15, clean.shape), 0, 255)
    pristine = model.score(clean)
    assert pristine < model.score(blurred) and pristine < model.score(noisy.astype(np.uint8))


def test_simple_baselines_point_the_right_way() -> None:
    image = real_like_image(5, (320, 240))
    mask = np.ones(image.shape, bool)
    assert laplacian_score(cv2.GaussianBlur(image, (0, 0), 2), mask) > laplacian_score(image, mask)
    glare = image.copy()
    glare[:60] = 255
    assert saturated_score(glare, mask) > saturated_score(image, mask)
