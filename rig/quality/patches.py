"""A photo as a bag of tiles (pure numpy): P x P tiles at native resolution.

Tiles cover the image area edge to edge: ceil(W / P) columns spread evenly from the
left edge to the right one (neighbours overlap rather than leaving a strip out), the
same for rows. Tiles mostly outside the valid mask (under ``min_valid``) are dropped;
an image smaller than a tile is padded by reflection. Native resolution matters: blur,
noise and moiré live at the pixel scale that resizing would destroy.
"""

from __future__ import annotations

import cv2
import numpy as np


def tile_starts(length: int, patch: int) -> list[int]:
    """Start offsets of the tiles covering ``length`` pixels (evenly spread)."""
    if length <= patch:
        return [0]
    count = -(-length // patch)
    return [round(i * (length - patch) / (count - 1)) for i in range(count)]


def tile_boxes(height: int, width: int, patch: int) -> np.ndarray:
    """(N, 4) int boxes (x, y, w, h) covering an image of ``height`` x ``width``."""
    return np.array([(x, y, patch, patch) for y in tile_starts(height, patch)
                     for x in tile_starts(width, patch)], np.int64).reshape(-1, 4)


def _pad_to(image: np.ndarray, patch: int) -> np.ndarray:
    dy, dx = max(0, patch - image.shape[0]), max(0, patch - image.shape[1])
    if not dy and not dx:
        return image
    return cv2.copyMakeBorder(image, 0, dy, 0, dx, cv2.BORDER_REFLECT)


def to_tiles(
    image: np.ndarray, patch: int, mask: np.ndarray | None = None, min_valid: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Tiles (N, P, P) (or (N, P, P, C)) uint8 and their boxes (N, 4) in ``image``.

    ``mask`` (bool, the image's size) drops tiles with less than ``min_valid`` valid
    pixels; at least one tile (the most valid) is always kept.
    """
    padded = _pad_to(image, patch)
    boxes = tile_boxes(padded.shape[0], padded.shape[1], patch)
    if mask is not None:
        valid = _pad_to(mask.astype(np.uint8), patch)
        fractions = np.array([valid[y : y + h, x : x + w].mean() for x, y, w, h in boxes])
        keep = fractions >= min_valid
        if not keep.any():
            keep[int(np.argmax(fractions))] = True
        boxes = boxes[keep]
    tiles = np.stack([padded[y : y + h, x : x + w] for x, y, w, h in boxes])
    return tiles, boxes
