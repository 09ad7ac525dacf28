"""The moiré line mask, evaluated analytically per output pixel.

The original drew a square RGBA mask of side ``2·max(upsampled size)`` (for a
full-size radiograph that is ~12 000² px, over 500 MB), fanned its horizontal
lines with a PIL perspective warp, rotated it, then cropped an offset window.
All three steps sampled nearest-neighbour, so each output pixel reads exactly
one base-mask row. We follow that chain backwards for each output pixel with
the same PIL sampling rules (sample at pixel centre + 0.5, then floor) and
test the row, in chunks of rows, so memory stays proportional to the image.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

_CHUNK_ROWS = 256


def fan_homography(side_px: int, spread: float) -> np.ndarray:
    """Output→input map of the original's fanning warp (edge coordinates).

    The warped mask's left edge reads the middle ``spread`` of the base mask's
    left edge, its right edge reads the whole right edge, so lines converge.
    """
    m = float(side_px)
    out_pts = np.array([[0, 0], [m, 0], [m, m], [0, m]], dtype=np.float32)
    in_pts = np.array(
        [[0, m * (0.5 - spread / 2)], [m, 0], [m, m], [0, m * (0.5 + spread / 2)]],
        dtype=np.float32,
    )
    return cv2.getPerspectiveTransform(out_pts, in_pts).astype(np.float64)


def moire_alpha(
    size_wh: tuple[int, int],
    *,
    angle_deg: float,
    spread: float,
    offset_px: tuple[float, float],
    thickness_px: float,
    gap_px: float,
    opacity: float,
    scale: float = 1.0,
    row_range: tuple[int, int] | None = None,
) -> np.ndarray:
    """Alpha (0–255, uint8) of one fanned, rotated, offset line mask; shape (H, W).

    With ``row_range=(y0, y1)`` only those output rows are computed, shape
    (y1 - y0, W), so a caller can stream a large image through in bands.

    ``thickness_px`` and ``gap_px`` are in reference pixels; a row of the
    base mask is a line if ``floor((row + 0.5) / scale) mod (thickness + gap) <
    thickness`` (for scale 1 this is the original's ``row mod period``).
    """
    width, height = size_wh
    side = 2 * max(width, height)
    left, upper = (side - width) // 2, (side - height) // 2
    # PIL's crop rounds its (float) box with Python's round().
    ox, oy = round(offset_px[0]), round(offset_px[1])
    fan = fan_homography(side, spread)
    rad = math.radians(angle_deg)
    cos, sin = math.cos(rad), math.sin(rad)
    centre = side / 2.0
    period = thickness_px + gap_px
    line_alpha = np.uint8(int(opacity * 255))
    first, stop = (0, height) if row_range is None else row_range
    out = np.zeros((stop - first, width), dtype=np.uint8)
    cols = np.arange(width) + left + ox  # crop window in the rotated mask; PIL pads with 0
    col_ok = (cols >= 0) & (cols < side)
    xs = cols + 0.5 - centre
    for y0 in range(first, stop, _CHUNK_ROWS):
        rows = np.arange(y0, min(y0 + _CHUNK_ROWS, stop)) + upper + oy
        px = np.broadcast_to(xs[None, :], (rows.size, width))
        py = np.broadcast_to((rows + 0.5 - centre)[:, None], (rows.size, width))
        # Inverse of a counter-clockwise rotation on screen (y down) about the centre.
        rot_i = np.floor(cos * px - sin * py + centre)
        rot_j = np.floor(sin * px + cos * py + centre)
        inside = col_ok[None, :] & ((rows >= 0) & (rows < side))[:, None]
        inside &= (rot_i >= 0) & (rot_i < side) & (rot_j >= 0) & (rot_j < side)
        qx, qy = rot_i + 0.5, rot_j + 0.5
        den = fan[2, 0] * qx + fan[2, 1] * qy + fan[2, 2]
        base_i = np.floor((fan[0, 0] * qx + fan[0, 1] * qy + fan[0, 2]) / den)
        base_j = np.floor((fan[1, 0] * qx + fan[1, 1] * qy + fan[1, 2]) / den)
        inside &= (base_i >= 0) & (base_i < side) & (base_j >= 0) & (base_j < side)
        ref_row = np.floor((base_j + 0.5) / scale)
        is_line = np.remainder(ref_row, period) < thickness_px
        out[y0 - first : y0 - first + rows.size] = np.where(inside & is_line, line_alpha, 0)
    return out
