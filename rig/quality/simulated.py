"""Verified pairs from the virtual camera, graded: the automatic-label set without a session.

A "patient" is one chest-radiograph-like ground truth (``rig.camsim.testframes``); each is
photographed through camera presets (nominal parameters first, then draws from the
preset's ``[ranges]``), registered exactly as a session registers (the image's own
rectangle, the frame code checked), resampled onto the ground truth's pixels as the
session stores it, and graded. Rejected registrations are kept with ``grade=None``: a
photo the gate never sees.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from calibration.fiducials import FiducialLayout
from calibration.framecode import FrameCode
from calibration.markers import to_gray
from calibration.refinement import Area
from calibration.registration import register_photo
from rig.config import QualityConfig
from rig.quality.figures import PairFigures, pair_figures
from rig.quality.grading import Grade, grade_figures

SCREEN_WH = (1920, 1080)
IMAGE_WH = (1400, 900)  # placed with "fit" (scale ~1.004), like a session's resampled pairs


@dataclass(frozen=True)
class SimulatedPair:
    """One photo of one patient through one preset draw, registered and graded."""

    patient: str
    preset: str
    draw: int  # 0 = the preset's nominal parameters
    aligned: np.ndarray | None  # (H, W) uint8 grey, the truth's pixels (None if rejected)
    truth: np.ndarray  # (H, W) uint8
    mask: np.ndarray | None  # (H, W) bool
    figures: PairFigures | None
    grade: Grade | None
    reason: str  # the registration's verdict reason


def _to_truth_pixels(
    aligned: np.ndarray, mask: np.ndarray, truth_hw: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    gray = to_gray(aligned)
    if gray.shape == truth_hw:
        return gray, mask.astype(bool)
    size = (truth_hw[1], truth_hw[0])
    out = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    valid = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    return out, valid


def simulate_pair(
    patient_seed: int,
    preset: str,
    draw: int,
    config: QualityConfig | None = None,
    image_wh: tuple[int, int] = IMAGE_WH,
    overrides: dict[str, float] | None = None,
) -> SimulatedPair:
    """Photograph patient ``patient_seed`` with draw ``draw`` of ``preset`` (then
    ``overrides``, dotted camera keys); register; grade."""
    from rig.camsim import SimCamera, load_preset
    from rig.camsim.testframes import xray_like_image
    from rig.imaging.screen import compose_screen_frame

    config = config or QualityConfig()
    base = load_preset(preset)
    params = base if draw == 0 else base.sample(np.random.default_rng([patient_seed, draw]))
    if overrides:
        params = params.with_values(overrides)
    layout = FiducialLayout()
    truth = xray_like_image(patient_seed, image_wh)
    frame = compose_screen_frame(truth, SCREEN_WH, layout, FrameCode(1, draw % 4096, 0, 0), "fit")
    photo = SimCamera(params, seed=patient_seed * 1000 + draw).capture(frame.canvas)
    p = frame.placement
    reg = register_photo(photo.image, frame.canvas, layout,
                         area=Area(p.offset_x, p.offset_y, p.width, p.height))
    patient = job_id((patient_seed, preset, draw)).split("-")[0]
    if not reg.result.accepted or reg.aligned is None or reg.mask is None:
        return SimulatedPair(patient, preset, draw, None, truth, None, None, None,
                             reg.result.reason)
    aligned, mask = _to_truth_pixels(reg.aligned, reg.mask, truth.shape[:2])
    figures = pair_figures(aligned, truth, mask, reg.result.reproj_rms_px,
                           glare_delta=config.glare_delta,
                           saturation_level=config.saturation_level)
    return SimulatedPair(patient, preset, draw, aligned, truth, mask, figures,
                         grade_figures(figures, config), reg.result.reason)


def plan_sweep(
    presets: Sequence[str], patients: Sequence[int], draws: int
) -> list[tuple[int, str, int]]:
    """(patient seed, preset, draw) of every patient through ``draws`` draws of every preset."""
    return [(seed, preset, draw) for seed in patients for preset in presets
            for draw in range(draws)]


def job_id(job: tuple[int, str, int]) -> str:
    """The photo id of a sweep job (the label set's file stem)."""
    seed, preset, draw = job
    return f"p{seed:05d}-{preset}-d{draw}"


def sweep(
    jobs: Sequence[tuple[int, str, int]],
    config: QualityConfig | None = None,
    image_wh: tuple[int, int] = IMAGE_WH,
) -> Iterator[SimulatedPair]:
    """Simulate, register and grade every job, lazily."""
    for seed, preset, draw in jobs:
        yield simulate_pair(seed, preset, draw, config, image_wh)
