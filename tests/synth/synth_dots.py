"""Dot targets and a dot detector used as the geometry oracle of the synth tests.

Not a test module (no ``test_`` prefix); imported by the synth tests.
"""

from __future__ import annotations

import cv2
import numpy as np

DOT_SIGMA_PX = 2.0
DOT_PEAK = 250.0


def dot_grid(width: int, height: int, step_px: int, margin_px: int, jitter: float) -> np.ndarray:
    """(N, 2) sub-pixel dot centres on a grid, each shifted by a fixed fraction ``jitter``."""
    xs = np.arange(margin_px, width - margin_px + 1, step_px, dtype=np.float64)
    ys = np.arange(margin_px, height - margin_px + 1, step_px, dtype=np.float64)
    grid = np.array([(x, y) for y in ys for x in xs])
    return grid + np.array([jitter, 1.0 - jitter]) * 0.9


def draw_dots(width: int, height: int, centres: np.ndarray) -> np.ndarray:
    """Black uint8 image with a Gaussian dot at each centre (pixel centres at integers)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    acc = np.zeros((height, width))
    for cx, cy in centres:
        acc += np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * DOT_SIGMA_PX**2))
    return np.clip(np.rint(acc * DOT_PEAK), 0, 255).astype(np.uint8)


def find_dots(image: np.ndarray, threshold: int = 25) -> np.ndarray:
    """(M, 2) intensity-weighted centroids of the bright blobs of ``image``."""
    mask = (image > threshold).astype(np.uint8)
    count, labels = cv2.connectedComponents(mask, connectivity=8)
    weights = image.astype(np.float64)
    yy, xx = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    found = []
    for label in range(1, count):
        sel = labels == label
        w = weights[sel] - threshold
        found.append((float((xx[sel] * w).sum() / w.sum()), float((yy[sel] * w).sum() / w.sum())))
    return np.array(found).reshape(-1, 2)


def project(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 3×3 homography to (N, 2) points."""
    homog = np.hstack([points, np.ones((len(points), 1))]) @ np.asarray(h).T
    return homog[:, :2] / homog[:, 2:3]


def max_match_error(predicted: np.ndarray, found: np.ndarray) -> float:
    """Largest distance from each found dot to its nearest predicted position."""
    d = np.linalg.norm(found[:, None, :] - predicted[None, :, :], axis=2)
    return float(d.min(axis=1).max())
