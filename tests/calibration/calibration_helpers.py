"""Screens and simulated photos with known geometry for the calibration tests.

The oracle is always the known camera (``PinholeView.truth_points``, i.e.
cv2.projectPoints), never the registration's own output.
"""

from __future__ import annotations

import cv2
import numpy as np

from calibration.fiducials import FiducialLayout, content_hash, draw_border
from calibration.framecode import FrameCode
from calibration.refinement import Area
from calibration.synthetic import PhotoEffects, PinholeView, look_at_view, render_photo

SCREEN_WH = (1280, 720)
PHOTO_WH = (2000, 1500)
LAYOUT = FiducialLayout()


def textured_image(seed: int, wh: tuple[int, int]) -> np.ndarray:
    """Smooth random structure plus fine texture, uint8 (h, w)."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((wh[1] // 24 + 2, wh[0] // 24 + 2)).astype(np.float32)
    smooth = cv2.resize(coarse, wh, interpolation=cv2.INTER_CUBIC)
    fine = cv2.GaussianBlur(rng.random((wh[1], wh[0])).astype(np.float32), (0, 0), 1.5)
    img = 40 + 150 * smooth + 200 * (fine - fine.mean())
    return np.clip(img, 0, 255).astype(np.uint8)


def screen_frame(
    index: int = 7,
    session: int = 2,
    attempt: int = 0,
    seed: int = 0,
    screen_wh: tuple[int, int] = SCREEN_WH,
    layout: FiducialLayout = LAYOUT,
) -> tuple[np.ndarray, FrameCode]:
    """A screen canvas (grey) with image content, border and a valid frame code."""
    b = layout.border_px
    canvas = np.zeros((screen_wh[1], screen_wh[0]), np.uint8)
    canvas[b:-b, b:-b] = textured_image(seed, (screen_wh[0] - 2 * b, screen_wh[1] - 2 * b))
    code = FrameCode(session, index, attempt, content_hash(canvas, layout))
    return draw_border(canvas, layout, code), code


def interior(layout: FiducialLayout = LAYOUT, screen_wh: tuple[int, int] = SCREEN_WH) -> Area:
    b = layout.border_px
    return Area(b, b, screen_wh[0] - 2 * b, screen_wh[1] - 2 * b)


def view(
    angles_deg: tuple[float, float, float] = (4.0, -6.0, 2.0),
    dist: tuple[float, ...] = (0.06, -0.04, 0.0, 0.0, 0.0),
    offset: tuple[float, float] = (0.0, 0.0),
    photo_wh: tuple[int, int] = PHOTO_WH,
    screen_wh: tuple[int, int] = SCREEN_WH,
) -> PinholeView:
    return look_at_view(
        screen_wh, photo_wh, angles_deg=angles_deg, dist_coeffs=dist, offset_frac=offset, fill=0.88
    )


def photo_of(
    screen: np.ndarray, v: PinholeView, effects: PhotoEffects | None = None, seed: int = 0
) -> np.ndarray:
    return render_photo(screen, v, effects or PhotoEffects(), seed)


def grid_points(area: Area, n: int = 15) -> np.ndarray:
    xs = np.linspace(area.x, area.x + area.width - 1, n)
    ys = np.linspace(area.y, area.y + area.height - 1, n)
    return np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)


def mapping_errors(mapping: object, v: PinholeView, area: Area) -> np.ndarray:
    pts = grid_points(area)
    mapped = mapping.map_points(pts)  # type: ignore[attr-defined]
    return np.asarray(np.hypot(*(mapped - v.truth_points(pts)).T))
