"""Session calibration from a photo of the full-screen ChArUco board.

Hundreds of chessboard corners over the whole screen constrain the lens far
better than the border markers of one photo: the fit frees k1, k2, k3, p1, p2
(the distortion centre stays at the photo centre: with one planar view it trades
off against the homography). Photos of the session then fit only their own
homography with this distortion held fixed; the calibration's mapping is the
reference pose for drift checks.
"""

from __future__ import annotations

import cv2
import numpy as np

from calibration.distortion import (
    DIST_TERMS,
    LensDistortion,
    ScreenMapping,
    as_tuple,
    fit_mapping,
    initial_homography,
    reprojection_errors,
)
from calibration.markers import to_gray
from calibration.patterns import CharucoSpec, charuco_board, charuco_screen_corners
from calibration.registration import SessionCalibration

MIN_CORNERS = 40
_OUTLIER_PX = 2.0


def detect_charuco(gray: np.ndarray, spec: CharucoSpec) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel photo positions (N, 2) of the board corners found, and their ids (N,)."""
    detector = cv2.aruco.CharucoDetector(charuco_board(spec))
    corners, ids, _marker_corners, _marker_ids = detector.detectBoard(gray)
    if ids is None or len(ids) == 0:
        return np.empty((0, 2)), np.empty(0, dtype=int)
    pts = np.asarray(corners, np.float64).reshape(-1, 2)
    return pts, np.asarray(ids).reshape(-1).astype(int)


def calibrate_session(
    photo: np.ndarray, spec: CharucoSpec, screen_wh: tuple[int, int]
) -> SessionCalibration:
    """Lens distortion and reference mapping from one ChArUco photo (ValueError if unusable)."""
    gray = to_gray(photo)
    photo_xy, ids = detect_charuco(gray, spec)
    if len(ids) < MIN_CORNERS:
        raise ValueError(f"only {len(ids)} ChArUco corners found (need {MIN_CORNERS})")
    screen_xy = charuco_screen_corners(spec)[ids]
    photo_wh = (gray.shape[1], gray.shape[0])
    h0, inliers = initial_homography(screen_xy, photo_xy, 0.01 * float(np.hypot(*photo_wh)))
    start = ScreenMapping(as_tuple(h0), LensDistortion.none_for(photo_wh))
    mapping = fit_mapping(screen_xy[inliers], photo_xy[inliers], start, free_terms=DIST_TERMS)
    for _ in range(3):
        errors = reprojection_errors(mapping, screen_xy, photo_xy)
        keep = errors < max(_OUTLIER_PX, 4.0 * float(np.median(errors)))
        if np.array_equal(keep, inliers) or keep.sum() < MIN_CORNERS:
            break
        inliers = keep
        mapping = fit_mapping(screen_xy[inliers], photo_xy[inliers], mapping, free_terms=DIST_TERMS)
    errors = reprojection_errors(mapping, screen_xy[inliers], photo_xy[inliers])
    return SessionCalibration(
        screen_wh, photo_wh, mapping.distortion, mapping, float(np.sqrt(np.mean(errors**2)))
    )


def calibrate_camera(
    photos: list[np.ndarray], spec: CharucoSpec, screen_wh: tuple[int, int], pitch_mm: float
) -> tuple[SessionCalibration, np.ndarray, float]:
    """Intrinsics from several ChArUco views (cv2.calibrateCamera, square pixels).

    Returns a session calibration whose lens is centred on the principal point and
    normalised by the focal length (so it is OpenCV's model exactly), the camera
    matrix (3, 3) and the RMS reprojection error in px. Several views at different
    tilts separate the principal point from the pose, which one view cannot.
    """
    object_points, image_points = [], []
    photo_wh: tuple[int, int] | None = None
    screen_corners = charuco_screen_corners(spec)
    for photo in photos:
        gray = to_gray(photo)
        wh = (gray.shape[1], gray.shape[0])
        if photo_wh is not None and wh != photo_wh:
            raise ValueError(f"photos differ in size ({wh} vs {photo_wh})")
        photo_wh = wh
        pts, ids = detect_charuco(gray, spec)
        if len(ids) < MIN_CORNERS:
            continue
        plane = (screen_corners[ids] + 0.5) * pitch_mm
        object_points.append(np.column_stack([plane, np.zeros(len(ids))]).astype(np.float32))
        image_points.append(pts.astype(np.float32).reshape(-1, 1, 2))
    if photo_wh is None or len(object_points) < 3:
        raise ValueError(f"need 3 usable ChArUco views, got {len(object_points)}")
    flags = cv2.CALIB_FIX_ASPECT_RATIO
    k0 = np.array(
        [
            [max(photo_wh), 0, (photo_wh[0] - 1) / 2],
            [0, max(photo_wh), (photo_wh[1] - 1) / 2],
            [0, 0, 1.0],
        ]
    )
    rms, k, dist, _rvecs, _tvecs = cv2.calibrateCamera(
        object_points,
        image_points,
        photo_wh,
        k0,
        np.zeros(5),
        flags=flags | cv2.CALIB_USE_INTRINSIC_GUESS,
    )
    d = np.asarray(dist, np.float64).reshape(-1)
    lens = LensDistortion(
        float(k[0, 2]),
        float(k[1, 2]),
        float(k[0, 0]),
        k1=float(d[0]),
        k2=float(d[1]),
        p1=float(d[2]),
        p2=float(d[3]),
        k3=float(d[4]),
    )
    return (
        SessionCalibration(screen_wh, photo_wh, lens, None, float(rms)),
        np.asarray(k),
        float(rms),
    )
