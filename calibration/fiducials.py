"""The fiducial border drawn around every displayed image.

Geometry (screen pixels, OpenCV convention: pixel (x, y) has its centre at
(x, y), so a pixel block [x0, x0+m) spans x0-0.5 .. x0+m-0.5). A black band of
``border_px`` runs along every screen edge. In it sit ArUco markers, each on a
white tile (a quiet zone of ``pad_px`` so its black outer ring stands out from
the black band), ``markers_per_edge`` per edge with the four corners shared, ids
numbered clockwise from the top-left corner. Many markers are used so that glare
over a few of them costs nothing: any four non-collinear ones define the
homography. The frame code (``calibration.framecode``) is drawn four times, at
a quarter and three quarters of the width of the top and the bottom edge, among
that edge's markers: the copies let a photo survive glare on some of them, and a
screen caught mid-refresh (a tear across the screen, or a rolling shutter
running along it) shows up as copies that disagree.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import cv2
import numpy as np

from calibration.framecode import FrameCode, code_cells, frame_hash


class LayoutError(ValueError):
    """The fiducial layout does not fit the screen or names an unknown dictionary."""


@dataclass(frozen=True)
class FiducialLayout:
    """Sizes of the fiducial border, in screen pixels; recorded with every session."""

    dictionary: str = "DICT_4X4_100"
    marker_px: int = 60  # 6 cells of 10 px for a 4x4 marker with its 1-cell black ring
    pad_px: int = 10  # white quiet zone around each marker
    inset_px: int = 4  # gap between the screen edge and the white tiles
    markers_per_edge: int = 8  # including the two corner markers
    code_cell_px: int = 10
    code_rows: int = 8  # 8 x 10 px = the tile height: the code fills the band
    code_cols: int = 20  # rows * cols >= 160 Manchester cells, cols even

    @property
    def tile_px(self) -> int:
        return self.marker_px + 2 * self.pad_px

    @property
    def border_px(self) -> int:
        """Width of the band kept free for the border on every screen edge."""
        return 2 * self.inset_px + self.tile_px

    @property
    def code_wh(self) -> tuple[int, int]:
        return self.code_cols * self.code_cell_px, self.code_rows * self.code_cell_px

    @property
    def marker_count(self) -> int:
        return 4 * self.markers_per_edge - 4

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FiducialLayout:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


@lru_cache(maxsize=8)
def aruco_dictionary(name: str) -> cv2.aruco.Dictionary:
    """The predefined OpenCV dictionary called ``name`` (e.g. 'DICT_4X4_100')."""
    value = getattr(cv2.aruco, name, None)
    if not name.startswith("DICT_") or not isinstance(value, int):
        raise LayoutError(f"unknown ArUco dictionary '{name}'")
    return cv2.aruco.getPredefinedDictionary(value)


def _spread(start: int, stop: int, n: int) -> list[int]:
    """``n`` integer positions from ``start`` to ``stop`` inclusive, evenly spaced."""
    if n == 1:
        return [start]
    return [round(start + (stop - start) * i / (n - 1)) for i in range(n)]


def _code_centres_x(width: int) -> tuple[int, int]:
    """Horizontal centres of the code copies on the top and bottom edges."""
    return round(width / 4), round(3 * width / 4)


def _edge_runs(layout: FiducialLayout, width: int) -> list[tuple[int, int, int]]:
    """The three runs of the top/bottom edge around the two code slots, as
    (first tile x, last tile x, marker count); the outer runs hold the corners."""
    tile, pad, lo = layout.tile_px, layout.pad_px, layout.inset_px
    code_w, _ = layout.code_wh
    left_c, right_c = _code_centres_x(width)
    bounds = [
        (lo, left_c - code_w // 2 - pad - tile),
        (left_c - code_w // 2 + code_w + pad, right_c - code_w // 2 - pad - tile),
        (right_c - code_w // 2 + code_w + pad, width - lo - tile),
    ]
    lengths = [max(0, stop - start + tile) for start, stop in bounds]
    # Markers in proportion to run length, at least one per run (corners included).
    counts = [1, 1, 1]
    for _ in range(layout.markers_per_edge - 3):
        counts[int(np.argmax([n / c for n, c in zip(lengths, counts, strict=True)]))] += 1
    return [(start, stop, c) for (start, stop), c in zip(bounds, counts, strict=True)]


def validate_layout(layout: FiducialLayout, screen_wh: tuple[int, int]) -> None:
    """Raise LayoutError when the layout cannot be drawn on a ``screen_wh`` screen."""
    aruco_dictionary(layout.dictionary)
    size = len(aruco_dictionary(layout.dictionary).bytesList)
    if layout.marker_count > size:
        raise LayoutError(f"{layout.marker_count} markers need a dictionary larger than {size}")
    if layout.markers_per_edge < 3:
        raise LayoutError("markers_per_edge must be at least 3")
    if layout.code_cols % 2 or layout.code_rows * layout.code_cols < 160:
        raise LayoutError("the code grid needs an even column count and at least 160 cells")
    width, height = screen_wh
    _, code_h = layout.code_wh
    if code_h > layout.border_px - 2 * layout.inset_px:
        raise LayoutError(f"code height {code_h} px does not fit the {layout.border_px} px band")
    for start, stop, count in _edge_runs(layout, width):
        # count tiles with at least a pad between them must fit from start to stop + tile.
        if stop < start or stop - start < (count - 1) * (layout.tile_px + layout.pad_px):
            raise LayoutError(f"screen width {width} px too small for this fiducial layout")
    if height < layout.markers_per_edge * (layout.tile_px + layout.pad_px):
        raise LayoutError(f"screen height {height} px too small for this fiducial layout")


def marker_tiles(layout: FiducialLayout, screen_wh: tuple[int, int]) -> dict[int, tuple[int, int]]:
    """Top-left corner of each marker's white tile, by marker id (clockwise from top-left)."""
    validate_layout(layout, screen_wh)
    width, height = screen_wh
    lo, tile = layout.inset_px, layout.tile_px
    hi_x, hi_y = width - lo - tile, height - lo - tile
    runs = _edge_runs(layout, width)
    top_xs: list[int] = []
    for k, (start, stop, count) in enumerate(runs):
        if count == 1:  # a lone marker sits at the corner (outer runs) or mid-run
            top_xs.append(start if k == 0 else stop if k == 2 else (start + stop) // 2)
        else:
            top_xs += _spread(start, stop, count)
    side_ys = _spread(lo, hi_y, layout.markers_per_edge)[1:-1]
    positions: list[tuple[int, int]] = [(x, lo) for x in top_xs]  # top, left to right
    positions += [(hi_x, y) for y in side_ys]  # right, top to bottom
    positions += [(x, hi_y) for x in reversed(top_xs)]  # bottom, right to left
    positions += [(lo, y) for y in reversed(side_ys)]  # left, bottom to top
    return dict(enumerate(positions))


def marker_screen_corners(
    layout: FiducialLayout, screen_wh: tuple[int, int]
) -> dict[int, np.ndarray]:
    """Outer corners (4, 2) of each marker in screen coordinates, ArUco order TL, TR, BR, BL."""
    m = layout.marker_px
    corners: dict[int, np.ndarray] = {}
    for marker_id, (tx, ty) in marker_tiles(layout, screen_wh).items():
        x0, y0 = tx + layout.pad_px - 0.5, ty + layout.pad_px - 0.5
        corners[marker_id] = np.array(
            [[x0, y0], [x0 + m, y0], [x0 + m, y0 + m], [x0, y0 + m]], dtype=np.float64
        )
    return corners


CODE_COPY_NAMES = ("top-left", "top-right", "bottom-left", "bottom-right")


def code_origins(layout: FiducialLayout, screen_wh: tuple[int, int]) -> list[tuple[int, int]]:
    """Top-left pixel of each copy of the code grid, in CODE_COPY_NAMES order."""
    width, height = screen_wh
    code_w, code_h = layout.code_wh
    y_top = (layout.border_px - code_h) // 2
    y_bottom = height - layout.border_px + y_top
    xs = [c - code_w // 2 for c in _code_centres_x(width)]
    return [(xs[0], y_top), (xs[1], y_top), (xs[0], y_bottom), (xs[1], y_bottom)]


def code_cell_centres(layout: FiducialLayout, origin: tuple[int, int]) -> np.ndarray:
    """Screen coordinates (rows, cols, 2) of the code cell centres of one copy."""
    c = layout.code_cell_px
    xs = origin[0] + c * np.arange(layout.code_cols) + (c - 1) / 2
    ys = origin[1] + c * np.arange(layout.code_rows) + (c - 1) / 2
    grid_x, grid_y = np.meshgrid(xs, ys)
    return np.stack([grid_x, grid_y], axis=-1)


def content_hash(canvas: np.ndarray, layout: FiducialLayout) -> int:
    """Hash of everything inside the border band: what the code's frame_hash commits to."""
    b = layout.border_px
    return frame_hash(canvas[b : canvas.shape[0] - b, b : canvas.shape[1] - b])


def draw_border(canvas: np.ndarray, layout: FiducialLayout, code: FrameCode) -> np.ndarray:
    """A copy of ``canvas`` (uint8 (H, W) or (H, W, 3)) with markers and four code copies."""
    out = canvas.copy()
    height, width = out.shape[:2]
    b = layout.border_px
    out[:b], out[height - b :], out[:, :b], out[:, width - b :] = 0, 0, 0, 0
    dictionary = aruco_dictionary(layout.dictionary)
    tile = layout.tile_px
    for marker_id, (tx, ty) in marker_tiles(layout, (width, height)).items():
        out[ty : ty + tile, tx : tx + tile] = 255
        marker = cv2.aruco.generateImageMarker(
            dictionary, marker_id, layout.marker_px, borderBits=1
        )
        y0, x0 = ty + layout.pad_px, tx + layout.pad_px
        block = out[y0 : y0 + layout.marker_px, x0 : x0 + layout.marker_px]
        block[...] = marker if out.ndim == 2 else marker[:, :, None]
    cells = code_cells(code, layout.code_rows, layout.code_cols) * np.uint8(255)
    pixels = np.kron(cells, np.ones((layout.code_cell_px, layout.code_cell_px), np.uint8))
    code_w, code_h = layout.code_wh
    for x0, y0 in code_origins(layout, (width, height)):
        region = out[y0 : y0 + code_h, x0 : x0 + code_w]
        region[...] = pixels if out.ndim == 2 else pixels[:, :, None]
    return out
