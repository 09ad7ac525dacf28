"""Finding the border markers in a photo, to sub-pixel accuracy.

Detection runs on a copy shrunk so that markers are ~60-100 px wide (ArUco's
contour search costs grow with the pixel count, and a 12 MP photo of a monitor
has markers far larger than needed), then every corner is refined on the full
photo with cornerSubPix, using a window smaller than one marker cell so that only
the corner itself is in view.
"""

from __future__ import annotations

import cv2
import numpy as np

from calibration.fiducials import FiducialLayout, aruco_dictionary, marker_screen_corners

_DETECT_MAX_SIDE_PX = 2000  # detection resolution (longer photo side)
LINEARISE_GAMMA = 2.2


def to_gray(image: np.ndarray) -> np.ndarray:
    """8-bit single-channel view of a (H, W) or (H, W, 3|4) BGR image."""
    if image.ndim == 2:
        return image
    code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
    return cv2.cvtColor(image, code)


# Detector settings tried in turn until every marker is found: ArUco's candidate
# grouping and thresholding miss a few markers now and then, not the same ones
# under different settings, so the union of two or three passes is far more complete.
_PASSES: tuple[dict[str, float], ...] = (
    {"adaptiveThreshWinSizeMin": 3, "adaptiveThreshWinSizeMax": 53, "minMarkerDistanceRate": 0.02},
    {"adaptiveThreshWinSizeMin": 5, "adaptiveThreshWinSizeMax": 45, "minMarkerDistanceRate": 0.0},
    {"adaptiveThreshWinSizeMin": 7, "adaptiveThreshWinSizeMax": 67, "minMarkerDistanceRate": 0.05},
)


def _detector(dictionary_name: str, settings: dict[str, float]) -> cv2.aruco.ArucoDetector:
    params = cv2.aruco.DetectorParameters()
    params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_NONE  # refined at full size below
    params.adaptiveThreshWinSizeStep = 10
    # Blur greys the cell edges; read bits from the middle 40% of each cell only.
    params.perspectiveRemovePixelPerCell = 8
    params.perspectiveRemoveIgnoredMarginPerCell = 0.3
    # minMarkerDistanceRate: the hole each white tile makes in the black band is a
    # square candidate only a pad away from the marker's own outline; with the
    # default (0.125) the two are merged and the wrong one can win.
    for name, value in settings.items():
        setattr(params, name, int(value) if name.startswith("adaptive") else value)
    return cv2.aruco.ArucoDetector(aruco_dictionary(dictionary_name), params)


def detect_markers(gray: np.ndarray, layout: FiducialLayout) -> dict[int, np.ndarray]:
    """Photo corners (4, 2) of each border marker found, by id (ids outside the layout dropped)."""
    height, width = gray.shape[:2]
    factor = max(1.0, max(height, width) / _DETECT_MAX_SIDE_PX)
    small = gray
    if factor > 1.0:
        small = cv2.resize(
            gray, (round(width / factor), round(height / factor)), interpolation=cv2.INTER_AREA
        )
    candidates: dict[int, list[np.ndarray]] = {}
    for settings in _PASSES:
        corners, ids, _rejected = _detector(layout.dictionary, settings).detectMarkers(small)
        if ids is not None:
            for quad, marker_id in zip(corners, np.asarray(ids).reshape(-1), strict=True):
                if int(marker_id) < layout.marker_count:  # else not one of ours
                    candidates.setdefault(int(marker_id), []).append(
                        np.asarray(quad, np.float64).reshape(4, 2)
                    )
        if len(candidates) == layout.marker_count:
            break
    # An id can come back several times (the marker outline; the hole its white tile
    # makes in the black band; a polygon cut inside a blurred marker): keep the quad
    # whose sides lie on the strongest edges.
    gradient = _gradient_magnitude(small)
    found = {}
    for mid, quads in candidates.items():
        best = max(quads, key=lambda q: _edge_score(gradient, q))
        # Pixel centres: small (i + 0.5) * factor - 0.5 is full-size i.
        found[mid] = (best + 0.5) * factor - 0.5
    return _refine_corners(gray, found)


def _gradient_magnitude(gray: np.ndarray) -> np.ndarray:
    img = gray.astype(np.float32)
    gx = cv2.Sobel(img, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(img, cv2.CV_32F, 0, 1)
    return np.asarray(cv2.magnitude(gx, gy))


def _edge_score(gradient: np.ndarray, quad: np.ndarray, per_side: int = 24) -> float:
    """Mean gradient magnitude along the quad's sides (corners excluded)."""
    t = (np.arange(per_side) + 0.5) / per_side
    ends = np.roll(quad, -1, axis=0)
    pts = (quad[:, None, :] * (1 - t[:, None]) + ends[:, None, :] * t[:, None]).reshape(-1, 2)
    samples = cv2.remap(
        gradient,
        pts[:, 0].astype(np.float32).reshape(1, -1),
        pts[:, 1].astype(np.float32).reshape(1, -1),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
    )
    return float(np.mean(samples))


_LINEAR_LUT = (255.0 * (np.arange(256) / 255.0) ** LINEARISE_GAMMA).astype(np.float32)


def _refine_corners(gray: np.ndarray, found: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """cornerSubPix on each marker's corners, in linear light.

    The grey levels are raised to the power 2.2 first (undoing a camera tone curve):
    optics blur light, so an edge is symmetric in linear light, and corners found
    there are not pulled into the dark side. Only a crop around each marker is
    converted, not the whole 12 MP photo.
    """
    if not found:
        return found
    sides = [np.linalg.norm(np.roll(q, -1, axis=0) - q, axis=1).mean() for q in found.values()]
    # A 4x4 marker is 6 cells wide; the half-window is ~40% of a cell.
    half = int(np.clip(round(0.4 * float(np.median(sides)) / 6), 2, 15))
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 40, 0.005)
    height, width = gray.shape[:2]
    out: dict[int, np.ndarray] = {}
    for marker_id, quad in found.items():
        x0, y0 = np.floor(quad.min(axis=0)).astype(int) - half - 3
        x1, y1 = np.ceil(quad.max(axis=0)).astype(int) + half + 4
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
        crop = _LINEAR_LUT[gray[y0:y1, x0:x1]]
        start = (quad - [x0, y0]).astype(np.float32).reshape(-1, 1, 2)
        try:
            refined = cv2.cornerSubPix(crop, start.copy(), (half, half), (-1, -1), criteria)
        except cv2.error:  # a marker cut by the photo edge: keep the coarse corners
            out[marker_id] = quad
            continue
        refined = refined.reshape(4, 2).astype(np.float64) + np.array([x0, y0])
        # cornerSubPix can wander off a corner blurred into glare: keep the coarse one then.
        moved = np.linalg.norm(refined - quad, axis=1)
        out[marker_id] = np.where((moved < half)[:, None], refined, quad)
    return out


def correspondences(
    found: dict[int, np.ndarray], layout: FiducialLayout, screen_wh: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Matched screen (N, 2) and photo (N, 2) corner positions, and the marker id per row."""
    screen = marker_screen_corners(layout, screen_wh)
    ids = sorted(found)
    if not ids:
        return np.empty((0, 2)), np.empty((0, 2)), np.empty(0, dtype=int)
    s = np.concatenate([screen[i] for i in ids])
    p = np.concatenate([found[i] for i in ids])
    return s, p, np.repeat(np.array(ids), 4)
