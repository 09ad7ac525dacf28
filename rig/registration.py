"""Registering photo files to screen-frame files: the library behind ``rig register-photo``
and ``rig calibrate tone`` (a session registers in memory: rig.session.verify).

A screen frame written by ``rig compose`` / ``rig calibrate patterns`` carries its own
description (placement, fiducial layout, frame code) in a PNG text chunk, so a photo
and its frame file are all a registration needs; a session calibration (lens, pose)
and a tone curve are optional.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from calibration.fiducials import FiducialLayout, LayoutError
from calibration.framecode import FrameCode
from calibration.photometric import ToneCurve
from calibration.refinement import Area
from calibration.registration import RegistrationResult, SessionCalibration
from rig.errors import InputError, UsageError
from rig.imaging.screen import decode_frame_image, read_photo, read_png_meta


@dataclass(frozen=True)
class FrameFile:
    """A screen frame PNG: its pixels (grey or BGR) and what its ``rig-frame`` chunk says."""

    path: Path
    pixels: np.ndarray
    meta: dict[str, Any] | None

    @property
    def area(self) -> Area | None:
        """The image's rectangle on the screen, if the frame describes its placement."""
        placement = (self.meta or {}).get("placement")
        if not isinstance(placement, dict):
            return None
        return Area(
            int(placement["offset_x"]),
            int(placement["offset_y"]),
            int(placement["width"]),
            int(placement["height"]),
        )

    def layout(self, override: FiducialLayout | None = None) -> FiducialLayout:
        if override is not None:
            return override
        try:
            if self.meta and isinstance(self.meta.get("layout"), dict):
                return FiducialLayout.from_dict(self.meta["layout"])
        except (TypeError, LayoutError) as exc:
            raise InputError(f"{self.path}: fiducial layout: {exc}") from exc
        return FiducialLayout()


def read_frame_file(path: Path) -> FrameFile:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return FrameFile(path, decode_frame_image(data, str(path)), read_png_meta(data))


@dataclass(frozen=True)
class PhotoRegistration:
    """The verdict on one photo file, its aligned pixels and the optional extras."""

    result: RegistrationResult
    aligned: np.ndarray | None  # tone-normalised when a tone curve was given
    mask: np.ndarray | None
    drift_px: float | None = None  # vs the calibration's reference pose
    drifted: bool | None = None
    psnr_tone_normalised_db: float | None = None
    ssim_tone_normalised: float | None = None

    @property
    def accepted(self) -> bool:
        return self.result.accepted

    def to_dict(self) -> dict[str, Any]:
        extras = {
            "drift_px": self.drift_px,
            "drifted": self.drifted,
            "psnr_tone_normalised_db": self.psnr_tone_normalised_db,
            "ssim_tone_normalised": self.ssim_tone_normalised,
        }
        return {**self.result.to_dict(), **{k: v for k, v in extras.items() if v is not None}}


def expected_code(
    fields: dict[str, int] | None, frame: np.ndarray, layout: FiducialLayout
) -> FrameCode | None:
    """The frame code the photo must show: the frame's own, with ``fields`` replaced."""
    from calibration.registration import frame_code_of

    own = frame_code_of(frame, layout)
    if fields is None:
        return own
    try:
        return replace(own, **fields) if own is not None else FrameCode(**fields)
    except (TypeError, ValueError) as exc:
        raise UsageError(
            f"--expect-code: the frame carries no code, give all of session, index, attempt, "
            f"frame_hash ({exc})"
        ) from exc


def register_photo_file(
    photo: Path,
    frame: FrameFile,
    *,
    layout: FiducialLayout | None = None,
    code_fields: dict[str, int] | None = None,
    calibration: SessionCalibration | None = None,
    refine: bool = False,
    drift_threshold_px: float = 3.0,
    tone: ToneCurve | None = None,
) -> PhotoRegistration:
    """Register ``photo`` to ``frame``; drift against the calibration and tone-normalised
    metrics are added when a calibration / tone curve is given."""
    from calibration.registration import detect_drift, register_photo

    image = read_photo(photo)
    chosen = frame.layout(layout)
    expected = expected_code(code_fields, frame.pixels, chosen)
    reg = register_photo(
        image,
        frame.pixels,
        chosen,
        area=frame.area,
        expected=expected,
        calibration=calibration,
        refine=refine,
    )
    out = PhotoRegistration(reg.result, reg.aligned, reg.mask)
    if calibration and calibration.reference_mapping and reg.mapping:
        screen_wh = (frame.pixels.shape[1], frame.pixels.shape[0])
        moved, worst = detect_drift(
            calibration.reference_mapping, reg.mapping, drift_threshold_px, screen_wh
        )
        out = replace(out, drift_px=worst, drifted=moved)
    if tone is not None and reg.aligned is not None and reg.mask is not None:
        out = _tone_normalised(out, frame.pixels, tone)
    return out


def _tone_normalised(
    reg: PhotoRegistration, frame: np.ndarray, curve: ToneCurve
) -> PhotoRegistration:
    """The aligned photo mapped back to display levels, and PSNR/SSIM after that."""
    from calibration.markers import to_gray
    from calibration.metrics import psnr, ssim
    from calibration.photometric import apply_tone_normalisation

    assert reg.aligned is not None and reg.mask is not None and reg.result.area is not None
    normalised = apply_tone_normalisation(reg.aligned, curve)
    a = reg.result.area
    truth = to_gray(frame)[a["y"] : a["y"] + a["height"], a["x"] : a["x"] + a["width"]]
    return replace(
        reg,
        aligned=normalised,
        psnr_tone_normalised_db=psnr(truth, to_gray(normalised), reg.mask),
        ssim_tone_normalised=ssim(truth, to_gray(normalised), reg.mask),
    )


@dataclass(frozen=True)
class ToneFit:
    """A tone curve fitted from a photo of the grey steps, and how many levels it saw."""

    curve: ToneCurve
    levels: int

    def to_dict(self) -> dict[str, Any]:
        return self.curve.to_dict()


def fit_tone_from_photo(photo: Path, frame: FrameFile) -> ToneFit:
    """The display-to-camera tone curve from a photo of ``grey-steps.png``."""
    from calibration.markers import to_gray
    from calibration.patterns import grey_step_patches
    from calibration.photometric import fit_tone_curve, measure_patches
    from calibration.registration import register_photo

    area = frame.area
    reg = register_photo(read_photo(photo), frame.pixels, frame.layout(), area=area)
    if not reg.result.accepted or reg.aligned is None or reg.mask is None or area is None:
        raise InputError(f"{photo}: grey-steps photo not usable ({reg.result.reason})")
    levels, values, counts = measure_patches(
        to_gray(reg.aligned), reg.mask, grey_step_patches((area.width, area.height))
    )
    return ToneFit(fit_tone_curve(levels, values, counts), len(levels))
