"""What is not the patient: tubes, lines, wires, the lead marker, collimation, burned-in text.

Tubes and lines are drawn into the attenuation before exposure (they are in the beam,
so they get the detector's blur, noise and edge enhancement, halo included); burned-in
text is written onto the displayed image afterwards, as a modality's annotation is.
The text names a fictitious station and the view; real-looking patient identifiers are
written into the pixels only when asked (``identifiers``), to exercise OCR-based
de-identification.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from rig.library.anatomy import Anatomy
from rig.library.drawing import Grid, bezier, draw_polyline

STATION_NAMES = ("RIG-SIM CR1", "RIGSIM DR-2", "SIMULATED XR ROOM 3")
DEVICES = ("et_tube", "central_line", "ng_tube", "pacemaker")


def tube(layer: np.ndarray, grid: Grid, points: np.ndarray, width: float,
         wall: float, stripe: float) -> None:
    """A plastic tube: bright walls, a fainter lumen and a radiopaque stripe."""
    draw_polyline(layer, grid, points, width, wall)
    draw_polyline(layer, grid, points, width * 0.6, wall * 0.45)
    if stripe > 0:
        draw_polyline(layer, grid, points + np.array([width * 0.25, 0]), width * 0.18, stripe)


def support_devices(a: Anatomy, grid: Grid, rng: np.random.Generator,
                    kinds: tuple[str, ...]) -> np.ndarray:
    """Attenuation of the requested devices (names from ``DEVICES``)."""
    layer = grid.zeros()
    cx = a.cx
    carina = 0.33
    if "central_line" in kinds:  # right internal jugular to the cavoatrial junction
        pts = bezier(np.array([[cx - 0.14, -0.02], [cx - 0.07, 0.12], [cx - 0.04, 0.2],
                               [cx - 0.035, a.heart_top_y + rng.uniform(-0.02, 0.04)]]))
        draw_polyline(layer, grid, pts, 0.0045, 0.45)
    if "ng_tube" in kinds:
        pts = bezier(np.array([[cx + 0.005, -0.02], [cx + 0.02, 0.4], [cx + 0.02, a.dome_y[1]],
                               [cx + 0.14, a.dome_y[1] + 0.08 + rng.uniform(0, 0.05)]]))
        tube(layer, grid, pts, 0.009, 0.12, 0.35)
    if "et_tube" in kinds:
        tip = carina - rng.uniform(0.03, 0.08)
        tube(layer, grid, np.array([[cx + rng.normal(0, 0.004), -0.02], [cx, tip]]), 0.02, 0.1, 0.4)
    if "pacemaker" in kinds:
        box = grid.to_px(np.array([[cx + 0.2, 0.13], [cx + 0.29, 0.19]]))
        p0, p1 = (tuple(int(v) for v in box[0]), tuple(int(v) for v in box[1]))
        cv2.rectangle(layer, p0, p1, 2.2, -1)
        for target in (a.heart_top_y + 0.06, a.dome_y[1] - 0.02):
            lead = bezier(np.array([[cx + 0.22, 0.16], [cx + 0.05, 0.12], [cx - 0.03, 0.3],
                                    [cx + 0.05, target]]))
            draw_polyline(layer, grid, lead, 0.003, 1.0)
    return cv2.GaussianBlur(layer, (0, 0), max(0.5, grid.cols / 2500))


def ecg_leads(a: Anatomy, grid: Grid, rng: np.random.Generator) -> np.ndarray:
    """Electrodes (a faint pad ring and a metal snap) with wires leaving the field."""
    layer = grid.zeros()
    for _ in range(int(rng.integers(3, 6))):
        x = a.cx + rng.uniform(-0.4, 0.4)
        y = rng.uniform(0.08, 0.75)
        centre = grid.to_px(np.array([[x, y]]))[0]
        c = (int(centre[0]), int(centre[1]))
        cv2.circle(layer, c, max(1, round(0.013 * grid.cols)), 0.12, max(1, round(0.002 * grid.cols)))
        cv2.circle(layer, c, max(1, round(0.0045 * grid.cols)), 1.2, -1)
        exit_x = -0.05 if x < a.cx else 1.05
        wire = bezier(np.array([[x, y], [x + rng.uniform(-0.2, 0.2), y + rng.uniform(-0.2, 0.2)],
                                [exit_x, rng.uniform(0.0, 1.0)]]), 64)
        draw_polyline(layer, grid, wire, 0.002, 0.6)
    return cv2.GaussianBlur(layer, (0, 0), max(0.5, grid.cols / 2500))


def lead_marker(grid: Grid, letter: str, rng: np.random.Generator) -> np.ndarray:
    """A lead laterality marker ("L" at the patient's left = viewer's right) in a box."""
    layer = grid.zeros()
    size = max(6, round(0.045 * grid.cols))
    x = round((0.86 if letter == "L" else 0.06) * grid.cols + rng.uniform(-0.02, 0.02) * grid.cols)
    y = round(rng.uniform(0.04, 0.12) * grid.rows)
    cv2.rectangle(layer, (x, y), (x + size, y + size), 0.4, -1)
    glyph = np.zeros((grid.rows, grid.cols), np.uint8)  # putText draws 8-bit images only
    scale = size / 30.0
    cv2.putText(glyph, letter, (x + round(size * 0.2), y + round(size * 0.82)),
                cv2.FONT_HERSHEY_SIMPLEX, scale, 255, max(1, round(scale * 3)), cv2.LINE_8)
    return layer + glyph.astype(np.float32) * (2.6 / 255)


@dataclass(frozen=True)
class Collimation:
    style: str  # "none" | "raw" (unexposed border, bright) | "shutter" (black mask)
    inset: tuple[float, float, float, float]  # top, bottom, left, right fractions
    angle_deg: float


def draw_collimation(rng: np.random.Generator) -> Collimation:
    style = str(rng.choice(["none", "raw", "shutter"], p=[0.3, 0.35, 0.35]))
    inset = tuple(float(v) for v in rng.uniform(0.0, 0.05, 4))
    return Collimation(style, (inset[0], inset[1], inset[2], inset[3]), float(rng.normal(0, 0.6)))


def field_mask(grid: Grid, c: Collimation) -> np.ndarray:
    """1 inside the collimated field, 0 outside; a sharp (sub-pixel) penumbra."""
    top, bottom, left, right = c.inset
    corners = np.array([[left, top], [1 - right, top], [1 - right, 1 - bottom], [left, 1 - bottom]])
    centre = corners.mean(axis=0)
    t = np.deg2rad(c.angle_deg)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    aspect = np.array([1.0, grid.cols / grid.rows])
    rotated = ((corners - centre) / aspect) @ rot.T * aspect + centre
    mask = np.zeros((grid.rows, grid.cols), np.uint8)
    pts = np.round(grid.to_px(rotated) * 16).astype(np.int32)
    cv2.fillPoly(mask, [pts], 255, cv2.LINE_AA, shift=4)
    return mask.astype(np.float32) / 255.0


def collimate(display: np.ndarray, grid: Grid, c: Collimation,
              rng: np.random.Generator) -> np.ndarray:
    """Apply the collimation to the displayed image (in place semantics, returns it)."""
    if c.style == "none":
        return display
    inside = field_mask(grid, c)
    if c.style == "shutter":
        return display * inside
    # Unexposed plate: bright, a little darker near the field where scatter reached it,
    # and almost noiseless (few quanta; the read-out noise is below one grey level).
    scatter = cv2.GaussianBlur(inside, (0, 0), max(1.0, grid.cols * 0.02))
    outside = 0.95 - 0.08 * scatter + 0.002 * rng.standard_normal(display.shape, dtype=np.float32)
    return display * inside + np.clip(outside, 0, 1) * (1 - inside)


def burn_text(display: np.ndarray, grid: Grid, lines: list[str], corner: str) -> None:
    """Write annotation ``lines`` in white into a corner of ``display`` (in place)."""
    if grid.rows < 200:
        return  # unreadable at thumbnail size; a real console would not annotate either
    scale = grid.rows / 1500
    thickness = max(1, round(scale * 1.6))
    step = round(grid.rows * 0.024)
    mask = np.zeros((grid.rows, grid.cols), np.uint8)
    for k, text in enumerate(lines):
        (w, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        x = round(grid.cols * 0.02) if corner.endswith("left") else grid.cols - w - round(grid.cols * 0.02)
        y0 = round(grid.rows * 0.03) + step if corner.startswith("top") else grid.rows - round(grid.rows * 0.02) - step * (len(lines) - 1)
        cv2.putText(mask, text, (x, y0 + k * step), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, thickness, cv2.LINE_AA)
    np.maximum(display, mask.astype(np.float32) / 255.0, out=display)


def annotation_lines(rng: np.random.Generator, identifiers: tuple[str, ...]) -> list[str]:
    """Station, view and technique lines; the fictitious identifiers only if given."""
    station = str(rng.choice(STATION_NAMES))
    kvp, mas = int(rng.integers(100, 130)), round(float(rng.uniform(1.0, 4.0)), 1)
    return [*identifiers, station, "PA ERECT", f"{kvp} kVp  {mas} mAs"]
