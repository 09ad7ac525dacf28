"""Simulated photos of a screen through a known pinhole camera with lens distortion.

An oracle for tests and the registration benchmark: the geometry is known by
construction (OpenCV camera matrix, distortion, rvec, tvec; screen pixel centre
(x, y) sits at ((x + 0.5)·pitch, (y + 0.5)·pitch, 0) mm), so the registration
can be scored against ``truth_points`` rather than against itself. The photo is
rendered by inverse mapping: every photo pixel is undistorted, cast as a ray and
met with the screen plane; that is exact at the points of a coarse grid and
interpolated in between (the mapping is smooth at this scale).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from calibration.distortion import upsample_grid

_GRID_STEP_PX = 8


@dataclass(frozen=True)
class PinholeView:
    """A camera pose and lens looking at a flat screen."""

    camera_matrix: np.ndarray  # (3, 3)
    dist_coeffs: np.ndarray  # (5,) k1 k2 p1 p2 k3
    rvec: np.ndarray  # (3,) screen -> camera rotation (Rodrigues)
    tvec: np.ndarray  # (3,) mm
    pitch_mm: float
    photo_wh: tuple[int, int]

    def truth_points(self, screen_xy: np.ndarray) -> np.ndarray:
        """Photo positions (N, 2) of screen pixel centres (N, 2)."""
        pts = np.asarray(screen_xy, np.float64).reshape(-1, 2)
        obj = np.column_stack([(pts + 0.5) * self.pitch_mm, np.zeros(len(pts))])
        img, _ = cv2.projectPoints(obj, self.rvec, self.tvec, self.camera_matrix, self.dist_coeffs)
        return np.asarray(img).reshape(-1, 2)

    def screen_of_photo(self, photo_xy: np.ndarray) -> np.ndarray:
        """Screen coordinates (N, 2) seen at photo positions (N, 2)."""
        pts = np.asarray(photo_xy, np.float64).reshape(-1, 1, 2)
        k = self.camera_matrix
        ideal = cv2.undistortPoints(
            pts,
            k,
            self.dist_coeffs,
            P=k,
            criteria=(cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 50, 1e-9),
        ).reshape(-1, 2)
        rot, _ = cv2.Rodrigues(self.rvec)
        plane_h = k @ np.column_stack([rot[:, 0], rot[:, 1], self.tvec.reshape(3)])
        homog = np.column_stack([ideal, np.ones(len(ideal))]) @ np.linalg.inv(plane_h).T
        plane = homog[:, :2] / homog[:, 2:3]
        return plane / self.pitch_mm - 0.5


@dataclass(frozen=True)
class PhotoEffects:
    """Image degradations applied after the geometry (all optional)."""

    blur_sigma_px: float = 0.8
    noise_sigma: float = 2.0
    display_gamma: float = 2.2  # screen value -> emitted light (blur happens in light)
    camera_gamma: float = 1 / 2.2  # light -> photo value, like a camera's tone curve
    gain: float = 0.9  # exposure, in linear light
    black_level: float = 0.01  # stray light, in linear light (0..1)
    jpeg_quality: int | None = 92
    glare_blobs: list[tuple[float, float, float]] = field(default_factory=list)  # x, y, radius


def look_at_view(
    screen_wh: tuple[int, int],
    photo_wh: tuple[int, int],
    *,
    pitch_mm: float = 0.27,
    fill: float = 0.85,
    focal_px: float | None = None,
    angles_deg: tuple[float, float, float] = (0.0, 0.0, 0.0),
    offset_frac: tuple[float, float] = (0.0, 0.0),
    dist_coeffs: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0),
    principal_offset_px: tuple[float, float] = (0.0, 0.0),
) -> PinholeView:
    """A camera aimed at the screen centre so the screen spans ``fill`` of the photo."""
    pw, ph = photo_wh
    f = focal_px or 0.78 * max(pw, ph)
    k = np.array(
        [
            [f, 0, (pw - 1) / 2 + principal_offset_px[0]],
            [0, f, (ph - 1) / 2 + principal_offset_px[1]],
            [0, 0, 1],
        ]
    )
    sw_mm, sh_mm = screen_wh[0] * pitch_mm, screen_wh[1] * pitch_mm
    distance = f * max(sw_mm / (fill * pw), sh_mm / (fill * ph))
    rot, _ = cv2.Rodrigues(np.deg2rad(np.array(angles_deg, np.float64)))
    centre = np.array([sw_mm / 2 + offset_frac[0] * sw_mm, sh_mm / 2 + offset_frac[1] * sh_mm, 0.0])
    camera_pos = centre - distance * rot.T @ np.array([0.0, 0.0, 1.0])
    rvec, _ = cv2.Rodrigues(rot)
    tvec = -rot @ camera_pos
    return PinholeView(
        k, np.array(dist_coeffs, np.float64), rvec.reshape(3), tvec, pitch_mm, photo_wh
    )


def _inverse_maps(view: PinholeView) -> tuple[np.ndarray, np.ndarray]:
    pw, ph = view.photo_wh
    gx = np.arange(0, pw + _GRID_STEP_PX, _GRID_STEP_PX, dtype=np.float64)
    gy = np.arange(0, ph + _GRID_STEP_PX, _GRID_STEP_PX, dtype=np.float64)
    grid = np.stack(np.meshgrid(gx, gy), axis=-1).reshape(-1, 2)
    coarse = view.screen_of_photo(grid).reshape(len(gy), len(gx), 2)
    fine = upsample_grid(coarse, _GRID_STEP_PX, pw, ph)
    return fine[..., 0].astype(np.float32), fine[..., 1].astype(np.float32)


def render_photo(
    screen: np.ndarray, view: PinholeView, effects: PhotoEffects, seed: int = 0
) -> np.ndarray:
    """The photo (uint8, channels as ``screen``) of a screen frame, as a JPEG round trip."""
    rng = np.random.default_rng(seed)
    mx, my = _inverse_maps(view)
    # Optics mix light, not pixel values: resample and blur in linear light.
    src = ((screen.astype(np.float32) / 255.0) ** effects.display_gamma).astype(np.float32)
    photo = np.asarray(
        cv2.remap(src, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0),
        dtype=np.float64,
    )
    if effects.blur_sigma_px > 0:
        photo = np.asarray(cv2.GaussianBlur(photo, (0, 0), effects.blur_sigma_px))
    photo = effects.black_level + effects.gain * photo
    for x, y, radius in effects.glare_blobs:  # a saturating veil of reflected light
        yy, xx = np.ogrid[: photo.shape[0], : photo.shape[1]]
        blob = 2.0 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * (radius / 2) ** 2))
        photo = photo + (blob if photo.ndim == 2 else blob[..., None])
    photo = 255.0 * np.clip(photo, 0, 1) ** effects.camera_gamma
    photo = photo + rng.normal(0.0, effects.noise_sigma, photo.shape)
    out = np.clip(photo + 0.5, 0, 255).astype(np.uint8)
    if effects.jpeg_quality is None:
        return out
    _ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, effects.jpeg_quality])
    return np.asarray(cv2.imdecode(buf, cv2.IMREAD_UNCHANGED))
