"""Registering and verifying one photo against the screen frame it should show (no I/O).

A pure step shared by the session runner, ``rig import-photos`` and ``rig register``
(rig.session.reregister): the same registration, the same verdict, the same stored
artefacts. The callers own the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from calibration.fiducials import FiducialLayout
from calibration.refinement import Area
from calibration.registration import register_photo
from rig.errors import InputError
from rig.imaging import codec
from rig.session.frames import PreparedItem

if TYPE_CHECKING:
    from rig.quality.gate import GateVerdict, QualityGate


@dataclass(frozen=True)
class RegistrationOutcome:
    """The verdict on one photo and what the store keeps of it."""

    accepted: bool
    reason: str | None
    psnr_db: float | None = None
    ssim: float | None = None
    reproj_err_px: float | None = None
    residual_px: float | None = None
    mapping: dict[str, Any] = field(default_factory=dict)
    frame_code: dict[str, Any] | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    aligned_png: bytes | None = None  # the photo in the ground truth's pixels (accepted only)
    mask_png: bytes | None = None  # its valid pixels

    def refused(self, reason: str) -> RegistrationOutcome:
        """The same measurements, not accepted (e.g. the item already has a verified photo)."""
        return replace(self, accepted=False, reason=reason, aligned_png=None, mask_png=None)


def register_prepared(
    prepared: PreparedItem, jpeg: bytes, layout: FiducialLayout
) -> RegistrationOutcome:
    """Register one photo to the exact screen frame of its attempt and give the verdict."""
    try:
        photo = codec.decode_color(jpeg, "photo")
    except InputError:
        return RegistrationOutcome(False, "photo is not a readable JPEG")
    place = prepared.screen.placement
    # Register over the image's own rectangle, so the aligned photo is the ground truth's twin.
    area = Area(place.offset_x, place.offset_y, place.width, place.height)
    reg = register_photo(
        photo, prepared.screen.canvas, layout, area=area, expected=prepared.screen.code
    )
    res = reg.result
    outcome = RegistrationOutcome(
        accepted=res.accepted,
        reason=res.reason or None,
        psnr_db=res.psnr_db,
        ssim=res.ssim,
        reproj_err_px=res.reproj_rms_px,
        residual_px=res.reproj_max_px,
        mapping=res.mapping or {},
        frame_code=res.code,
        detail=res.to_dict(),
    )
    if not res.accepted or reg.aligned is None:
        return replace(outcome, accepted=False)
    aligned, mask = _to_ground_truth(prepared, reg.aligned, reg.mask)
    return replace(outcome, aligned_png=aligned, mask_png=mask)


def _to_ground_truth(
    prepared: PreparedItem, image: np.ndarray, mask: np.ndarray | None
) -> tuple[bytes, bytes | None]:
    """The aligned photo in the ground truth's pixels and channels (gray for gray sources)."""
    import cv2

    if prepared.truth.pixels.ndim == 2 and image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    truth_hw = prepared.truth.pixels.shape[:2]
    valid: np.ndarray | None = None
    if mask is not None:
        valid = (mask > 0).astype(np.uint8) * 255
    if image.shape[:2] != truth_hw:  # a scaled placement: back to ground-truth pixels
        size = (truth_hw[1], truth_hw[0])
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        if valid is not None:
            valid = cv2.resize(valid, size, interpolation=cv2.INTER_NEAREST)
    aligned = codec.encode_png(image, order=codec.BGR)  # OpenCV order in, like the photo
    return aligned, None if valid is None else codec.encode_png(valid)


def verify_and_gate(prepared: PreparedItem, jpeg: bytes, layout: FiducialLayout,
                    gate: QualityGate | None) -> tuple[RegistrationOutcome, GateVerdict | None]:
    """Register one photo, then grade it through the live quality gate (rig.quality.gate)."""
    from rig.quality.gate import apply_gate

    outcome = register_prepared(prepared, jpeg, layout)
    verdict = apply_gate(outcome, prepared.truth.pixels, gate) if gate is not None else None
    return (outcome if verdict is None else verdict.outcome), verdict
