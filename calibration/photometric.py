"""The display-to-camera tone curve, from a registered photo of grey steps.

Each patch's camera level is the median over its central half (robust to glare
spots and moiré); levels are made monotone by isotonic regression (pool adjacent
violators, weighted by patch pixel count) since a display and a camera can only
keep the order of greys; in between, the curve is linear interpolation. Inverting
it maps camera levels back to display levels (``apply_tone_normalisation``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from calibration.patterns import Patch


@dataclass(frozen=True)
class ToneCurve:
    """Camera level (0..255 float) for each display level, non-decreasing."""

    display_levels: tuple[float, ...]
    camera_levels: tuple[float, ...]

    def camera_of(self, display: np.ndarray) -> np.ndarray:
        return np.interp(display, self.display_levels, self.camera_levels)

    def display_of(self, camera: np.ndarray) -> np.ndarray:
        """Inverse: display level for a camera level (flat stretches map to their middle)."""
        cam = np.asarray(self.camera_levels, np.float64)
        disp = np.asarray(self.display_levels, np.float64)
        # Strictly increasing x for np.interp: nudge flat runs by a negligible ramp.
        cam = cam + np.arange(cam.size) * 1e-6
        return np.interp(camera, cam, disp)

    def to_dict(self) -> dict[str, Any]:
        return {
            "display_levels": list(self.display_levels),
            "camera_levels": list(self.camera_levels),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToneCurve:
        disp = tuple(float(v) for v in data["display_levels"])
        cam = tuple(float(v) for v in data["camera_levels"])
        if len(disp) != len(cam) or len(disp) < 2 or list(disp) != sorted(disp):
            raise ValueError(
                "tone curve needs >= 2 increasing display levels, one camera level each"
            )
        return cls(disp, cam)


def isotonic(values: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Least-squares non-decreasing fit (pool adjacent violators)."""
    y = np.asarray(values, np.float64)
    w = np.ones_like(y) if weights is None else np.asarray(weights, np.float64)
    blocks: list[list[float]] = []  # [mean, weight, count]
    for value, weight in zip(y, w, strict=True):
        blocks.append([value, weight, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, n2 = blocks.pop()
            m1, w1, n1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    return np.concatenate([np.full(int(n), m) for m, _, n in blocks])


def measure_patches(
    aligned_gray: np.ndarray,
    mask: np.ndarray,
    patches: list[Patch],
    offset_xy: tuple[int, int] = (0, 0),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Display levels, median camera levels and valid pixel counts of each patch.

    ``offset_xy`` is where the patches' image origin sits in ``aligned_gray``.
    """
    levels, values, counts = [], [], []
    for p in patches:
        x0 = offset_xy[0] + p.x + p.width // 4
        y0 = offset_xy[1] + p.y + p.height // 4
        region = aligned_gray[y0 : y0 + p.height // 2, x0 : x0 + p.width // 2]
        valid = mask[y0 : y0 + p.height // 2, x0 : x0 + p.width // 2]
        if valid.sum() < 16:
            continue
        levels.append(p.level)
        values.append(float(np.median(region[valid])))
        counts.append(int(valid.sum()))
    return np.array(levels, np.float64), np.array(values), np.array(counts, np.float64)


def fit_tone_curve(
    display_levels: np.ndarray, camera_levels: np.ndarray, weights: np.ndarray | None = None
) -> ToneCurve:
    """Monotone tone curve through measured (display, camera) pairs."""
    order = np.argsort(display_levels, kind="stable")
    disp = np.asarray(display_levels, np.float64)[order]
    cam = np.asarray(camera_levels, np.float64)[order]
    w = None if weights is None else np.asarray(weights, np.float64)[order]
    if disp.size < 2:
        raise ValueError("a tone curve needs at least two grey levels")
    fitted = isotonic(cam, w)
    # Repeated display levels: keep one point per level (their pooled value).
    uniq, first = np.unique(disp, return_index=True)
    return ToneCurve(tuple(float(v) for v in uniq), tuple(float(fitted[i]) for i in first))


def apply_tone_normalisation(aligned: np.ndarray, curve: ToneCurve) -> np.ndarray:
    """Map camera levels of an aligned photo back to display levels (uint8, same shape)."""
    out = curve.display_of(aligned.astype(np.float64))
    return np.clip(np.round(out), 0, 255).astype(np.uint8)
