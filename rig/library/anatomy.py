"""Normal chest anatomy of a generated PA radiograph, as attenuation layers.

The patient is drawn from a few shape parameters (``draw_anatomy``); everything is in
normalised coordinates, so the same ``Anatomy`` renders identically at any size. The
viewer's left is the patient's right (PA convention); the heart lies mostly on the
viewer's right. Attenuation is additive (line integrals): soft tissue minus lung air,
plus bones (ribs, clavicles, scapulae, spine, humeral heads, each a cortical shell with
trabecular marrow) and the pulmonary vessel tree.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np

from rig.library.drawing import (
    Grid,
    band_noise,
    bezier,
    draw_polyline,
    fill_polygon,
    shell_profile,
    smooth_noise,
    upsample,
)

FOV_WIDTH_MM = 400.0  # the detector width the normalised image spans


@dataclass(frozen=True)
class Anatomy:
    cx: float  # midline
    thorax_half_width: float  # inner rib cage, half of the thoracic diameter
    body_half_width: float
    apex_y: float
    dome_y: tuple[float, float]  # hemidiaphragm tops (viewer left, viewer right)
    cp_y: tuple[float, float]  # costophrenic angles
    heart_top_y: float
    heart_right_fraction: float  # share of the heart width right of the midline
    ctr: float  # cardiothoracic ratio: heart width / thoracic width
    habitus: float  # soft-tissue thickness factor
    female: bool
    rib_phase: float  # vertical offset of the rib cage
    tilt: float  # small rotation of the patient, radians
    zoom: tuple[float, float]  # framing: (horizontal, vertical) magnification; the
    # vertical one (about the top edge) moves the diaphragm down and cuts the abdomen

    @property
    def heart_width(self) -> float:
        return self.ctr * 2 * self.thorax_half_width

    def heart_edges(self) -> tuple[float, float]:
        """(x of the right heart border, x of the left border), viewer coordinates."""
        right = self.heart_width * self.heart_right_fraction
        return self.cx - right, self.cx + self.heart_width - right


def draw_anatomy(rng: np.random.Generator, ctr: float) -> Anatomy:
    """A plausible adult PA chest with the given cardiothoracic ratio."""
    dome = 0.64 + rng.normal(0, 0.015)
    return Anatomy(
        cx=0.5 + rng.normal(0, 0.008),
        thorax_half_width=0.385 + rng.normal(0, 0.012),
        body_half_width=0.47 + rng.normal(0, 0.01),
        apex_y=0.11 + rng.normal(0, 0.008),
        dome_y=(dome, dome + 0.025 + rng.normal(0, 0.008)),
        cp_y=(dome + 0.09 + rng.normal(0, 0.01), dome + 0.10 + rng.normal(0, 0.01)),
        heart_top_y=0.37 + rng.normal(0, 0.01),
        heart_right_fraction=0.33 + rng.normal(0, 0.02),
        ctr=ctr,
        habitus=float(np.clip(1.0 + rng.normal(0, 0.12), 0.75, 1.3)),
        female=bool(rng.random() < 0.5),
        rib_phase=float(rng.normal(0, 0.006)),
        tilt=float(rng.normal(0, 0.012)),
        zoom=(float(rng.uniform(0.97, 1.05)), float(rng.uniform(1.1, 1.18))),
    )


# --- outlines ---------------------------------------------------------------------------

def lung_outline(a: Anatomy, side: int) -> np.ndarray:
    """Polygon (N, 2) of one lung; side −1 = viewer left, +1 = viewer right."""
    i = 0 if side < 0 else 1
    w, cx = a.thorax_half_width, a.cx
    lateral = bezier(np.array([[cx + side * 0.15, a.apex_y], [cx + side * (w + 0.01), a.apex_y + 0.05],
                               [cx + side * (w + 0.02), a.cp_y[i] - 0.2], [cx + side * (w - 0.005), a.cp_y[i]]]))
    dome = bezier(np.array([[cx + side * (w - 0.005), a.cp_y[i]], [cx + side * (w - 0.1), a.dome_y[i] - 0.03],
                            [cx + side * 0.12, a.dome_y[i] - 0.02], [cx + side * 0.03, a.dome_y[i] + 0.03]]))
    medial = bezier(np.array([[cx + side * 0.03, a.dome_y[i] + 0.03], [cx + side * 0.02, 0.35],
                              [cx + side * 0.035, a.apex_y + 0.02], [cx + side * 0.15, a.apex_y]]))
    return np.concatenate([lateral, dome[1:], medial[1:]])


def heart_outline(a: Anatomy) -> np.ndarray:
    """Polygon of the cardiac silhouette, its base on the diaphragm."""
    right, left = a.heart_edges()
    top, base = a.heart_top_y, a.dome_y[1] + 0.035
    left_border = bezier(np.array([[a.cx + 0.045, top], [left + 0.01, top + 0.06],
                                   [left + 0.02, base - 0.08], [left - 0.03, base]]))
    right_border = bezier(np.array([[right + 0.02, base], [right - 0.015, base - 0.08],
                                    [right - 0.01, top + 0.03], [a.cx - 0.03, top]]))
    return np.concatenate([left_border, right_border])


def mediastinum_outline(a: Anatomy) -> np.ndarray:
    """Upper mediastinum (great vessels, aortic knob on the viewer's right)."""
    cx = a.cx
    right = bezier(np.array([[cx - 0.04, 0.0], [cx - 0.045, 0.2], [cx - 0.06, 0.3], [cx - 0.04, a.heart_top_y + 0.03]]))
    left = bezier(np.array([[cx + 0.05, a.heart_top_y + 0.03], [cx + 0.11, 0.29], [cx + 0.09, 0.22], [cx + 0.04, 0.0]]))
    return np.concatenate([right, left])


def diaphragm_outline(a: Anatomy) -> np.ndarray:
    """Everything below the hemidiaphragms (liver on the viewer's left, stomach right)."""
    cx, w = a.cx, a.thorax_half_width
    curve = bezier(np.array([[cx - w - 0.06, a.cp_y[0] + 0.01], [cx - w + 0.08, a.dome_y[0] - 0.05],
                             [cx - 0.05, a.dome_y[0] - 0.02], [cx, a.dome_y[0] + 0.03]]))
    curve2 = bezier(np.array([[cx, a.dome_y[1] + 0.02], [cx + 0.05, a.dome_y[1] - 0.02],
                              [cx + w - 0.08, a.dome_y[1] - 0.05], [cx + w + 0.06, a.cp_y[1] + 0.01]]))
    return np.concatenate([curve, curve2, [[cx + w + 0.06, 1.2], [cx - w - 0.06, 1.2]]])


# --- soft tissue and air (coarse, smooth) ----------------------------------------------------

@dataclass
class SoftTissue:
    """Coarse-grid layers: ``attenuation`` and the masks findings are drawn into."""

    attenuation: np.ndarray
    air: np.ndarray  # attenuation the lung air takes away (≥ 0)
    lungs: np.ndarray  # aerated lung, 0..1
    lung_sides: tuple[np.ndarray, np.ndarray]
    heart: np.ndarray


def soft_tissue(a: Anatomy, grid: Grid, rng: np.random.Generator) -> SoftTissue:
    yy, xx = grid.coords()
    soft = max(0.6, grid.rows / 400)
    dx = (xx - a.cx) / a.body_half_width
    neck = np.clip((0.08 - yy) / 0.08, 0, 1)  # narrower above the shoulders
    width = 1.0 - 0.45 * neck
    body = np.sqrt(np.clip(1.0 - (dx / width) ** 2, 0, None))
    body = cv2.GaussianBlur(body, (0, 0), soft)
    attenuation = 2.7 * a.habitus * body
    sides = tuple(fill_polygon(grid, lung_outline(a, s), soft) for s in (-1, 1))
    lungs = np.clip(sides[0] + sides[1], 0, 1)
    heart = fill_polygon(grid, heart_outline(a), soft * 1.2)
    mediastinum = fill_polygon(grid, mediastinum_outline(a), soft * 2)
    below = fill_polygon(grid, diaphragm_outline(a), soft)
    aerated = lungs * (1 - 0.8 * heart) * (1 - mediastinum) * (1 - below)
    # Lungs are deepest laterally at the bases; the apices are thin.
    depth = 0.55 + 0.45 * np.clip((yy - a.apex_y) / 0.4, 0, 1)
    depth *= np.sqrt(np.clip(cv2.GaussianBlur(aerated, (0, 0), grid.rows / 40), 0, 1))
    air = 1.2 * depth * aerated * a.habitus
    attenuation -= air
    attenuation += 0.1 * heart + 0.1 * mediastinum + 0.05 * below * body
    trachea = np.exp(-(((xx - a.cx) / 0.016) ** 4)) * np.clip((0.33 - yy) / 0.04, 0, 1)
    attenuation -= 0.5 * trachea
    if a.female:  # breast shadows over the lower lung fields, convex inferior margin
        for s in (-1, 1):
            shadow = fill_polygon(grid, _breast_outline(a, s), grid.rows / 60)
            attenuation += 0.35 * shadow
    bubble = np.exp(-(((xx - a.cx - 0.16) / 0.05) ** 2 + ((yy - a.dome_y[1] - 0.06) / 0.03) ** 2))
    attenuation -= 0.35 * bubble  # gastric air under the left hemidiaphragm
    # Bowel gas: rounded lucencies of a few cm with soft walls, below the stomach.
    pockets = np.clip(1.2 * (smooth_noise(rng, grid, grid.cols * 0.015) - 1.0), 0, 1)
    gas = cv2.GaussianBlur(pockets.astype(np.float32), (0, 0), max(0.7, grid.cols * 0.004))
    attenuation -= 0.2 * gas * below * np.clip((yy - a.dome_y[1] - 0.06) / 0.04, 0, 1)
    attenuation += 0.06 * smooth_noise(rng, grid, grid.rows / 25) * body
    return SoftTissue(attenuation.astype(np.float32), air.astype(np.float32), aerated.astype(np.float32),
                      (sides[0].astype(np.float32), sides[1].astype(np.float32)), heart)


def _breast_outline(a: Anatomy, side: int) -> np.ndarray:
    cx, w = a.cx, a.body_half_width
    return bezier(np.array([[cx + side * 0.08, 0.5], [cx + side * 0.1, 0.78], [cx + side * (w + 0.05), 0.78],
                            [cx + side * (w + 0.02), 0.45], [cx + side * 0.08, 0.5]]), 40)


# --- bones (full resolution) ------------------------------------------------------------------

def rib_curves(a: Anatomy) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Centre lines of the posterior and anterior ribs (10 and 6 per side)."""
    posterior, anterior = [], []
    w = a.thorax_half_width
    for side in (-1, 1):
        for k in range(10):
            y0 = 0.1 + a.rib_phase + 0.047 * k + 0.0012 * k * k
            reach = w * (0.72 + 0.28 * min(1.0, 0.25 + k / 5))
            posterior.append(bezier(np.array([
                [a.cx + side * 0.03, y0], [a.cx + side * 0.16, y0 - 0.055],
                [a.cx + side * (reach + 0.04), y0 - 0.03], [a.cx + side * reach, y0 + 0.15]])))
        for k in range(6):
            y0 = 0.14 + a.rib_phase + 0.075 * k
            anterior.append(bezier(np.array([
                [a.cx + side * (w - 0.005), y0], [a.cx + side * (w - 0.1), y0 + 0.01],
                [a.cx + side * 0.2, y0 + 0.1], [a.cx + side * 0.1, y0 + 0.17]])))
    return posterior, anterior


def clavicle_curves(a: Anatomy) -> list[np.ndarray]:
    return [bezier(np.array([[a.cx + s * 0.05, 0.15], [a.cx + s * 0.15, 0.11],
                             [a.cx + s * 0.26, 0.13], [a.cx + s * 0.37, 0.085]])) for s in (-1, 1)]


def nearest_curve(grid: Grid, curves: list[np.ndarray],
                  values: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(distance in px to the nearest curve point, that point's value), both (H, W).

    ``values[i]`` gives one number per point of ``curves[i]`` (e.g. the local radius).
    """
    mask = np.full((grid.rows, grid.cols), 255, np.uint8)
    attr = np.zeros((grid.rows, grid.cols), np.float32)
    for curve, vals in zip(curves, values, strict=True):
        pts = np.round(grid.to_px(curve)).astype(np.int32)
        cv2.polylines(mask, [pts], False, 0, 1, cv2.LINE_8)
        for (p, q), v in zip(itertools.pairwise(pts), vals[:-1], strict=True):
            cv2.line(attr, (int(p[0]), int(p[1])), (int(q[0]), int(q[1])), float(v), 1)
    dist, labels = cv2.distanceTransformWithLabels(
        mask, cv2.DIST_L2, cv2.DIST_MASK_5, labelType=cv2.DIST_LABEL_PIXEL)
    on_curve = attr.ravel()[np.flatnonzero(mask.ravel() == 0)]  # label k = k-th zero pixel
    return dist, on_curve[np.maximum(labels, 1) - 1]


def tube_bones(grid: Grid, curves: list[np.ndarray], radius: float, texture: np.ndarray,
               density: float, fade: float = 0.25) -> np.ndarray:
    """Attenuation of tubular bones along ``curves``: cortex rims + textured marrow.

    ``fade`` tapers the radius and density over that fraction of each end.
    """
    values = []
    for curve in curves:
        t = np.linspace(0, 1, len(curve))
        values.append(np.clip(np.minimum(t, 1 - t) / fade, 0.35, 1.0))
    dist, taper = nearest_curve(grid, curves, values)
    out = grid.zeros()
    near = dist < radius * grid.px_per_unit  # shells are evaluated only where they are
    radius_px = radius * grid.px_per_unit * taper[near]
    cortex, marrow = shell_profile(dist[near], radius_px, cortex=0.14)
    scale = density * taper[near]  # path length ∝ radius
    out[near] = scale * (0.7 * cortex + 0.08 * marrow * texture[near])
    return out


def trabecular_texture(rng: np.random.Generator, grid: Grid) -> np.ndarray:
    """A trabecular-like network in ~[0.4, 1.6]: ridges of ~0.5 mm band-pass noise."""
    mm_per_px = FOV_WIDTH_MM / grid.cols
    noise = band_noise(rng, grid, max(1.0, 0.35 / mm_per_px))
    # Coarse pixels average several trabeculae: less texture contrast.
    amplitude = 0.2 * min(1.0, (0.25 / mm_per_px) ** 0.5)
    return (1.0 + amplitude * np.tanh(1.5 * noise)).astype(np.float32)


def spine(a: Anatomy, grid: Grid, texture: np.ndarray) -> np.ndarray:
    """Vertebral bodies with end plates, pedicles and spinous processes, T1 to L1."""
    outline = grid.zeros()
    bodies = []
    n, top, step = 14, 0.05, 0.058
    thick = max(1, round(0.002 * grid.cols))
    for j in range(n):
        y = top + j * step + a.rib_phase
        hw = 0.028 + 0.012 * j / n
        h = step * 0.86
        body = np.array([[a.cx - hw, y], [a.cx + hw, y], [a.cx + hw * 1.05, y + h], [a.cx - hw * 1.05, y + h]])
        bodies.append(np.round(grid.to_px(body) * 16).astype(np.int32))
        draw_polyline(outline, grid, np.vstack([body, body[:1]]), 0.0025, 1.0)
        rings = [(a.cx + s * hw * 0.75, y + h * 0.35, 0.009, 0.014) for s in (-1, 1)]  # pedicles
        rings.append((a.cx, y + h * 0.7, 0.006, 0.012))  # spinous process
        for x, yc, rx, ry in rings:
            centre = grid.to_px(np.array([[x, yc]]))[0]
            axes = (max(1, round(rx * grid.cols)), max(1, round(ry * grid.rows)))
            cv2.ellipse(outline, (round(centre[0]), round(centre[1])), axes, 0, 0, 360, 1.0, thick)
    mask = np.zeros((grid.rows, grid.cols), np.uint8)
    cv2.fillPoly(mask, bodies, 255, cv2.LINE_AA, shift=4)
    layer = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), max(0.7, grid.cols / 1000))
    return (0.05 * layer * texture + 0.015 * outline).astype(np.float32)


def shoulder_bones(a: Anatomy, grid: Grid, texture: np.ndarray) -> np.ndarray:
    """Scapulae (thin plates with cortical borders) and humeral heads (cortical rings)."""
    coarse = grid.coarse()
    plates = coarse.zeros()
    rims: list[np.ndarray] = []
    yy, xx = coarse.coords()
    for s in (-1, 1):
        x = a.cx + s * a.thorax_half_width
        plate = np.array([[x - s * 0.1, 0.1], [x + s * 0.07, 0.09], [x + s * 0.02, 0.42], [x - s * 0.02, 0.44]])
        plates += 0.1 * fill_polygon(coarse, plate, 1.0)
        rims.append(bezier(np.array([[x + s * 0.07, 0.1], [x + s * 0.02, 0.25], [x - s * 0.02, 0.44]])))
        rims.append(bezier(np.array([[x + s * 0.1, 0.04], [x + s * 0.05, 0.06], [x + s * 0.08, 0.12]])))
        hx = a.cx + s * (a.body_half_width + 0.01)
        r = np.sqrt(((xx - hx) / 0.075) ** 2 + ((yy - 0.07) / 0.075 * coarse.rows / coarse.cols) ** 2)
        plates += 0.3 * np.sqrt(np.clip(1 - r * r, 0, None))  # humeral head: marrow
        ring = bezier(np.array([[hx - 0.075, 0.07], [hx - 0.075, -0.03], [hx + 0.075, -0.03],
                                [hx + 0.075, 0.07], [hx + 0.075, 0.17], [hx - 0.075, 0.17],
                                [hx - 0.075, 0.07]]), 96)
        rims.append(ring)
    layer = upsample(plates, grid) * texture
    return layer + tube_bones(grid, rims, 0.006, texture, 0.6, fade=0.15)


def skeleton(a: Anatomy, grid: Grid, rng: np.random.Generator) -> np.ndarray:
    """All bones at full resolution."""
    texture = trabecular_texture(rng, grid)
    posterior, anterior = rib_curves(a)
    # Neighbouring ribs come close laterally: even and odd ribs get separate distance
    # fields, so the nearest-curve lookup never cuts one rib's rim with the next.
    bones = tube_bones(grid, posterior[0::2], 0.0105, texture, 0.5)
    bones += tube_bones(grid, posterior[1::2], 0.0105, texture, 0.5)
    bones += tube_bones(grid, anterior, 0.011, texture, 0.4, fade=0.4)
    bones += tube_bones(grid, clavicle_curves(a), 0.0125, texture, 0.7, fade=0.1)
    bones += spine(a, grid, texture)
    bones += shoulder_bones(a, grid, texture)
    return bones


# --- pulmonary vessels ---------------------------------------------------------------------

@dataclass(frozen=True)
class Branches:
    """One generation of a tree: ``points`` (N, 2, 2) segment ends, all ``width`` wide."""

    points: np.ndarray
    width: float


def vessel_tree(a: Anatomy, rng: np.random.Generator, depth: int = 8) -> list[Branches]:
    """Branching pulmonary arteries/veins from both hila (same tree at every size)."""
    starts, directions = [], []
    for side in (-1, 1):
        hilum = np.array([a.cx + side * 0.1, 0.4 + rng.normal(0, 0.01)])
        for angle in (-1.9, -1.3, -0.7, -0.1, 0.5, 1.0, 1.4):  # radians from horizontal, outwards
            starts.append(hilum)
            directions.append([side * np.cos(angle), np.sin(angle)])
    return grow_tree(rng, np.array(starts), np.array(directions), 0.06, 0.0065, depth)


def grow_tree(rng: np.random.Generator, starts: np.ndarray, directions: np.ndarray,
              length: float, width: float, depth: int) -> list[Branches]:
    """Binary trees of tapering, wandering segments (vessels, bronchi), one per start.

    Each generation turns a little, forks into two children 0.25–0.5 rad apart, and
    shrinks (length ×0.72–0.84, width ×0.78: Murray's law gives 2^(−1/3) ≈ 0.79).
    """
    out: list[Branches] = []
    pos = np.asarray(starts, np.float64).reshape(-1, 2)
    vec = np.asarray(directions, np.float64).reshape(-1, 2)
    vec = vec / np.linalg.norm(vec, axis=1, keepdims=True)
    lengths = np.full(len(pos), length)
    for _ in range(depth + 1):
        vec = _rotate(vec, rng.normal(0, 0.3, len(vec)))
        ends = pos + vec * lengths[:, None]
        out.append(Branches(np.stack([pos, ends], axis=1), width))
        spread = 0.25 + 0.25 * rng.random((2, len(vec)))
        vec = np.concatenate([_rotate(vec, -spread[0]), _rotate(vec, spread[1])])
        lengths = np.concatenate([lengths, lengths]) * (0.72 + 0.12 * rng.random(2 * len(lengths)))
        pos = np.concatenate([ends, ends])
        width *= 0.78
    return out


def _rotate(v: np.ndarray, angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([c * v[:, 0] - s * v[:, 1], s * v[:, 0] + c * v[:, 1]], axis=1)


def _bent(points: np.ndarray, parts: int = 3) -> list[np.ndarray]:
    """Split segments (N, 2, 2) into ``parts`` pieces along a gentle deterministic bow."""
    start, end = points[:, 0], points[:, 1]
    normal = np.stack([start[:, 1] - end[:, 1], end[:, 0] - start[:, 0]], axis=1)
    bow = 0.12 * np.sin(np.arange(len(points)) * 2.39996)[:, None]  # golden-angle spread
    t = np.linspace(0.0, 1.0, parts + 1)
    knots = [start + (end - start) * u + normal * bow * 4 * u * (1 - u) for u in t]
    return [np.stack([knots[k], knots[k + 1]], axis=1) for k in range(parts)]


def vessels(tree: list[Branches], grid: Grid, lungs: np.ndarray,
            keep: np.ndarray | None = None) -> np.ndarray:
    """Attenuation of a tree, seen only where the lung is aerated.

    A vessel's projected density grows with its diameter (it is a cylinder of blood);
    ``keep`` (H, W) in [0, 1] removes markings, e.g. beyond a pneumothorax's pleural line.
    """
    layer = grid.zeros()
    for gen in sorted(tree, key=lambda b: b.width):  # thin first: thick ones overwrite
        for part, points in enumerate(_bent(gen.points)):
            width = gen.width * (1.0 - 0.07 * part)  # taper towards the next fork
            width_px = width * grid.px_per_unit
            value = (0.04 + 12.0 * width) * min(1.0, width_px)
            pts = np.round(grid.to_px(points.reshape(-1, 2)) * 16).astype(np.int32)
            cv2.polylines(layer, list(pts.reshape(-1, 2, 2)), False, float(value),
                          max(1, round(width_px)), cv2.LINE_8, shift=4)
    blur = max(0.5, grid.cols / 1400)
    layer = cv2.GaussianBlur(layer, (0, 0), blur)
    visible = np.clip(lungs * 1.3, 0, 1) * (keep if keep is not None else 1.0)
    return (layer * visible).astype(np.float32)


def lung_texture(rng: np.random.Generator, grid: Grid, lungs: np.ndarray) -> np.ndarray:
    """Interstitial markings: ~1 mm band-pass noise plus a reticular network of ~3 mm
    cells (ridges of band-pass noise: thin bright walls around darker air spaces)."""
    mm_per_px = FOV_WIDTH_MM / grid.cols
    fine = band_noise(rng, grid, max(0.6, 1.0 / mm_per_px))
    coarse = grid.coarse()
    cells = band_noise(rng, coarse, max(0.8, 3.0 / (FOV_WIDTH_MM / coarse.cols)))
    network = upsample(np.clip(1.0 - 2.5 * np.abs(cells), 0, 1) ** 2, grid)
    return ((0.008 * fine + 0.05 * network) * lungs).astype(np.float32)
