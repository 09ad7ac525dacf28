"""Sub-pixel refinement of a marker-based mapping on the image content (ECC).

The markers only sit on the border; the image content covers the area that
matters. ECC (cv2.findTransformECC, MOTION_HOMOGRAPHY) finds the residual
homography W, in local coordinates of the image area at half resolution, such
that aligned(W(x)) ≈ truth(x); ECC's correlation is invariant to gain and offset,
so the display-to-camera tone response does not bias it. The new mapping is
mapping(T⁻¹ W T x), i.e. H' = H · T⁻¹ W T. A guard keeps it only if the
correlation over the full-resolution area improved and W moved no point of the
area by more than 1.5 px (a refinement, not a re-registration). The caller also
checks the marker corners (calibration.registration).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from calibration.distortion import ScreenMapping, dense_map

_FACTOR = 2  # ECC runs at 1/2 resolution
_MAX_SHIFT_PX = 1.5  # a refinement corrects sub-pixel errors, it does not re-register


@dataclass(frozen=True)
class Area:
    """A rectangle of the screen, in screen pixels."""

    x: int
    y: int
    width: int
    height: int


def warp_to_screen(
    photo: np.ndarray, mapping: ScreenMapping, area: Area
) -> tuple[np.ndarray, np.ndarray]:
    """Photo resampled on the screen pixels of ``area`` and its valid mask (bool)."""
    mx, my = dense_map(mapping, area.x, area.y, area.width, area.height)
    aligned = cv2.remap(photo, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    h, w = photo.shape[:2]
    mask = (mx >= 0) & (my >= 0) & (mx <= w - 1) & (my <= h - 1)
    return aligned, mask


def ecc_score(aligned_gray: np.ndarray, truth_gray: np.ndarray, mask: np.ndarray) -> float:
    """Enhanced correlation coefficient of two images over ``mask`` (1 = identical up to gain)."""
    return float(
        cv2.computeECC(
            truth_gray.astype(np.float32), aligned_gray.astype(np.float32), mask.astype(np.uint8)
        )
    )


def _local_transform(area: Area) -> np.ndarray:
    """Screen px -> pixel coordinates of the half-resolution area image."""
    s = 1.0 / _FACTOR
    off_x = (0.5 - area.x) * s - 0.5
    off_y = (0.5 - area.y) * s - 0.5
    return np.array([[s, 0, off_x], [0, s, off_y], [0, 0, 1]])


@dataclass(frozen=True)
class Refinement:
    mapping: ScreenMapping
    score_before: float
    score_after: float
    kept: bool


def refine_with_ecc(
    gray_photo: np.ndarray, truth_gray: np.ndarray, mapping: ScreenMapping, area: Area
) -> Refinement:
    """Refine ``mapping`` on the image content of ``area``; keep it only if it helps."""
    aligned, mask = warp_to_screen(gray_photo, mapping, area)
    before = ecc_score(aligned, truth_gray, mask)
    small = (area.width // _FACTOR, area.height // _FACTOR)
    tmpl = cv2.resize(truth_gray, small, interpolation=cv2.INTER_AREA).astype(np.float32)
    inp = cv2.resize(aligned, small, interpolation=cv2.INTER_AREA).astype(np.float32)
    small_mask = cv2.resize(mask.astype(np.uint8), small, interpolation=cv2.INTER_NEAREST)
    warp: np.ndarray = np.eye(3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 60, 1e-6)
    try:
        _, found = cv2.findTransformECC(
            tmpl, inp, warp, cv2.MOTION_HOMOGRAPHY, criteria, small_mask, 3
        )
        warp = np.asarray(found)
    except cv2.error:
        return Refinement(mapping, before, before, False)
    t = _local_transform(area)
    correction = np.linalg.inv(t) @ warp.astype(np.float64) @ t
    corners = np.array(
        [
            [area.x, area.y, 1],
            [area.x + area.width, area.y, 1],
            [area.x, area.y + area.height, 1],
            [area.x + area.width, area.y + area.height, 1],
        ],
        dtype=np.float64,
    )
    moved = corners @ correction.T
    shift = np.hypot(*(moved[:, :2] / moved[:, 2:3] - corners[:, :2]).T).max()
    if not np.isfinite(shift) or shift > _MAX_SHIFT_PX:
        return Refinement(mapping, before, before, False)
    candidate = mapping.with_homography(mapping.h_matrix @ correction)
    aligned2, mask2 = warp_to_screen(gray_photo, candidate, area)
    after = ecc_score(aligned2, truth_gray, mask & mask2)
    if after > before:
        return Refinement(candidate, before, after, True)
    return Refinement(mapping, before, after, False)
