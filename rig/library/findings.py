"""Labelled findings with a continuous severity, drawn into the anatomy.

Every pathology has a severity s in [0, 1] (0 = absent) and a label threshold t: the
CheXpert label is 1 above t + b, 0 below t − b, and inside the borderline band the
report would hedge, so the label is −1 (uncertain) with probability ``UNCERTAIN_RATE``,
else the side of t. What the severity means in the image:

| label | severity → image |
|---|---|
| Cardiomegaly | cardiothoracic ratio 0.40 + 0.22·s (t = 0.45 → CTR 0.50) |
| Pleural Effusion | fluid height 0.16·s of the image above the costophrenic angle, meniscus rising laterally (t = 0.3: a blunted angle) |
| Consolidation | patchy airspace opacity, density and extent ∝ s, air bronchograms above s = 0.55 |
| Lung Lesion | nodule/mass of 3 + 37·s^1.5 mm, lobulated, spiculated above s = 0.6 (t = 0.3 → 9 mm) |
| Pneumothorax | visceral pleural line 0.25·s of the hemithorax from the wall, no lung markings beyond it |

``difficulty`` (0–1) moves severities towards the threshold: positives are drawn as
t + (1 − t)·u^(1 + 3d) and sub-threshold (label 0) findings, which a fraction of
negatives carry, as t·(1 − u^(1 + 3d)) — at 0 most findings are obvious, at 1 most sit
at the threshold, where the cues are small and live in fine structure (a 9 mm nodule,
a 1-pixel pleural line, a blunted angle).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from rig.library.anatomy import FOV_WIDTH_MM, Anatomy, grow_tree, vessels
from rig.library.drawing import Grid, band_noise, smooth_noise, upsample

UNCERTAIN_RATE = 0.6


@dataclass(frozen=True)
class FindingModel:
    name: str
    prevalence: float  # fraction of images with the finding above threshold
    threshold: float
    borderline: float  # half-width of the uncertain band
    subclinical: float  # fraction of negatives with a sub-threshold finding


PATHOLOGIES = (
    FindingModel("Cardiomegaly", 0.35, 0.45, 0.04, 1.0),
    FindingModel("Pleural Effusion", 0.3, 0.3, 0.05, 0.3),
    FindingModel("Consolidation", 0.3, 0.3, 0.05, 0.3),
    FindingModel("Lung Lesion", 0.25, 0.3, 0.04, 0.25),
    FindingModel("Pneumothorax", 0.15, 0.3, 0.04, 0.0),
)
SUPPORT_DEVICES = "Support Devices"
SUPPORT_PREVALENCE = 0.3


def draw_severity(rng: np.random.Generator, model: FindingModel, positive: bool,
                  difficulty: float) -> float:
    """A severity on the ``positive`` side of the model's threshold."""
    shape = 1.0 + 3.0 * difficulty
    u = float(rng.random())
    if positive:
        return model.threshold + (1.0 - model.threshold) * u**shape
    if rng.random() >= model.subclinical:
        return 0.0
    return model.threshold * (1.0 - u**shape)


def label_for(rng: np.random.Generator, model: FindingModel, severity: float) -> int:
    """CheXpert label of a severity: 1, 0, or −1 inside the borderline band."""
    if abs(severity - model.threshold) < model.borderline and rng.random() < UNCERTAIN_RATE:
        return -1
    return int(severity >= model.threshold)


def ctr_of(severity: float) -> float:
    return 0.40 + 0.22 * severity


# --- drawing ------------------------------------------------------------------------------------

@dataclass
class LungState:
    """Full-resolution lung masks that findings change before vessels are drawn."""

    aerated: np.ndarray  # (H, W) 0..1
    air: np.ndarray  # (H, W) attenuation removed by lung air
    sides: tuple[np.ndarray, np.ndarray]
    keep_markings: np.ndarray  # (H, W) 0..1, where lung markings stay visible


def effusion(a: Anatomy, grid: Grid, lungs: LungState, severity: float, side: int) -> np.ndarray:
    """Dependent fluid with a meniscus; returns attenuation and hides markings in it."""
    yy, xx = grid.coords()
    i = 0 if side < 0 else 1
    height = 0.16 * severity
    w = a.thorax_half_width
    lateral = np.clip((side * (xx - a.cx) - 0.05) / (w - 0.05), 0, 1)
    surface = a.cp_y[i] - height * (0.55 + 0.9 * lateral**2)
    depth = np.clip((yy - surface) / (0.25 * height + 0.006), 0, 1)
    region = lungs.sides[i] * depth
    filled = region * (lungs.air + 0.15 * lungs.aerated)  # fluid replaces the air
    lungs.aerated *= 1 - region
    lungs.keep_markings *= 1 - region
    return filled.astype(np.float32)


def consolidation(a: Anatomy, grid: Grid, lungs: LungState, severity: float,
                  rng: np.random.Generator) -> np.ndarray:
    """Patchy airspace opacity in one zone, with air bronchograms when dense."""
    side = -1 if rng.random() < 0.5 else 1
    cy = float(rng.uniform(0.3, 0.58))
    cx = a.cx + side * float(rng.uniform(0.14, 0.28))
    radius = 0.04 + 0.08 * severity
    coarse = grid.coarse()
    yy, xx = coarse.coords()
    r = np.sqrt(((xx - cx) / radius) ** 2 + ((yy - cy) / (radius * 1.1)) ** 2)
    patch = np.clip(1.3 - r, 0, 1) * np.clip(0.6 + 0.5 * smooth_noise(rng, coarse, coarse.cols * 0.02), 0, 1)
    patch = upsample(cv2.GaussianBlur(patch, (0, 0), max(0.7, coarse.cols * 0.006)), grid)
    patch *= lungs.sides[0 if side < 0 else 1]
    density = 0.08 + 0.55 * severity
    out = density * patch * (1 + 0.08 * band_noise(rng, grid, max(1.0, grid.cols / 250)))
    lungs.keep_markings *= 1 - 0.8 * np.clip(patch * 2, 0, 1)
    bronchi = grow_tree(rng, np.array([[cx - side * radius * 0.7, cy]]), np.array([[side, 0.3]]),
                        radius * 0.45, 0.004, 4)
    if severity > 0.55:  # air bronchograms: dark branching tubes inside the opacity
        out -= 0.5 * density * vessels(bronchi, grid, np.clip(patch * 1.5, 0, 1))
    return out.astype(np.float32)


def lung_lesion(a: Anatomy, grid: Grid, lungs: LungState, severity: float,
                rng: np.random.Generator) -> np.ndarray:
    """A round opacity: density ∝ diameter (a sphere of soft tissue), lobulated edge."""
    diameter_mm = 3.0 + 37.0 * severity**1.5
    side = -1 if rng.random() < 0.5 else 1
    cy = float(rng.uniform(0.2, 0.58))
    cx = a.cx + side * float(rng.uniform(0.1, a.thorax_half_width - 0.08))
    radius_px = 0.5 * diameter_mm / FOV_WIDTH_MM * grid.cols
    half = int(np.ceil(radius_px * 1.8)) + 3
    px = np.array([cx * grid.cols, cy * grid.rows])
    y0, x0 = int(px[1]) - half, int(px[0]) - half
    yy, xx = np.mgrid[y0:y0 + 2 * half, x0:x0 + 2 * half].astype(np.float32)
    dy, dx = yy - px[1], xx - px[0]
    angle = np.arctan2(dy, dx)
    lobes = 1 + 0.08 * np.sin(3 * angle + rng.uniform(0, 6)) + 0.05 * np.sin(5 * angle + rng.uniform(0, 6))
    r = np.sqrt(dx**2 + dy**2) / (radius_px * lobes)
    sphere = np.sqrt(np.clip(1 - r**2, 0, None))
    if severity > 0.6:  # spiculated mass: thin radial strands
        spikes = np.clip(np.cos(angle * 11 + rng.uniform(0, 6)) - 0.9, 0, None) * 6
        sphere += 0.2 * spikes * np.clip(1.6 - r, 0, 1) * (r > 0.9)
    patch = (0.016 * diameter_mm * sphere).astype(np.float32)
    out = grid.zeros()
    _paste(out, patch, y0, x0)
    return out * np.clip(lungs.aerated * 1.5, 0, 1)


def pneumothorax(a: Anatomy, grid: Grid, lungs: LungState, severity: float,
                 rng: np.random.Generator) -> np.ndarray:
    """Apical-lateral air rim: a thin visceral pleural line, no markings beyond it."""
    side = -1 if rng.random() < 0.5 else 1
    i = 0 if side < 0 else 1
    coarse = grid.coarse()
    mask = cv2.resize(lungs.sides[i], (coarse.cols, coarse.rows), interpolation=cv2.INTER_AREA)
    inside = np.asarray(mask > 0.5, np.uint8)
    dist = cv2.distanceTransform(inside, cv2.DIST_L2, 5) / coarse.cols  # normalised units
    yy, xx = coarse.coords()
    lateral = np.clip((side * (xx - a.cx) - 0.12) / 0.12, 0, 1) * np.clip(1.2 - (yy - a.apex_y) / 0.45, 0, 1)
    apical_lateral = np.clip(lateral + np.clip(1 - (yy - a.apex_y) / 0.08, 0, 1), 0, 1)
    rim = 0.25 * severity * a.thorax_half_width * apical_lateral
    gap = upsample((dist - rim).astype(np.float32), grid) * grid.cols  # px from the line
    inside_full = upsample(inside.astype(np.float32), grid)
    region = np.clip(-gap, 0, 1) * inside_full * (upsample(rim, grid) > 0.002)
    line_sd = max(0.6, grid.cols / 2500)
    line = np.exp(-((gap / line_sd) ** 2)) * (upsample(rim, grid) > 0.002) * inside_full
    lungs.keep_markings *= 1 - region
    return (0.15 * line - 0.25 * region).astype(np.float32)


def _paste(canvas: np.ndarray, patch: np.ndarray, y0: int, x0: int) -> None:
    """Add ``patch`` into ``canvas`` at (y0, x0), clipped to the canvas."""
    h, w = patch.shape
    ys, xs = max(0, y0), max(0, x0)
    ye, xe = min(canvas.shape[0], y0 + h), min(canvas.shape[1], x0 + w)
    if ye > ys and xe > xs:
        canvas[ys:ye, xs:xe] += patch[ys - y0:ye - y0, xs - x0:xe - x0]
