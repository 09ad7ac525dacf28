"""Simple no-reference baselines, oriented like the model's score (higher = worse).

* ``laplacian``: minus the variance of the Laplacian (the classic focus measure;
  Pech-Pacheco et al. 2000) — blur lowers it, but so does a flat image, and noise
  raises it.
* ``saturated``: the fraction of clipped pixels (glare and over-exposure).
* ``niqe``: NIQE (``rig.quality.niqe``) against a pristine model fitted on ground truths.

All are computed on the photo the model sees (the aligned photo, the ground truth's
pixels, inside the valid mask), never on the ground truth.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from rig.quality.niqe import NiqeModel

SATURATION_LEVEL = 250


def _inner(mask: np.ndarray, radius: int = 2) -> np.ndarray:
    size = 2 * radius + 1
    return cv2.erode(mask.astype(np.uint8), np.ones((size, size), np.uint8)).astype(bool)


def laplacian_score(photo: np.ndarray, mask: np.ndarray) -> float:
    lap = cv2.Laplacian(photo.astype(np.float64), cv2.CV_64F, ksize=3)
    inner = _inner(mask)
    return -float(lap[inner].var()) if inner.any() else 0.0


def saturated_score(photo: np.ndarray, mask: np.ndarray) -> float:
    valid = mask.astype(bool)
    return float((photo[valid] >= SATURATION_LEVEL).mean()) if valid.any() else 0.0


def baseline_scores(
    niqe_model: NiqeModel | None,
) -> dict[str, Callable[[np.ndarray, np.ndarray], float]]:
    """name -> score(photo (H, W) uint8 grey, mask (H, W) bool); NIQE when a model is given."""
    out: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
        "laplacian": laplacian_score,
        "saturated": saturated_score,
    }
    if niqe_model is not None:
        out["niqe"] = lambda photo, mask: niqe_model.score(photo)
    return out
