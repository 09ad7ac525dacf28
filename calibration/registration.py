"""Register a photo of the screen to the frame it should show, and judge the pair.

Pipeline (one photo): find the border markers (sub-pixel) -> robust homography
(USAC MAGSAC) over all marker corners -> least squares homography + lens
distortion (k1, k2 from the markers alone, or the session's calibrated
distortion held fixed) -> optional ECC refinement on the image content, kept only
if it improves the fit -> read the four frame-code copies through the mapping ->
warp the photo onto the screen pixels of the image area (cv2.remap, valid mask)
-> PSNR/SSIM against the ground truth and a tile-wise content check -> verdict.

A session is a loop over ``register_photo``; nothing here touches files.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from calibration.distortion import (
    LensDistortion,
    ScreenMapping,
    as_tuple,
    fit_mapping,
    initial_homography,
    mapping_displacement,
    reprojection_errors,
)
from calibration.fiducials import FiducialLayout, content_hash
from calibration.framecode import FrameCode
from calibration.markers import correspondences, detect_markers, to_gray
from calibration.metrics import psnr, ssim
from calibration.refinement import Area, refine_with_ecc, warp_to_screen
from calibration.verification import (
    CodeReading,
    explain_mismatch,
    read_code,
    tile_correlations,
)

ACCEPTED, REJECTED = "accepted", "rejected"
MIN_MARKERS = 4
MIN_MARKERS_FOR_LENS = 8  # fewer: a plain homography (k1, k2 would be unconstrained)
MIN_MARKERS_FOR_TANGENTIAL = 16  # p1, p2 need markers on all sides
_OUTLIER_PX = 2.0
# Band-passed correlation of a textured tile: ~0.4-1 when it shows the truth (lower with
# moiré or noise), ~0 +- 0.1 when it shows another image (measured on rig.camsim photos).
TILE_MIN_CORR = 0.2


@dataclass(frozen=True)
class SessionCalibration:
    """What a session's calibration photos taught us: lens distortion, reference pose."""

    screen_wh: tuple[int, int]
    photo_wh: tuple[int, int]
    distortion: LensDistortion
    reference_mapping: ScreenMapping | None = None
    rms_px: float | None = None  # fit residual on the calibration points

    def to_dict(self) -> dict[str, Any]:
        return {
            "screen_wh": list(self.screen_wh),
            "photo_wh": list(self.photo_wh),
            "distortion": self.distortion.to_dict(),
            "reference_mapping": None
            if self.reference_mapping is None
            else self.reference_mapping.to_dict(),
            "rms_px": self.rms_px,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionCalibration:
        ref = data.get("reference_mapping")
        return cls(
            (int(data["screen_wh"][0]), int(data["screen_wh"][1])),
            (int(data["photo_wh"][0]), int(data["photo_wh"][1])),
            LensDistortion.from_dict(data["distortion"]),
            None if ref is None else ScreenMapping.from_dict(ref),
            data.get("rms_px"),
        )


@dataclass(frozen=True)
class RegistrationResult:
    """Everything known about one photo-frame pair (JSON-able via ``to_dict``)."""

    verdict: str  # ACCEPTED | REJECTED
    reason: str
    markers_expected: int
    markers_found: int
    corners_used: int = 0
    mapping: dict[str, Any] | None = None
    reproj_rms_px: float | None = None
    reproj_max_px: float | None = None
    refinement_kept: bool = False
    ecc_before: float | None = None  # content correlation before / after refinement
    ecc_after: float | None = None
    psnr_db: float | None = None
    ssim: float | None = None
    code: dict[str, int] | None = None
    expected_code: dict[str, int] | None = None
    code_copies_read: list[bool] = field(default_factory=list)
    tile_corr_min: float | None = None
    tile_corr_median: float | None = None
    area: dict[str, int] | None = None

    @property
    def accepted(self) -> bool:
        return self.verdict == ACCEPTED

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Registration:
    """A result plus the aligned photo (area, channels as the photo) and its valid mask."""

    result: RegistrationResult
    mapping: ScreenMapping | None
    aligned: np.ndarray | None
    mask: np.ndarray | None


def interior_area(layout: FiducialLayout, screen_wh: tuple[int, int]) -> Area:
    """The screen inside the fiducial band (the default image area)."""
    b = layout.border_px
    return Area(b, b, screen_wh[0] - 2 * b, screen_wh[1] - 2 * b)


def lens_terms_for(n_markers: int) -> tuple[str, ...]:
    """Distortion terms a single photo's markers can carry (the centre is never free:
    with border points only it trades off against the homography)."""
    if n_markers >= MIN_MARKERS_FOR_TANGENTIAL:
        return ("k1", "k2", "p1", "p2")
    if n_markers >= MIN_MARKERS_FOR_LENS:
        return ("k1", "k2")
    return ()


def fit_screen_mapping(
    screen_xy: np.ndarray,
    photo_xy: np.ndarray,
    photo_wh: tuple[int, int],
    calibration: SessionCalibration | None = None,
) -> tuple[ScreenMapping, np.ndarray]:
    """Mapping and inlier mask (N,) from marker corner correspondences."""
    # Lens distortion bends the border by tens of pixels: a loose threshold, refined below.
    h0, inliers = initial_homography(screen_xy, photo_xy, 0.01 * float(np.hypot(*photo_wh)))
    if calibration is not None:
        start = ScreenMapping(as_tuple(h0), calibration.distortion)
        free: tuple[str, ...] = ()
    else:
        start = ScreenMapping(as_tuple(h0), LensDistortion.none_for(photo_wh))
        free = lens_terms_for(int(inliers.sum()) // 4)
    mapping = fit_mapping(screen_xy[inliers], photo_xy[inliers], start, free_terms=free)
    # MAGSAC judged a plain homography; let the full model re-admit or drop corners.
    for _ in range(3):
        errors = reprojection_errors(mapping, screen_xy, photo_xy)
        keep = errors < max(_OUTLIER_PX, 4.0 * float(np.median(errors)))
        if keep.sum() < 4 * MIN_MARKERS or np.array_equal(keep, inliers):
            break
        mapping = fit_mapping(screen_xy[keep], photo_xy[keep], mapping, free_terms=free)
        inliers = keep
    return mapping, inliers


def frame_code_of(frame: np.ndarray, layout: FiducialLayout) -> FrameCode | None:
    """The code drawn in a screen frame, if its hash matches the frame's content."""
    screen_wh = (frame.shape[1], frame.shape[0])
    identity = ScreenMapping(as_tuple(np.eye(3)), LensDistortion.none_for(screen_wh))
    reading = read_code(to_gray(frame), identity, layout, screen_wh)
    if reading.code is None or reading.code.frame_hash != content_hash(frame, layout):
        return None
    return reading.code


def register_photo(
    photo: np.ndarray,
    frame: np.ndarray,
    layout: FiducialLayout,
    *,
    area: Area | None = None,
    expected: FrameCode | None = None,
    calibration: SessionCalibration | None = None,
    refine: bool = False,
) -> Registration:
    """Register ``photo`` (BGR or grey) to the screen ``frame`` it should show.

    ``expected`` defaults to the code drawn in ``frame`` itself; ``area`` to the
    screen inside the border.
    """
    gray = to_gray(photo)
    screen_wh = (frame.shape[1], frame.shape[0])
    area = area or interior_area(layout, screen_wh)
    expected = expected or frame_code_of(frame, layout)
    found = detect_markers(gray, layout)
    base: dict[str, Any] = {
        "markers_expected": layout.marker_count,
        "markers_found": len(found),
        "expected_code": None if expected is None else expected.to_dict(),
        "area": asdict(area),
    }
    if len(found) < MIN_MARKERS:
        reason = f"only {len(found)} of {layout.marker_count} markers found (need {MIN_MARKERS})"
        return Registration(RegistrationResult(REJECTED, reason, **base), None, None, None)
    s, p, _ids = correspondences(found, layout, screen_wh)
    try:
        mapping, inliers = fit_screen_mapping(s, p, (gray.shape[1], gray.shape[0]), calibration)
    except (ValueError, np.linalg.LinAlgError):
        reason = "the markers found do not define a screen mapping (collinear or inconsistent)"
        return Registration(RegistrationResult(REJECTED, reason, **base), None, None, None)
    errors = reprojection_errors(mapping, s[inliers], p[inliers])
    truth_gray = to_gray(frame)[area.y : area.y + area.height, area.x : area.x + area.width]
    refinement = None
    if refine:
        refinement = refine_with_ecc(gray, truth_gray, mapping, area)
        # Second guard: the markers are independent evidence; a refinement that
        # explains the content better but the markers worse has fitted noise.
        after = reprojection_errors(refinement.mapping, s[inliers], p[inliers])
        if refinement.kept and _rms(after) <= 1.1 * _rms(errors) + 0.05:
            mapping = refinement.mapping
        else:
            refinement = replace(refinement, mapping=mapping, kept=False)
    reading = read_code(gray, mapping, layout, screen_wh)
    aligned, mask = warp_to_screen(photo, mapping, area)
    aligned_gray = to_gray(aligned)
    tiles = tile_correlations(aligned_gray, truth_gray, mask)
    finite = tiles[np.isfinite(tiles)]
    fields = {
        **base,
        "corners_used": int(inliers.sum()),
        "mapping": mapping.to_dict(),
        "reproj_rms_px": float(np.sqrt(np.mean(errors**2))),
        "reproj_max_px": float(errors.max()),
        "refinement_kept": bool(refinement and refinement.kept),
        "ecc_before": None if refinement is None else refinement.score_before,
        "ecc_after": None if refinement is None else refinement.score_after,
        "psnr_db": psnr(truth_gray, aligned_gray, mask),
        "ssim": ssim(truth_gray, aligned_gray, mask),
        "code": None if reading.code is None else reading.code.to_dict(),
        "code_copies_read": [c.code is not None for c in reading.copies],
        "tile_corr_min": float(finite.min()) if finite.size else None,
        "tile_corr_median": float(np.median(finite)) if finite.size else None,
    }
    why = _judge(reading, expected, finite)
    result = RegistrationResult(ACCEPTED if why is None else REJECTED, why or "ok", **fields)
    return Registration(result, mapping, aligned, mask)


def _judge(reading: CodeReading, expected: FrameCode | None, tiles: np.ndarray) -> str | None:
    """The reason to reject the pair, or None to accept it."""
    code = reading.code
    if reading.disagree:
        return (
            "the frame-code copies disagree: the screen changed during the exposure "
            f"({reading.disagreement()})"
        )
    if code is None:
        return "frame code unreadable (glare or blur over all copies?)"
    if expected is None:
        return "no expected frame code: the frame file carries no valid code; pass --expect-code"
    mismatch = explain_mismatch(code, expected)
    if mismatch is not None:
        return mismatch
    if tiles.size and float(tiles.min()) < TILE_MIN_CORR:
        bad = int((tiles < TILE_MIN_CORR).sum())
        return (
            f"{bad} of {tiles.size} image tiles do not match the frame (correlation "
            f"{tiles.min():.2f} < {TILE_MIN_CORR}): torn refresh or other content"
        )
    return None


def _rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(values**2)))


def detect_drift(
    reference: ScreenMapping,
    current: ScreenMapping,
    threshold_px: float,
    screen_wh: tuple[int, int],
) -> tuple[bool, float]:
    """Did camera or monitor move? (moved, largest displacement in photo px over the screen)."""
    xs = np.linspace(0, screen_wh[0] - 1, 9)
    ys = np.linspace(0, screen_wh[1] - 1, 9)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    worst = float(mapping_displacement(reference, current, grid).max())
    return worst > threshold_px, worst
