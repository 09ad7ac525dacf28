"""Session calibration images: a full-screen ChArUco board, grey steps and a ramp.

The ChArUco board gives hundreds of corners spread over the whole screen (the
border markers only sample its edges), which pins down the lens distortion of
the session. Its squares are whole screen pixels, so corner positions are exact:
a board drawn from pixel (x0, y0) has its outer edge at x0 - 0.5 and chessboard
corner (i, j) at (x0 - 0.5 + i·square_px, y0 - 0.5 + j·square_px).

Grey steps are an *image* (placed inside the usual fiducial border by the
compositor) so the photo is registered like any other and the patches are read
at known screen positions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from calibration.fiducials import aruco_dictionary

DEFAULT_STEP_LEVELS = tuple(range(0, 256, 17))  # 16 levels, 0..255


@dataclass(frozen=True)
class CharucoSpec:
    """A ChArUco board on the screen; sizes in screen pixels."""

    squares_x: int
    squares_y: int
    square_px: int
    marker_px: int
    origin_x: int
    origin_y: int
    dictionary: str = "DICT_5X5_250"  # not the border's dictionary: no id confusion

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CharucoSpec:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def charuco_spec_for(screen_wh: tuple[int, int], square_px: int = 64) -> CharucoSpec:
    """The densest board of ``square_px`` squares that covers the screen, centred.

    The dictionary is the smallest 5x5 one with enough ids: matching candidates
    against 1000 codes instead of 250 makes detection ~4x slower.
    """
    width, height = screen_wh
    sx, sy = width // square_px, height // square_px
    if sx < 3 or sy < 3:
        raise ValueError(f"screen {width}x{height} too small for {square_px} px squares")
    marker = round(square_px * 0.7)
    n_markers = (sx * sy) // 2
    dictionary = next(f"DICT_5X5_{n}" for n in (50, 100, 250, 1000) if n >= n_markers or n == 1000)
    if n_markers > 1000:
        raise ValueError(
            f"{n_markers} ChArUco markers exceed the largest dictionary; use larger squares"
        )
    origin_x, origin_y = (width - sx * square_px) // 2, (height - sy * square_px) // 2
    return CharucoSpec(sx, sy, square_px, marker, origin_x, origin_y, dictionary)


def charuco_board(spec: CharucoSpec) -> cv2.aruco.CharucoBoard:
    """The OpenCV board, in screen-pixel units."""
    return cv2.aruco.CharucoBoard(
        (spec.squares_x, spec.squares_y),
        float(spec.square_px),
        float(spec.marker_px),
        aruco_dictionary(spec.dictionary),
    )


def draw_charuco(screen_wh: tuple[int, int], spec: CharucoSpec) -> np.ndarray:
    """Full-screen grey (H, W) uint8 frame: the board on white."""
    width, height = screen_wh
    board_w, board_h = spec.squares_x * spec.square_px, spec.squares_y * spec.square_px
    image = charuco_board(spec).generateImage((board_w, board_h), marginSize=0, borderBits=1)
    canvas = np.full((height, width), 255, np.uint8)
    canvas[spec.origin_y : spec.origin_y + board_h, spec.origin_x : spec.origin_x + board_w] = image
    return canvas


def charuco_screen_corners(spec: CharucoSpec) -> np.ndarray:
    """Screen positions (N, 2) of the chessboard corners, indexed by ChArUco corner id."""
    corners = np.asarray(charuco_board(spec).getChessboardCorners(), np.float64)[:, :2]
    return corners + np.array([spec.origin_x - 0.5, spec.origin_y - 0.5])


@dataclass(frozen=True)
class Patch:
    level: int
    x: int  # image pixels
    y: int
    width: int
    height: int


def grey_step_patches(
    image_wh: tuple[int, int], levels: tuple[int, ...] = DEFAULT_STEP_LEVELS
) -> list[Patch]:
    """Patch rectangles of a grey-steps image: a near-square grid, row-major by level."""
    cols = int(np.ceil(np.sqrt(len(levels) * image_wh[0] / image_wh[1])))
    rows = int(np.ceil(len(levels) / cols))
    pw, ph = image_wh[0] // cols, image_wh[1] // rows
    return [
        Patch(level, (k % cols) * pw, (k // cols) * ph, pw, ph) for k, level in enumerate(levels)
    ]


def draw_grey_steps(
    image_wh: tuple[int, int], levels: tuple[int, ...] = DEFAULT_STEP_LEVELS
) -> np.ndarray:
    """Grey (H, W) uint8 image of uniform patches, one per display level."""
    image = np.zeros((image_wh[1], image_wh[0]), np.uint8)
    for p in grey_step_patches(image_wh, levels):
        image[p.y : p.y + p.height, p.x : p.x + p.width] = p.level
    return image


def draw_ramp(image_wh: tuple[int, int]) -> np.ndarray:
    """Grey (H, W) uint8 horizontal ramp from 0 (left) to 255 (right)."""
    width, height = image_wh
    row = np.round(np.linspace(0, 255, width)).astype(np.uint8)
    return np.ascontiguousarray(np.tile(row, (height, 1)))
