"""Raster primitives for the generated radiographs: pure numpy/OpenCV, no I/O.

Geometry is given in normalised image coordinates (x across the columns, y down the
rows, both in [0, 1]) so one drawn case renders the same anatomy at 96×80 and at
2500×2048; widths are fractions of the image width. Layers are float32 attenuation
(line integrals, bright = dense once displayed).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

COARSE_ROWS = 600  # smooth layers (body, lungs, heart) are built at most this tall


@dataclass(frozen=True)
class Grid:
    """A raster of ``rows`` × ``cols`` pixels covering the unit square."""

    rows: int
    cols: int

    @property
    def px_per_unit(self) -> float:
        """Pixels per unit of normalised width (widths are fractions of the width)."""
        return float(self.cols)

    def to_px(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) normalised (x, y) → (N, 2) float pixel coordinates."""
        pts = np.asarray(points, np.float64)
        return np.stack([pts[:, 0] * self.cols - 0.5, pts[:, 1] * self.rows - 0.5], axis=1)

    def coords(self) -> tuple[np.ndarray, np.ndarray]:
        """(yy, xx) normalised pixel-centre coordinates, each (rows, cols) float32."""
        y = (np.arange(self.rows, dtype=np.float32) + 0.5) / self.rows
        x = (np.arange(self.cols, dtype=np.float32) + 0.5) / self.cols
        return np.broadcast_to(y[:, None], (self.rows, self.cols)), np.broadcast_to(
            x[None, :], (self.rows, self.cols)
        )

    def coarse(self) -> Grid:
        """The grid smooth layers are built on (at most ``COARSE_ROWS`` tall)."""
        factor = max(1, self.rows // COARSE_ROWS)
        return Grid(max(1, self.rows // factor), max(1, self.cols // factor))

    def zeros(self) -> np.ndarray:
        return np.zeros((self.rows, self.cols), np.float32)


def upsample(layer: np.ndarray, grid: Grid) -> np.ndarray:
    """A coarse layer resized (bilinear) to ``grid``."""
    if layer.shape == (grid.rows, grid.cols):
        return layer
    return cv2.resize(layer, (grid.cols, grid.rows), interpolation=cv2.INTER_LINEAR)


def bezier(control: np.ndarray, n: int = 48) -> np.ndarray:
    """Points (n, 2) along the Bézier curve of ``control`` (k, 2) (de Casteljau)."""
    t = np.linspace(0.0, 1.0, n)[:, None, None]
    pts = np.broadcast_to(np.asarray(control, np.float64)[None], (n, *np.shape(control))).copy()
    while pts.shape[1] > 1:
        pts = (1 - t) * pts[:, :-1] + t * pts[:, 1:]
    return pts[:, 0]


def fill_polygon(grid: Grid, points: np.ndarray, soft_px: float = 0.0) -> np.ndarray:
    """Filled polygon mask (rows, cols) float32 in [0, 1], edges blurred by ``soft_px``."""
    mask = np.zeros((grid.rows, grid.cols), np.uint8)
    pts = np.round(grid.to_px(points) * 16).astype(np.int32)  # 4 fractional bits
    cv2.fillPoly(mask, [pts], 255, cv2.LINE_AA, shift=4)
    out = mask.astype(np.float32) / 255.0
    return cv2.GaussianBlur(out, (0, 0), soft_px) if soft_px > 0 else out


def draw_polyline(layer: np.ndarray, grid: Grid, points: np.ndarray, width: float,
                  value: float) -> None:
    """Draw a polyline of ``width`` (fraction of image width) with ``value`` into ``layer``.

    Pixels are overwritten, so callers draw thin strokes before thick ones. Sub-pixel
    widths are drawn one pixel wide with the value scaled by the width, which keeps a
    thin wire's integrated density right at every resolution.
    """
    width_px = width * grid.px_per_unit
    thickness = max(1, round(width_px))
    scaled = float(value * min(1.0, width_px))
    pts = np.round(grid.to_px(points) * 16).astype(np.int32)
    cv2.polylines(layer, [pts], False, scaled, thickness, cv2.LINE_8, shift=4)


def distance_to_curves(grid: Grid, curves: list[np.ndarray]) -> np.ndarray:
    """Euclidean distance in pixels from every pixel to the nearest drawn curve."""
    mask = np.full((grid.rows, grid.cols), 255, np.uint8)
    for curve in curves:
        pts = np.round(grid.to_px(curve)).astype(np.int32)
        cv2.polylines(mask, [pts], False, 0, 1, cv2.LINE_8)
    return cv2.distanceTransform(mask, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def shell_profile(distance_px: np.ndarray, radius_px: np.ndarray | float,
                  cortex: float = 0.22) -> tuple[np.ndarray, np.ndarray]:
    """Projected path lengths through a tube's cortex and marrow, normalised by radius.

    A bone seen side-on is a cylinder: at offset d from the axis the ray crosses
    2·sqrt(R² − d²) of bone, of which 2·sqrt(r² − d²) is marrow (r = R·(1 − cortex)).
    The cortex term peaks at |d| ≈ r, which is why rib and clavicle margins look bright.
    """
    d = distance_px / np.maximum(radius_px, 1e-3)
    inner = 1.0 - cortex
    outer = np.sqrt(np.clip(1.0 - d * d, 0.0, None))
    marrow = np.sqrt(np.clip(inner * inner - d * d, 0.0, None))
    return (outer - marrow).astype(np.float32), marrow.astype(np.float32)


def band_noise(rng: np.random.Generator, grid: Grid, sigma_px: float,
               ratio: float = 2.0) -> np.ndarray:
    """Zero-mean, unit-sd band-pass noise: a difference of Gaussians of white noise."""
    white = rng.standard_normal((grid.rows, grid.cols), dtype=np.float32)
    fine = cv2.GaussianBlur(white, (0, 0), max(sigma_px, 0.3))
    out = fine - cv2.GaussianBlur(white, (0, 0), max(sigma_px * ratio, 0.6))
    return out / (float(out.std()) + 1e-6)


def smooth_noise(rng: np.random.Generator, grid: Grid, sigma_px: float) -> np.ndarray:
    """Zero-mean, unit-sd low-pass noise (Gaussian-blurred white noise).

    Wide kernels are applied on a grid ``sigma_px / 2`` times smaller and upsampled:
    the same spectrum for a fraction of the cost.
    """
    factor = max(1, int(sigma_px // 2))
    small = Grid(max(1, grid.rows // factor), max(1, grid.cols // factor))
    white = rng.standard_normal((small.rows, small.cols), dtype=np.float32)
    out = cv2.GaussianBlur(white, (0, 0), max(sigma_px / factor, 0.3))
    out = upsample(out, grid)
    return out / (float(out.std()) + 1e-6)
