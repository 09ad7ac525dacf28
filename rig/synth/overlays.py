"""Overlay transforms of the CheXphoto set: glare_matte, glare_glossy, moire.

Each alpha-composites a white (glare) or black (moiré) layer over the image,
as the original did with PIL's ``alpha_composite``; we blend in float and round
once, so values agree with PIL's integer blend to within one grey level.
Geometry is unchanged (H = identity).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from rig.synth.moire_mask import moire_alpha

Params = dict[str, Any]

GLARE_SIGMA_PX_PER_LEVEL = 50.0  # reference pixels
GLARE_PEAK_PER_LEVEL = 100.0  # alpha at the Gaussian's peak pixel
MOIRE_GAP_PX = {1: 20.0, 2: 4.5, 3: 2.5, 4: 1.0}  # at the ×2 upsampled, reference resolution
MOIRE_OPACITY = {1: 0.05, 2: 0.15, 3: 0.35, 4: 0.5}
MOIRE_THICKNESS_PX = 1.0
MOIRE_OFFSET_MAX_PX = 100.0
MOIRE_SPREAD = 0.5
MOIRE_UPSAMPLE = 2
_MOIRE_BAND_ROWS = 512

# Glossy glare positions, numbered as in the original (1..9).
GLOSSY_LOCATIONS = {
    1: "top_left",
    2: "left_center",
    3: "bottom_left",
    4: "top_center",
    5: "center",
    6: "bottom_center",
    7: "top_right",
    8: "right_center",
    9: "bottom_right",
}


def glare_cap(level: int) -> float:
    """Alpha ceiling of both glare kinds: 150 + 20·L."""
    return 150.0 + 20.0 * level


def composite(image: np.ndarray, alpha: np.ndarray, value: float) -> np.ndarray:
    """Blend a flat ``value`` layer with per-pixel ``alpha`` (0–255) over ``image``."""
    a = alpha.astype(np.float64) / 255.0
    if image.ndim == 3:
        a = a[..., None]
    out = image.astype(np.float64) * (1.0 - a) + value * a
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def glare_matte(
    image: np.ndarray, level: int, rng: np.random.Generator, scale: float = 1.0
) -> tuple[np.ndarray, Params]:
    """White Gaussian glare: σ = 50·L px, centre uniform, peak 100·L, capped at 150 + 20·L."""
    height, width = image.shape[:2]
    cx = float(rng.uniform(0, width))
    cy = float(rng.uniform(0, height))
    sigma_px = GLARE_SIGMA_PX_PER_LEVEL * level * scale
    # The original normalises the pdf by its maximum over the pixel grid, i.e.
    # at the pixel nearest the centre; the pdf's constant factor cancels.
    dx2 = (np.arange(width) - cx) ** 2
    dy2 = (np.arange(height) - cy) ** 2
    d2 = dy2[:, None] + dx2[None, :]  # (H, W)
    rel = np.exp(-(d2 - d2.min()) / (2.0 * sigma_px**2))
    alpha = np.fmin(glare_cap(level), rel * GLARE_PEAK_PER_LEVEL * level).astype(np.uint8)
    params = {
        "center_x_px": cx,
        "center_y_px": cy,
        "sigma_px": sigma_px,
        "peak_alpha": GLARE_PEAK_PER_LEVEL * level,
        "alpha_cap": glare_cap(level),
    }
    return composite(image, alpha, 255.0), params


def _glossy_span(
    rng: np.random.Generator, place: str, extent: int, box: float
) -> tuple[int, int, float | None]:
    """Start/stop along one axis for 'low', 'high' or 'mid' placement (original's int() cuts)."""
    if place == "low":
        return 0, int(box), None
    if place == "high":
        return extent - int(box), extent, None
    centre = float(rng.uniform(0.3, 0.7))
    return int(centre * extent - box / 2), int(centre * extent + box / 2), centre


_GLOSSY_PLACES = {  # location -> (x placement, y placement)
    1: ("low", "low"),
    2: ("low", "mid"),
    3: ("low", "high"),
    4: ("mid", "low"),
    5: ("mid", "mid"),
    6: ("mid", "high"),
    7: ("high", "low"),
    8: ("high", "mid"),
    9: ("high", "high"),
}


def glare_glossy(
    image: np.ndarray, level: int, rng: np.random.Generator, scale: float = 1.0
) -> tuple[np.ndarray, Params]:
    """White rectangle of (0.1·L + U(0, 0.05)) of the size at one of 9 positions."""
    height, width = image.shape[:2]
    w_frac = 0.1 * level + float(rng.uniform(0, 0.05))
    h_frac = 0.1 * level + float(rng.uniform(0, 0.05))
    box_w, box_h = w_frac * width, h_frac * height
    location = int(rng.integers(1, 10))
    x_place, y_place = _GLOSSY_PLACES[location]
    # The original draws the vertical centre before the horizontal one (location 5).
    y0, y1, cy = _glossy_span(rng, y_place, height, box_h)
    x0, x1, cx = _glossy_span(rng, x_place, width, box_w)
    alpha_value = glare_cap(level) + float(rng.uniform(0, 20))
    alpha = np.zeros((height, width), dtype=np.uint8)
    alpha[max(y0, 0) : y1, max(x0, 0) : x1] = np.uint8(alpha_value)
    params = {
        "location": location,
        "location_name": GLOSSY_LOCATIONS[location],
        "box_w_frac": w_frac,
        "box_h_frac": h_frac,
        "center_x_frac": cx,
        "center_y_frac": cy,
        "box_px": [x0, y0, x1, y1],
        "alpha": alpha_value,
    }
    return composite(image, alpha, 255.0), params


def moire(
    image: np.ndarray, level: int, rng: np.random.Generator, scale: float = 1.0
) -> tuple[np.ndarray, Params]:
    """Two fanned line masks at 90° and 90° + N(0, 1°) over a ×2 upsampled image."""
    height, width = image.shape[:2]
    gap_px, opacity = MOIRE_GAP_PX[level], MOIRE_OPACITY[level]
    angles = [90.0, 90.0 + float(rng.normal(0.0, 1.0))]
    offsets = rng.uniform(0.0, MOIRE_OFFSET_MAX_PX * scale, size=(2, 2))
    up_wh = (width * MOIRE_UPSAMPLE, height * MOIRE_UPSAMPLE)
    # Image.ANTIALIAS (removed in Pillow 10) was Lanczos.
    up = np.asarray(Image.fromarray(image).resize(up_wh, Image.Resampling.LANCZOS))
    up8 = np.empty_like(up)
    # Stream in bands of rows: a full-size radiograph upsampled ×2 is ~26 Mpx.
    for y0 in range(0, up_wh[1], _MOIRE_BAND_ROWS):
        y1 = min(y0 + _MOIRE_BAND_ROWS, up_wh[1])
        band = up[y0:y1].astype(np.float32)
        for angle, offset in zip(angles, offsets, strict=True):
            alpha = moire_alpha(
                up_wh,
                angle_deg=angle,
                spread=MOIRE_SPREAD,
                offset_px=(offset[0], offset[1]),
                thickness_px=MOIRE_THICKNESS_PX,
                gap_px=gap_px,
                opacity=opacity,
                scale=scale,
                row_range=(y0, y1),
            )
            keep = 1.0 - alpha.astype(np.float32) / 255.0
            band *= keep[..., None] if band.ndim == 3 else keep
        up8[y0:y1] = np.clip(np.rint(band), 0, 255).astype(np.uint8)
    out = np.asarray(Image.fromarray(up8).resize((width, height), Image.Resampling.LANCZOS))
    params = {
        "gap_px": gap_px * scale,
        "thickness_px": MOIRE_THICKNESS_PX * scale,
        "opacity": opacity,
        "spread": MOIRE_SPREAD,
        "angles_deg": angles,
        "offsets_px": offsets.tolist(),
        "upsample": MOIRE_UPSAMPLE,
    }
    return out, params
