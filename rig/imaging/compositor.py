"""Placing a rendered image on the screen-sized canvas, without blurring.

The canvas is what the monitor shows pixel for pixel. Placement modes
(``PLACEMENTS``; the GUI offers the same list):

- ``auto`` (the default): 1:1 when the image fits the free area, else the smallest
  integer reduction k (k x k box filter) that makes it fit, up to
  ``AUTO_MAX_REDUCTION``; beyond that ``fit``. Real radiographs (CR ~1800x2000 to
  3000x3000) are larger than a 1920x1080 screen, so a default that refuses them
  would refuse most of what users have.
- ``1:1``: image pixels are screen pixels; an image larger than the free area is
  an error.
- ``integer``: the largest whole up-scaling that fits (pixel replication), or,
  for a larger image, the smallest integer reduction that fits (box filter).
- ``fit``: the largest non-integer scale that fits, nearest-neighbour sampled.

An integer reduction averages each k x k block of image pixels into one screen
pixel (blocks at the right/bottom edge average the pixels they hold), rounding
half up in integer arithmetic: deterministic, and no new structure. The exact
scale, reduction and offset are recorded (``Placement``), so registration can map
screen pixels back to image pixels: for a reduction k, screen pixel
``offset + j`` shows image pixels ``[k*j, k*j + k)``, centred on ``k*j + (k-1)/2``.
A band of ``border_px`` on every edge is kept free for the fiducial border (drawn
by ``calibration.fiducials``).

Which mode applies is decided in one place, ``resolve_placement``: command line >
capture plan > ``[display] placement`` of ``rig.toml`` > ``DEFAULT_PLACEMENT``; the
screen size the same way (``resolve_screen``). A session stores the resolved values
in its plan (``CapturePlan.settled``), so resume and replay use what ran.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import numpy as np

from rig.errors import InputError, RigError, UsageError

PLACEMENTS = ("auto", "1:1", "integer", "fit")
DEFAULT_PLACEMENT = "auto"
DEFAULT_SCREEN_WH = (1920, 1080)  # when neither the command, the plan nor rig.toml says
MIN_SCREEN_PX = 64
AUTO_MAX_REDUCTION = 4  # auto: beyond a 4x reduction, fit uses the screen better


@dataclass(frozen=True)
class Placement:
    """Where the image sits on the screen: screen = offset + scale * image.

    ``reduction`` is the integer box-filter factor k (scale = 1/k) when the image
    was reduced, else 1; ``mode`` is the mode that was applied (``auto`` resolved).
    """

    scale: float
    offset_x: int
    offset_y: int
    width: int  # placed size on screen, in screen pixels
    height: int
    mode: str = "1:1"
    reduction: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


T = TypeVar("T")


def first_chosen(
    levels: Sequence[tuple[str, T | None]], default: T, check: Callable[[str, T], None]
) -> T:
    """The value of the first level that chose one (``None`` or empty: not chosen at
    that level), checked by ``check(where, value)``; else ``default``."""
    for where, value in levels:
        if value:
            check(where, value)
            return value
    return default


def check_placement(where: str, value: str, error: type[RigError] = UsageError) -> None:
    """``error`` naming ``where`` unless ``value`` is one of ``PLACEMENTS``."""
    if value not in PLACEMENTS:
        raise error(f"{where} '{value}' unknown; use one of {', '.join(PLACEMENTS)}")


def check_screen(
    where: str, screen_wh: tuple[int, int], error: type[RigError] = UsageError
) -> None:
    """``error`` naming ``where`` unless the screen is at least ``MIN_SCREEN_PX`` square."""
    if min(screen_wh) < MIN_SCREEN_PX:
        raise error(
            f"{where} {screen_wh[0]}x{screen_wh[1]} is too small "
            f"(at least {MIN_SCREEN_PX}x{MIN_SCREEN_PX})"
        )


def resolve_placement(
    command_line: str | None = None, plan: str | None = None, configured: str | None = None
) -> str:
    """The placement mode: command line > capture plan > ``rig.toml [display]`` > default.

    ``None`` or ``""`` means "not chosen at this level". The chosen value must be
    one of ``PLACEMENTS`` (UsageError naming where it came from otherwise).
    """
    levels = (
        ("--placement", command_line),
        ("plan: placement", plan),
        ("rig.toml [display] placement", configured),
    )
    return first_chosen(levels, DEFAULT_PLACEMENT, check_placement)


def resolve_screen(
    command_line: tuple[int, int] | None = None,
    plan: tuple[int, int] | None = None,
    configured: tuple[int, int] | None = None,
) -> tuple[int, int]:
    """The screen size (width, height): command line > plan > ``rig.toml [display]`` >
    ``DEFAULT_SCREEN_WH``, like ``resolve_placement``; ``None`` means "not chosen"."""
    levels = (
        ("--screen", command_line),
        ("plan: screen", plan),
        ("rig.toml [display] screen", configured),
    )
    return first_chosen(levels, DEFAULT_SCREEN_WH, check_screen)


def reduction_to_fit(image_wh: tuple[int, int], free_wh: tuple[int, int]) -> int:
    """The smallest integer k with ceil(w/k) x ceil(h/k) inside the free area."""
    k = max(1, math.ceil(max(image_wh[0] / free_wh[0], image_wh[1] / free_wh[1])))
    while -(-image_wh[0] // k) > free_wh[0] or -(-image_wh[1] // k) > free_wh[1]:
        k += 1
    return k


def plan_placement(
    image_wh: tuple[int, int],
    screen_wh: tuple[int, int],
    mode: str = DEFAULT_PLACEMENT,
    border_px: int = 0,
) -> Placement:
    """Choose scale and offset for an image of ``image_wh`` inside the free area."""
    if mode not in PLACEMENTS:
        raise InputError(f"placement '{mode}' unknown; use one of {', '.join(PLACEMENTS)}")
    img_w, img_h = image_wh
    free_w, free_h = screen_wh[0] - 2 * border_px, screen_wh[1] - 2 * border_px
    if free_w <= 0 or free_h <= 0:
        raise InputError(f"screen {screen_wh[0]}x{screen_wh[1]} leaves no room inside the border")
    fit = min(free_w / img_w, free_h / img_h)
    reduction = 1
    if mode == "auto":
        k = reduction_to_fit(image_wh, (free_w, free_h))
        mode = "1:1" if k == 1 else ("integer" if k <= AUTO_MAX_REDUCTION else "fit")
    if mode == "1:1":
        if fit < 1:
            raise InputError(
                f"image {img_w}x{img_h} does not fit 1:1 in the {free_w}x{free_h} free area; "
                "use placement 'auto', 'integer' or 'fit', or a larger screen"
            )
        scale: float = 1.0
    elif mode == "integer" and fit >= 1:
        scale = float(math.floor(fit))
    elif mode == "integer":
        reduction = reduction_to_fit(image_wh, (free_w, free_h))
        scale = 1.0 / reduction
    else:
        scale = fit
    if reduction > 1:
        width, height = -(-img_w // reduction), -(-img_h // reduction)
    else:
        width, height = max(1, round(img_w * scale)), max(1, round(img_h * scale))
    offset_x = border_px + (free_w - width) // 2
    offset_y = border_px + (free_h - height) // 2
    return Placement(scale, offset_x, offset_y, width, height, mode, reduction)


def resample_nearest(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Nearest-neighbour resize that samples the image pixel under each target centre."""
    src_h, src_w = image.shape[:2]
    if (src_w, src_h) == (width, height):
        return image
    ys = np.minimum(((np.arange(height) + 0.5) * src_h / height).astype(np.int64), src_h - 1)
    xs = np.minimum(((np.arange(width) + 0.5) * src_w / width).astype(np.int64), src_w - 1)
    return image[ys[:, None], xs[None, :]]


def reduce_box(image: np.ndarray, k: int) -> np.ndarray:
    """Mean of every k x k block (partial blocks at the edges: of the pixels they hold),
    rounded half up in integer arithmetic; uint8 (H, W) or (H, W, C) in and out."""
    if k == 1:
        return image
    height, width = image.shape[:2]
    out_h, out_w = -(-height // k), -(-width // k)
    pad = ((0, out_h * k - height), (0, out_w * k - width))
    channels = image.shape[2:]
    blocks = np.pad(image.astype(np.uint32), pad + ((0, 0),) * len(channels))
    sums = blocks.reshape(out_h, k, out_w, k, *channels).sum(axis=(1, 3))
    counts = np.pad(np.ones((height, width), np.uint32), pad)
    counts = counts.reshape(out_h, k, out_w, k).sum(axis=(1, 3))
    counts = counts.reshape(out_h, out_w, *([1] * len(channels)))
    return np.asarray((sums + counts // 2) // counts, dtype=np.uint8)


def place_image(image: np.ndarray, placement: Placement) -> np.ndarray:
    """The image as the screen shows it (placed size, uint8)."""
    if placement.reduction > 1:
        return reduce_box(image, placement.reduction)
    return resample_nearest(image, placement.width, placement.height)


def compose(
    image: np.ndarray,
    screen_wh: tuple[int, int],
    mode: str = DEFAULT_PLACEMENT,
    border_px: int = 0,
) -> tuple[np.ndarray, Placement]:
    """Black screen canvas with ``image`` (uint8, (H,W) or (H,W,3)) placed on it."""
    if image.dtype != np.uint8:
        raise InputError(f"compositor takes 8-bit frames, got {image.dtype}")
    placement = plan_placement((image.shape[1], image.shape[0]), screen_wh, mode, border_px)
    placed = place_image(image, placement)
    canvas = np.zeros((screen_wh[1], screen_wh[0], *image.shape[2:]), dtype=np.uint8)
    y0, x0 = placement.offset_y, placement.offset_x
    canvas[y0 : y0 + placement.height, x0 : x0 + placement.width] = placed
    return canvas, placement
