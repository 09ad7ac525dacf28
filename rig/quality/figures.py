"""Full-reference quality figures of one verified pair (pure numpy/OpenCV).

Theory of operation. A verified pair is the aligned photo, resampled onto the ground
truth's pixels, the ground truth itself, the valid-pixel mask and the registration's
own figures. The photo differs from the truth by things that are not defects — the
camera's tone curve, exposure, room haze, all global and monotone — and by things
that are: glare, blur, noise, clipping, misregistration. So the photo is first
*tone-normalised*: camera levels are mapped back to display levels through a
non-decreasing curve (``calibration.photometric``, the same curve and inverse the
registration report applies with ``--tone-curve``). Without a calibrated curve the
curve is fitted on the pair itself: the median camera level of every ground-truth
level, made monotone by pool-adjacent-violators. Medians ignore local glare as long
as it covers less than half of a level's pixels, and a monotone global curve cannot
undo blur, noise or glare, so what is left after it is defects.

Figures (all over the valid mask):

* ``ssim`` / ``psnr_db``: Wang SSIM and PSNR of the tone-normalised photo (grey).
* ``glare_fraction``: pixels washed out — the tone-normalised photo, smoothed over a
  few pixels, brighter than the truth by ``glare_delta`` levels — or clipped where the
  tone curve says the truth should not clip.
* ``saturated_fraction``: camera levels at or above ``saturation_level`` (clipping of
  any cause, the tone curve's own included; reported, not graded).
* ``sharpness``: the fine detail of the ground truth (a difference-of-Gaussians band,
  σ 1–2 px) that the photo keeps, as the projection gain Σ b(p)·b(t) / Σ b(t)²: 1 for
  a perfect photo, falling with blur; noise is uncorrelated with the truth and
  averages out of the numerator instead of adding to it.
* ``marker_residual_px``: the registration's marker reprojection RMS (photo pixels).
* ``coverage``: the fraction of the image inside the photo's valid mask.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import cv2
import numpy as np

from calibration.markers import to_gray
from calibration.metrics import psnr, ssim
from calibration.photometric import ToneCurve, apply_tone_normalisation, fit_tone_curve

GLARE_SMOOTH_PX = 4.0  # Gaussian sigma: glare is a smooth veil, noise is not
SHARPNESS_SIGMA_PX = 1.0  # the detail band: DoG between sigma and 2 sigma
CLIP_MARGIN = 15.0  # expected camera level this far below clipping means "should not clip"


@dataclass(frozen=True)
class PairFigures:
    """Full-reference figures of one aligned photo against its ground truth."""

    ssim: float
    psnr_db: float
    glare_fraction: float
    saturated_fraction: float
    sharpness: float
    marker_residual_px: float | None
    coverage: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PairFigures:
        residual = data.get("marker_residual_px")
        return cls(
            float(data["ssim"]),
            float(data["psnr_db"]),
            float(data["glare_fraction"]),
            float(data["saturated_fraction"]),
            float(data["sharpness"]),
            None if residual is None else float(residual),
            float(data["coverage"]),
        )


def fit_pair_tone_curve(photo: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> ToneCurve:
    """Monotone display->camera curve through the median camera level of every truth level."""
    valid = mask.astype(bool)
    levels = truth[valid].astype(np.int64)
    values = photo[valid].astype(np.float64)
    if levels.size == 0:
        raise ValueError("the mask selects no pixel")
    order = np.lexsort((values, levels))  # by truth level, then camera level
    levels, values = levels[order], values[order]
    counts = np.bincount(levels, minlength=256)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    present = np.nonzero(counts)[0]
    medians = values[starts[present] + counts[present] // 2]
    if present.size == 1:  # a flat image: one level cannot make a curve; assume identity
        return ToneCurve((0.0, 255.0), (0.0, 255.0))
    return fit_tone_curve(present.astype(np.float64), medians, counts[present].astype(np.float64))


def _detail_band(image: np.ndarray) -> np.ndarray:
    a = image.astype(np.float32)
    fine = cv2.GaussianBlur(a, (0, 0), SHARPNESS_SIGMA_PX)
    coarse = cv2.GaussianBlur(a, (0, 0), 2 * SHARPNESS_SIGMA_PX)
    return np.asarray(fine - coarse)


def sharpness_ratio(photo: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> float:
    """Fine detail of ``truth`` kept by ``photo`` (both grey, display levels): ~1 when sharp."""
    inner = cv2.erode(mask.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    bp, bt = _detail_band(photo)[inner], _detail_band(truth)[inner]
    energy = float(np.dot(bt.astype(np.float64), bt.astype(np.float64)))
    if energy <= 1e-9:  # no detail to lose: call it sharp
        return 1.0
    return float(np.dot(bp.astype(np.float64), bt.astype(np.float64)) / energy)


def glare_map(
    photo: np.ndarray,
    normalised: np.ndarray,
    truth: np.ndarray,
    curve: ToneCurve,
    glare_delta: float,
    saturation_level: int,
) -> np.ndarray:
    """(H, W) bool: washed out (a smooth excess of light over the truth) or clipped
    where the truth should not clip."""
    excess = normalised.astype(np.float32) - truth.astype(np.float32)
    washed = cv2.GaussianBlur(excess, (0, 0), GLARE_SMOOTH_PX) > glare_delta
    expected = curve.camera_of(truth.astype(np.float64))
    clipped = (photo >= saturation_level) & (expected < saturation_level - CLIP_MARGIN)
    return np.asarray(washed | clipped)


def pair_figures(
    aligned: np.ndarray,
    truth: np.ndarray,
    mask: np.ndarray,
    marker_residual_px: float | None,
    *,
    tone_curve: ToneCurve | None = None,
    glare_delta: float = 40.0,
    saturation_level: int = 250,
) -> PairFigures:
    """Figures of ``aligned`` (grey or BGR/RGB, the truth's pixels) vs ``truth``.

    ``mask`` is the valid-pixel mask (bool or 0/255); ``tone_curve`` a calibrated
    display->camera curve (default: fitted on this pair).
    """
    photo, reference = to_gray(aligned), to_gray(truth)
    if photo.shape != reference.shape or mask.shape[:2] != reference.shape:
        raise ValueError(
            f"aligned {photo.shape}, truth {reference.shape} and mask {mask.shape} differ in size"
        )
    valid = mask.astype(bool)
    coverage = float(valid.mean())
    if not valid.any():
        return PairFigures(0.0, 0.0, 1.0, 0.0, 0.0, marker_residual_px, 0.0)
    curve = tone_curve or fit_pair_tone_curve(photo, reference, valid)
    normalised = apply_tone_normalisation(photo, curve)
    glare = glare_map(photo, normalised, reference, curve, glare_delta, saturation_level)
    n_valid = float(valid.sum())
    return PairFigures(
        ssim=ssim(reference, normalised, valid),
        psnr_db=min(psnr(reference, normalised, valid), 99.0),  # identical images: cap inf
        glare_fraction=float((glare & valid).sum() / n_valid),
        saturated_fraction=float(((photo >= saturation_level) & valid).sum() / n_valid),
        sharpness=sharpness_ratio(normalised, reference, valid),
        marker_residual_px=marker_residual_px,
        coverage=coverage,
    )
