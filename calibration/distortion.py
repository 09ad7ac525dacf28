"""Screen-to-photo mapping: a plane homography followed by lens distortion.

A flat screen seen through a pinhole is a homography; a real lens bends it. The
model is the OpenCV (Brown–Conrady) one written in photo pixels: the homography
``H`` takes screen pixel centres to *ideal* photo positions ``u``; with
``x = (u - c) / norm_px`` (``c`` the distortion centre, ideally the principal
point, ``norm_px`` the focal length when known, else the half-diagonal),
    x_d = x (1 + k1 r² + k2 r⁴ + k3 r⁶) + [2 p1 x y + p2 (r² + 2x²), p1 (r² + 2y²) + 2 p2 x y]
and the photo position is ``c + norm_px * x_d``. With ``norm_px`` = focal length and
``c`` = principal point this is exactly OpenCV's projection of a planar target,
so a pure homography is the special case k = p = 0.

Fitting is a small Levenberg–Marquardt over the homography (8 entries, in
normalised coordinates for conditioning) and whichever distortion terms are
free; the border markers of one photo can carry (k1, k2), a dense ChArUco view
can carry all terms and the centre.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import cv2
import numpy as np

DIST_TERMS = ("k1", "k2", "k3", "p1", "p2")


@dataclass(frozen=True)
class LensDistortion:
    """Distortion about a centre (photo px); all-zero terms mean no distortion."""

    cx: float
    cy: float
    norm_px: float
    k1: float = 0.0
    k2: float = 0.0
    k3: float = 0.0
    p1: float = 0.0
    p2: float = 0.0

    @classmethod
    def none_for(cls, photo_wh: tuple[int, int]) -> LensDistortion:
        """No distortion, centred on the photo, normalised by the half-diagonal."""
        w, h = photo_wh
        return cls((w - 1) / 2, (h - 1) / 2, 0.5 * float(np.hypot(w, h)))

    def apply(self, ideal_xy: np.ndarray) -> np.ndarray:
        """Distort ideal photo positions (N, 2) -> observed photo positions (N, 2)."""
        x = (ideal_xy[..., 0] - self.cx) / self.norm_px
        y = (ideal_xy[..., 1] - self.cy) / self.norm_px
        r2 = x * x + y * y
        radial = 1 + r2 * (self.k1 + r2 * (self.k2 + r2 * self.k3))
        xd = x * radial + 2 * self.p1 * x * y + self.p2 * (r2 + 2 * x * x)
        yd = y * radial + self.p1 * (r2 + 2 * y * y) + 2 * self.p2 * x * y
        return np.stack([self.cx + self.norm_px * xd, self.cy + self.norm_px * yd], axis=-1)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LensDistortion:
        return cls(**{k: float(data[k]) for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class ScreenMapping:
    """Screen pixel centre (x, y) -> photo position: distortion(H · (x, y, 1))."""

    homography: tuple[tuple[float, ...], ...]  # 3x3, row-major
    distortion: LensDistortion

    @property
    def h_matrix(self) -> np.ndarray:
        return np.array(self.homography, dtype=np.float64)

    def map_points(self, screen_xy: np.ndarray) -> np.ndarray:
        """Photo positions (..., 2) of screen points (..., 2)."""
        pts = np.asarray(screen_xy, dtype=np.float64)
        h = self.h_matrix
        den = h[2, 0] * pts[..., 0] + h[2, 1] * pts[..., 1] + h[2, 2]
        u = (h[0, 0] * pts[..., 0] + h[0, 1] * pts[..., 1] + h[0, 2]) / den
        v = (h[1, 0] * pts[..., 0] + h[1, 1] * pts[..., 1] + h[1, 2]) / den
        return self.distortion.apply(np.stack([u, v], axis=-1))

    def with_homography(self, h: np.ndarray) -> ScreenMapping:
        return replace(self, homography=as_tuple(h))

    def to_dict(self) -> dict[str, Any]:
        return {"homography": [list(r) for r in self.homography], **self.distortion.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScreenMapping:
        return cls(as_tuple(np.array(data["homography"])), LensDistortion.from_dict(data))


def as_tuple(h: np.ndarray) -> tuple[tuple[float, ...], ...]:
    h = np.asarray(h, dtype=np.float64)
    h = h / h[2, 2]
    return tuple(tuple(float(v) for v in row) for row in h)


def _similarity(points: np.ndarray) -> np.ndarray:
    """3x3 transform centring ``points`` and scaling them to unit mean distance."""
    centre = points.mean(axis=0)
    scale = 1.0 / max(float(np.linalg.norm(points - centre, axis=1).mean()), 1e-9)
    return np.array([[scale, 0, -scale * centre[0]], [0, scale, -scale * centre[1]], [0, 0, 1]])


def _levenberg_marquardt(residual_fn: Any, params: np.ndarray, iterations: int = 50) -> np.ndarray:
    """Minimise ||residual_fn(params)||² with a forward-difference Jacobian."""
    lam = 1e-3
    res = residual_fn(params)
    cost = float(res @ res)
    for _ in range(iterations):
        step = 1e-7 * np.maximum(1.0, np.abs(params))
        jac = np.empty((res.size, params.size))
        for j in range(params.size):
            probe = params.copy()
            probe[j] += step[j]
            jac[:, j] = (residual_fn(probe) - res) / step[j]
        jtj, jtr = jac.T @ jac, jac.T @ res
        improved = False
        while lam < 1e10:
            damped = jtj + lam * np.diag(np.maximum(np.diag(jtj), 1e-12))
            delta = np.linalg.solve(damped, -jtr)
            trial = params + delta
            trial_res = residual_fn(trial)
            trial_cost = float(trial_res @ trial_res)
            if trial_cost < cost:
                params, res, improved = trial, trial_res, True
                converged = cost - trial_cost < 1e-12 * max(cost, 1e-30)
                cost, lam = trial_cost, max(lam / 10, 1e-12)
                break
            lam *= 10
        if not improved or converged:
            break
    return params


def fit_mapping(
    screen_xy: np.ndarray,
    photo_xy: np.ndarray,
    start: ScreenMapping,
    free_terms: Sequence[str] = ("k1", "k2"),
    free_centre: bool = False,
) -> ScreenMapping:
    """Least-squares mapping from correspondences (N, 2) each, starting at ``start``.

    The homography is always free; ``free_terms`` (names in DIST_TERMS) and, with
    ``free_centre``, the distortion centre are fitted too; the rest stay as in
    ``start``.
    """
    s = np.asarray(screen_xy, dtype=np.float64).reshape(-1, 2)
    p = np.asarray(photo_xy, dtype=np.float64).reshape(-1, 2)
    t_screen = _similarity(s)
    dist0 = start.distortion
    t_photo = np.array(
        [
            [1 / dist0.norm_px, 0, -dist0.cx / dist0.norm_px],
            [0, 1 / dist0.norm_px, -dist0.cy / dist0.norm_px],
            [0, 0, 1],
        ]
    )
    # Homography in normalised coordinates: t_photo · H · t_screen⁻¹.
    hn0 = t_photo @ start.h_matrix @ np.linalg.inv(t_screen)
    hn0 = hn0 / hn0[2, 2]
    names = list(free_terms) + (["cx", "cy"] if free_centre else [])
    x0 = np.concatenate([hn0.reshape(-1)[:8], [0.0] * len(names)])
    base = {n: getattr(dist0, n) for n in names}
    scales = {n: dist0.norm_px if n in ("cx", "cy") else 1.0 for n in names}

    def unpack(params: np.ndarray) -> ScreenMapping:
        hn = np.append(params[:8], 1.0).reshape(3, 3)
        values = {n: base[n] + scales[n] * v for n, v in zip(names, params[8:], strict=True)}
        h = np.linalg.inv(t_photo) @ hn @ t_screen
        return ScreenMapping(as_tuple(h), replace(dist0, **values))

    def residuals(params: np.ndarray) -> np.ndarray:
        return ((unpack(params).map_points(s) - p) / dist0.norm_px).reshape(-1)

    return unpack(_levenberg_marquardt(residuals, x0))


def initial_homography(
    screen_xy: np.ndarray, photo_xy: np.ndarray, threshold_px: float = 3.0
) -> tuple[np.ndarray, np.ndarray]:
    """Robust homography (USAC MAGSAC) and the inlier mask (N,) of the correspondences."""
    h, mask = cv2.findHomography(
        np.asarray(screen_xy, np.float64).reshape(-1, 1, 2),
        np.asarray(photo_xy, np.float64).reshape(-1, 1, 2),
        cv2.USAC_MAGSAC,
        threshold_px,
        maxIters=2000,
        confidence=0.999,
    )
    if h is None:
        raise ValueError("no homography fits the marker corners")
    return h, mask.reshape(-1).astype(bool)


def reprojection_errors(
    mapping: ScreenMapping, screen_xy: np.ndarray, photo_xy: np.ndarray
) -> np.ndarray:
    """Distance (N,) in photo px between mapped screen points and observed photo points."""
    diff = mapping.map_points(np.asarray(screen_xy).reshape(-1, 2)) - np.asarray(photo_xy).reshape(
        -1, 2
    )
    return np.asarray(np.hypot(diff[:, 0], diff[:, 1]))


def mapping_displacement(a: ScreenMapping, b: ScreenMapping, screen_xy: np.ndarray) -> np.ndarray:
    """How far (N,) in photo px the two mappings put the same screen points apart."""
    diff = a.map_points(screen_xy) - b.map_points(screen_xy)
    return np.asarray(np.hypot(diff[..., 0], diff[..., 1])).reshape(-1)


def upsample_grid(coarse: np.ndarray, step: int, width: int, height: int) -> np.ndarray:
    """Bilinear interpolation of a map sampled every ``step`` px, (gh, gw, C) -> (h, w, C).

    Sample (i, j) of ``coarse`` sits at pixel (step·j, step·i). Done in numpy rather
    than with cv2.remap/resize, whose fixed-point weights quantise positions to
    1/32 of a *coarse* cell (here 1/4 px).
    """

    def along(values: np.ndarray, n: int, axis: int) -> np.ndarray:
        pos = np.arange(n, dtype=np.float64) / step
        i0 = np.minimum(pos.astype(np.int64), values.shape[axis] - 2)
        t = (pos - i0).reshape([-1 if a == axis else 1 for a in range(values.ndim)])
        return np.take(values, i0, axis) * (1 - t) + np.take(values, i0 + 1, axis) * t

    return along(along(coarse, width, 1), height, 0)


def dense_map(
    mapping: ScreenMapping, x0: int, y0: int, width: int, height: int, step: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """cv2.remap maps, (height, width) float32 photo x and y, of screen pixels from (x0, y0).

    The mapping is smooth: it is evaluated every ``step`` px and interpolated
    bilinearly (error ~1e-3 px for camera lenses), 5-10x cheaper than per pixel.
    """
    gx = x0 + step * np.arange(width // step + 2, dtype=np.float64)
    gy = y0 + step * np.arange(height // step + 2, dtype=np.float64)
    coarse = mapping.map_points(np.stack(np.meshgrid(gx, gy), axis=-1))  # (gh, gw, 2)
    pts = upsample_grid(coarse, step, width, height)
    return pts[..., 0].astype(np.float32), pts[..., 1].astype(np.float32)
