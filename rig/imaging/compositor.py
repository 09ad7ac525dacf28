"""Placing a rendered image on the screen-sized canvas, without blurring.

The canvas is what the monitor shows pixel for pixel. Placement is 1:1 by
default; integer up-scaling or letterboxing ("fit") are on request and always
nearest-neighbour, with the exact scale and offset recorded so registration can
map screen pixels back to image pixels. A band of ``border_px`` on every edge is
kept free for the fiducial border (drawn by ``calibration.fiducials``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rig.errors import InputError

PLACEMENTS = ("1:1", "integer", "fit")


@dataclass(frozen=True)
class Placement:
    """Where the image sits on the screen: screen = offset + scale * image."""

    scale: float
    offset_x: int
    offset_y: int
    width: int  # placed size on screen, in screen pixels
    height: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_placement(
    image_wh: tuple[int, int], screen_wh: tuple[int, int], mode: str = "1:1", border_px: int = 0
) -> Placement:
    """Choose scale and offset for an image of ``image_wh`` inside the free area."""
    if mode not in PLACEMENTS:
        raise InputError(f"placement '{mode}' unknown; use one of {', '.join(PLACEMENTS)}")
    img_w, img_h = image_wh
    free_w, free_h = screen_wh[0] - 2 * border_px, screen_wh[1] - 2 * border_px
    if free_w <= 0 or free_h <= 0:
        raise InputError(f"screen {screen_wh[0]}x{screen_wh[1]} leaves no room inside the border")
    fit = min(free_w / img_w, free_h / img_h)
    if mode == "1:1":
        if fit < 1:
            raise InputError(
                f"image {img_w}x{img_h} does not fit 1:1 in the {free_w}x{free_h} free area; "
                "use placement 'fit' or a larger screen"
            )
        scale: float = 1.0
    elif mode == "integer":
        scale = float(max(1, math.floor(fit))) if fit >= 1 else fit
    else:
        scale = fit
    width, height = max(1, round(img_w * scale)), max(1, round(img_h * scale))
    offset_x = border_px + (free_w - width) // 2
    offset_y = border_px + (free_h - height) // 2
    return Placement(scale, offset_x, offset_y, width, height)


def resample_nearest(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Nearest-neighbour resize that samples the image pixel under each target centre."""
    src_h, src_w = image.shape[:2]
    if (src_w, src_h) == (width, height):
        return image
    ys = np.minimum(((np.arange(height) + 0.5) * src_h / height).astype(np.int64), src_h - 1)
    xs = np.minimum(((np.arange(width) + 0.5) * src_w / width).astype(np.int64), src_w - 1)
    return image[ys[:, None], xs[None, :]]


def compose(
    image: np.ndarray,
    screen_wh: tuple[int, int],
    mode: str = "1:1",
    border_px: int = 0,
) -> tuple[np.ndarray, Placement]:
    """Black screen canvas with ``image`` (uint8, (H,W) or (H,W,3)) placed on it."""
    if image.dtype != np.uint8:
        raise InputError(f"compositor takes 8-bit frames, got {image.dtype}")
    placement = plan_placement((image.shape[1], image.shape[0]), screen_wh, mode, border_px)
    placed = resample_nearest(image, placement.width, placement.height)
    canvas = np.zeros((screen_wh[1], screen_wh[0], *image.shape[2:]), dtype=np.uint8)
    y0, x0 = placement.offset_y, placement.offset_x
    canvas[y0 : y0 + placement.height, x0 : x0 + placement.width] = placed
    return canvas, placement
