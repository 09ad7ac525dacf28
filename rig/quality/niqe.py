"""NIQE, the "completely blind" natural-image quality evaluator, written from the paper.

Mittal, Soundararajan, Bovik, "Making a 'completely blind' image quality analyzer",
IEEE Signal Processing Letters 20(3), 2013 — with the BRISQUE features of Mittal,
Moorthy, Bovik, IEEE TIP 21(12), 2012:

1. MSCN coefficients Î = (I − μ) / (σ + 1), μ and σ the local mean and deviation under
   a 7 × 7 Gaussian window (σ = 7/6).
2. Per P × P patch (P = 96) and at two scales (the image, then halved), 18 features:
   a generalised Gaussian fitted to Î (shape α, variance σ²) and an asymmetric one
   fitted to each of the four neighbour products Î(x)Î(x + d), d ∈ {→, ↓, ↘, ↙}
   (shape, mean, left and right variances), all by moment matching.
3. A *pristine* model: the mean ν and covariance Σ of the features over the sharpest
   patches (local-σ sum ≥ 0.75 of the image's sharpest) of a corpus of undistorted
   images. The score of a test image is the Mahalanobis-like distance between its own
   fit (all patches) and the pristine one: sqrt((ν₁−ν₂)ᵀ ((Σ₁+Σ₂)/2)⁺ (ν₁−ν₂)).
   Higher is worse.

The published pristine model was fitted on 125 natural photographs and is not
shipped with any package that works offline; rig fits its own on *ground-truth
display frames* (pristine by definition, and of the domain being judged), which
the paper's method allows: NIQE needs only examples of undistorted images.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

PATCH = 96
SHARP_FRACTION = 0.75
_ALPHAS = np.arange(0.2, 10.0, 0.001)
_LG = np.vectorize(math.lgamma)
# GGD: Γ(1/a)Γ(3/a)/Γ(2/a)² ; AGGD: its reciprocal — both monotone in a on this grid.
_GGD_RATIO = np.exp(_LG(1 / _ALPHAS) + _LG(3 / _ALPHAS) - 2 * _LG(2 / _ALPHAS))
_AGGD_RATIO = 1.0 / _GGD_RATIO


def mscn(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean-subtracted, contrast-normalised coefficients of a grey image, and the local
    deviation σ (both float64)."""
    x = image.astype(np.float64)
    mu = cv2.GaussianBlur(x, (7, 7), 7 / 6, borderType=cv2.BORDER_REPLICATE)
    var = cv2.GaussianBlur(x * x, (7, 7), 7 / 6, borderType=cv2.BORDER_REPLICATE) - mu * mu
    sigma = np.sqrt(np.abs(var))
    return np.asarray((x - mu) / (sigma + 1.0)), sigma


def _blocks(a: np.ndarray, p: int) -> np.ndarray:
    """(ny*nx, p*p) view of the whole p x p blocks of ``a``."""
    ny, nx = a.shape[0] // p, a.shape[1] // p
    return a[: ny * p, : nx * p].reshape(ny, p, nx, p).swapaxes(1, 2).reshape(ny * nx, p * p)


def _lookup(table: np.ndarray, target: np.ndarray) -> np.ndarray:
    return np.asarray(_ALPHAS[np.argmin(np.abs(table[None, :] - target[:, None]), axis=1)])


def ggd_features(x: np.ndarray) -> np.ndarray:
    """(N, 2): shape and variance of a zero-mean generalised Gaussian per row of ``x``."""
    sigma_sq = (x * x).mean(axis=1)
    e_abs = np.abs(x).mean(axis=1)
    rho = sigma_sq / np.maximum(e_abs * e_abs, 1e-12)
    return np.column_stack([_lookup(_GGD_RATIO, rho), sigma_sq])


def aggd_features(x: np.ndarray) -> np.ndarray:
    """(N, 4): shape, mean, left and right variance of an asymmetric GGD per row."""
    neg, pos = np.where(x < 0, x, 0.0), np.where(x > 0, x, 0.0)
    n_neg, n_pos = np.maximum((x < 0).sum(1), 1), np.maximum((x > 0).sum(1), 1)
    left = np.sqrt((neg * neg).sum(1) / n_neg)
    right = np.sqrt((pos * pos).sum(1) / n_pos)
    gamma = left / np.maximum(right, 1e-12)
    r_hat = np.abs(x).mean(1) ** 2 / np.maximum((x * x).mean(1), 1e-12)
    big_r = r_hat * (gamma**3 + 1) * (gamma + 1) / (gamma**2 + 1) ** 2
    alpha = _lookup(_AGGD_RATIO, big_r)
    lg1, lg2, lg3 = _LG(1 / alpha), _LG(2 / alpha), _LG(3 / alpha)
    beta_scale = np.exp(0.5 * (lg1 - lg3))
    mean = (right - left) * beta_scale * np.exp(lg2 - lg1)
    return np.column_stack([alpha, mean, left**2, right**2])


def _scale_features(image: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """(n_patches, 18) features and each patch's sharpness (sum of local σ) at one scale."""
    m, sigma = mscn(image)
    shifts = (m[:, 1:] * m[:, :-1], m[1:, :] * m[:-1, :], m[1:, 1:] * m[:-1, :-1],
              m[1:, :-1] * m[:-1, 1:])
    h, w = m.shape[0] - 1, m.shape[1] - 1  # common size of the neighbour products
    feats = [ggd_features(_blocks(m[:h, :w], p))]
    feats += [aggd_features(_blocks(s[:h, :w], p)) for s in shifts]
    return np.hstack(feats), _blocks(sigma[:h, :w], p).sum(1)


def patch_features(image: np.ndarray, patch: int = PATCH) -> tuple[np.ndarray, np.ndarray]:
    """(n, 36) two-scale features of every whole patch, and the patches' sharpness."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    f1, sharp = _scale_features(gray, patch)
    half = cv2.resize(gray.astype(np.float64), (gray.shape[1] // 2, gray.shape[0] // 2),
                      interpolation=cv2.INTER_CUBIC)
    f2, _ = _scale_features(half, patch // 2)
    n = min(len(f1), len(f2))
    return np.hstack([f1[:n], f2[:n]]), sharp[:n]


@dataclass(frozen=True)
class NiqeModel:
    """The pristine multivariate Gaussian: mean (36,) and covariance (36, 36)."""

    mean: np.ndarray
    cov: np.ndarray

    def score(self, image: np.ndarray, patch: int = PATCH) -> float:
        """NIQE of ``image`` (grey uint8): distance to the pristine model; higher is worse."""
        feats, _ = patch_features(image, patch)
        if len(feats) < 2:
            raise ValueError(f"NIQE needs at least two {patch}px patches")
        feats = feats[np.all(np.isfinite(feats), axis=1)]
        diff = self.mean - feats.mean(0)
        pooled = (self.cov + np.cov(feats, rowvar=False)) / 2
        return float(np.sqrt(max(0.0, float(diff @ np.linalg.pinv(pooled) @ diff))))


def fit_niqe(pristine: Iterable[np.ndarray], patch: int = PATCH) -> NiqeModel:
    """Fit the pristine model on undistorted images (their sharpest patches)."""
    rows = []
    for image in pristine:
        feats, sharp = patch_features(image, patch)
        keep = sharp >= SHARP_FRACTION * sharp.max() if sharp.size else sharp.astype(bool)
        rows.append(feats[keep])
    data = np.vstack(rows)
    data = data[np.all(np.isfinite(data), axis=1)]
    if len(data) < 2:
        raise ValueError("too few pristine patches to fit NIQE")
    return NiqeModel(data.mean(0), np.cov(data, rowvar=False))
