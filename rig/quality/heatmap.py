"""Where the problem is: a tile-attention heat map over the photo (pure numpy/OpenCV).

Each tile's attention weight is spread over its box (overlaps averaged) and scaled so
that a uniform bag reads 1; the map is coloured (OpenCV's JET: blue = ignored, red =
the tiles that drove the grade) and blended over the photo.
"""

from __future__ import annotations

import cv2
import numpy as np


def attention_map(attention: np.ndarray, boxes: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) float32: the mean attention of the tiles over each pixel, times N."""
    total = np.zeros(shape, np.float64)
    count = np.zeros(shape, np.float64)
    for a, (x, y, w, h) in zip(attention, boxes, strict=True):
        total[y : y + h, x : x + w] += float(a)
        count[y : y + h, x : x + w] += 1.0
    out = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    return np.asarray(out * len(attention), np.float32)


def heatmap_overlay(photo: np.ndarray, attention: np.ndarray, boxes: np.ndarray,
                    alpha: float = 0.45) -> np.ndarray:
    """(H, W, 3) uint8 BGR: ``photo`` (grey or BGR) under the coloured attention map."""
    base = photo if photo.ndim == 3 else cv2.cvtColor(photo, cv2.COLOR_GRAY2BGR)
    amap = attention_map(attention, boxes, base.shape[:2])
    top = float(amap.max())
    scaled = np.zeros(amap.shape, np.uint8) if top <= 0 else np.clip(
        255 * amap / top, 0, 255).astype(np.uint8)
    colour = cv2.applyColorMap(scaled, cv2.COLORMAP_JET)
    return np.asarray(cv2.addWeighted(base, 1 - alpha, colour, alpha, 0))
