"""Image-quality metrics in the display domain (8-bit, data range 255).

SSIM follows Wang et al. 2004 exactly: Gaussian window σ=1.5 (truncated at 3.5σ,
i.e. 11×11 as in the paper), K1=0.01, K2=0.03, L=255, population (not sample)
statistics. It matches scikit-image's ``structural_similarity(...,
gaussian_weights=True, use_sample_covariance=False, data_range=255)``.
"""

from __future__ import annotations

import cv2
import numpy as np

DATA_RANGE = 255.0
_SIGMA = 1.5
_TRUNCATE = 3.5


def _as_float(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def psnr(reference: np.ndarray, test: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB (inf for identical images), over ``mask`` if given."""
    ref, tst = _as_float(reference), _as_float(test)
    if ref.shape != tst.shape:
        raise ValueError(f"shape mismatch {ref.shape} vs {tst.shape}")
    err = (ref - tst) ** 2
    if mask is not None:
        err = err[np.broadcast_to(mask.astype(bool), err.shape)]
    mse = float(err.mean()) if err.size else float("nan")
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(DATA_RANGE**2 / mse))


def _gauss(a: np.ndarray) -> np.ndarray:
    radius = int(_TRUNCATE * _SIGMA + 0.5)
    ksize = 2 * radius + 1
    # BORDER_REFLECT (not REFLECT_101) is scipy's 'reflect', which skimage uses.
    return cv2.GaussianBlur(a, (ksize, ksize), _SIGMA, borderType=cv2.BORDER_REFLECT)


def ssim_map(reference: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM of two grayscale images (H, W)."""
    x, y = _as_float(reference), _as_float(test)
    if x.shape != y.shape or x.ndim != 2:
        raise ValueError(f"ssim needs two equal 2-D images, got {x.shape} and {y.shape}")
    c1, c2 = (0.01 * DATA_RANGE) ** 2, (0.03 * DATA_RANGE) ** 2
    mx, my = _gauss(x), _gauss(y)
    vx = _gauss(x * x) - mx * mx
    vy = _gauss(y * y) - my * my
    cxy = _gauss(x * y) - mx * my
    num = (2 * mx * my + c1) * (2 * cxy + c2)
    den = (mx * mx + my * my + c1) * (vx + vy + c2)
    return np.asarray(num / den)


def ssim(reference: np.ndarray, test: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean SSIM; with ``mask`` the mean is over masked pixels whose window lies inside.

    Like skimage, the 3σ-radius band at the image edge is left out of the mean
    (its windows are padded by reflection).
    """
    smap = ssim_map(reference, test)
    pad = int(_TRUNCATE * _SIGMA + 0.5)  # window radius (5: an 11x11 window)
    valid = np.zeros(smap.shape, dtype=bool)
    valid[pad : smap.shape[0] - pad, pad : smap.shape[1] - pad] = True
    if mask is not None:
        eroded = cv2.erode(mask.astype(np.uint8), np.ones((2 * pad + 1, 2 * pad + 1), np.uint8))
        valid &= eroded.astype(bool)
    return float(smap[valid].mean()) if valid.any() else float("nan")
