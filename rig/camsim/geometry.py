"""Camera geometry in OpenCV's conventions, and the sensor -> screen inverse map.

World = the screen plane z=0, x right, y down, in mm, origin at the top-left
corner of screen pixel (0, 0); the centre of screen pixel (x, y) is at
((x+0.5)·pitch, (y+0.5)·pitch, 0). The camera is a pinhole with OpenCV's
(k1, k2, p1, p2, k3) distortion; ``cv2.projectPoints(world, rvec, tvec, K,
dist)`` gives photo pixel coordinates with pixel centres at integers.

The simulator works backwards: every photosite's ray is undistorted, rotated
into the world and intersected with the screen plane. The iterative
undistortion runs on a coarse lattice only; the result is smooth (perspective
and low-order distortion), so linear up-sampling of a lattice with an 8-photosite
step is accurate to a few thousandths of a pixel.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from rig.camsim.params import CameraParams

# Output samples between evaluated rays; the rest is linear interpolation. On a Bayer
# plane (every 2nd photosite) 4 samples = 8 photosites: bias < 0.005 px even at 30° off
# axis from 115 mm with k1 = 0.12 (step 8 there left 0.02 px).
LATTICE_STEP = 4
FAR_PX = 20000.0  # where rays that miss the screen plane "land" (keeps int16 maps valid)


@dataclass(frozen=True)
class CameraPose:
    """Intrinsics and extrinsics; ``r_cw``/``tvec`` map world to camera: Xc = R Xw + t."""

    camera_matrix: np.ndarray  # (3, 3)
    dist_coeffs: np.ndarray  # (5,) k1, k2, p1, p2, k3
    r_cw: np.ndarray  # (3, 3)
    tvec: np.ndarray  # (3,)
    centre_mm: np.ndarray  # (3,) camera centre in the world
    image_wh: tuple[int, int]
    pitch_mm: float

    @property
    def rvec(self) -> np.ndarray:
        return np.asarray(cv2.Rodrigues(self.r_cw)[0]).reshape(3)

    def truth(self) -> dict[str, Any]:
        """The geometry part of TRUTH.json (plain lists, OpenCV conventions)."""
        return {
            "camera_matrix": self.camera_matrix.tolist(),
            "dist_coeffs": self.dist_coeffs.tolist(),
            "rvec": self.rvec.tolist(),
            "tvec": self.tvec.tolist(),
            "camera_centre_mm": self.centre_mm.tolist(),
            "screen_pixel_pitch_mm": self.pitch_mm,
            "image_size": list(self.image_wh),
        }


def camera_pose(params: CameraParams, screen_wh: tuple[int, int]) -> CameraPose:
    """Place the camera: orbit the aim point at ``distance_mm``, look at it, then roll."""
    pose, pitch_mm = params.pose, params.display.pixel_pitch_mm
    aim = np.array([screen_wh[0] * pitch_mm / 2 + pose.aim_x_mm,
                    screen_wh[1] * pitch_mm / 2 + pose.aim_y_mm, 0.0])
    yaw, pitch = math.radians(pose.yaw_deg), math.radians(pose.pitch_deg)
    offset = pose.distance_mm * np.array([math.sin(yaw) * math.cos(pitch), -math.sin(pitch),
                                          -math.cos(yaw) * math.cos(pitch)])
    centre = aim + offset
    forward = -offset / np.linalg.norm(offset)
    right = np.cross([0.0, 1.0, 0.0], forward)
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    roll = math.radians(pose.roll_deg)
    # Rolling the camera by +roll turns its axes by +roll about the optical axis.
    x_axis = math.cos(roll) * right + math.sin(roll) * down
    y_axis = -math.sin(roll) * right + math.cos(roll) * down
    r_cw = np.stack([x_axis, y_axis, forward])  # rows: camera axes in world coordinates
    w, h = params.sensor.width_px, params.sensor.height_px
    f = params.focal_px
    k = np.array([[f, 0.0, (w - 1) / 2], [0.0, f, (h - 1) / 2], [0.0, 0.0, 1.0]])
    lens = params.lens
    dist = np.array([lens.k1, lens.k2, lens.p1, lens.p2, lens.k3])
    return CameraPose(k, dist, r_cw, -r_cw @ centre, centre, (w, h), pitch_mm)


def pose_from_truth(truth: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                   np.ndarray]:
    """(rvec, tvec, camera_matrix, dist_coeffs) as float64 arrays from a TRUTH dict."""
    return (np.asarray(truth["rvec"], np.float64).reshape(3, 1),
            np.asarray(truth["tvec"], np.float64).reshape(3, 1),
            np.asarray(truth["camera_matrix"], np.float64).reshape(3, 3),
            np.asarray(truth["dist_coeffs"], np.float64).reshape(-1))


@dataclass(frozen=True)
class RayHits:
    """Where photosite rays meet the screen plane (lattice or dense arrays)."""

    screen_x: np.ndarray  # screen pixel coordinates (pixel centres at integers)
    screen_y: np.ndarray
    view_x: np.ndarray  # unit vector from the hit point towards the camera
    view_y: np.ndarray
    view_z: np.ndarray


def trace_rays(pose: CameraPose, u: np.ndarray, v: np.ndarray) -> RayHits:
    """Intersect the rays of photo pixels (u, v) (any shape) with the screen plane."""
    pts = np.stack([u.ravel(), v.ravel()], axis=1).astype(np.float64).reshape(-1, 1, 2)
    if np.any(pose.dist_coeffs):
        criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-12)
        norm = cv2.undistortPoints(pts, pose.camera_matrix, pose.dist_coeffs,
                                   criteria=criteria).reshape(-1, 2)
    else:  # no distortion: the pinhole inverse is exact and ~10x cheaper
        k = pose.camera_matrix
        norm = (pts.reshape(-1, 2) - [k[0, 2], k[1, 2]]) / [k[0, 0], k[1, 1]]
    x, y = norm[:, 0], norm[:, 1]
    r, c = pose.r_cw, pose.centre_mm
    # World direction of the ray (x, y, 1) in camera coordinates: R^T (x, y, 1).
    dx = x * r[0, 0] + y * r[1, 0] + r[2, 0]
    dy = x * r[0, 1] + y * r[1, 1] + r[2, 1]
    dz = x * r[0, 2] + y * r[1, 2] + r[2, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -c[2] / dz
    ok = np.isfinite(t) & (t > 0)
    sx = np.where(ok, (c[0] + t * dx) / pose.pitch_mm - 0.5, -FAR_PX)
    sy = np.where(ok, (c[1] + t * dy) / pose.pitch_mm - 0.5, -FAR_PX)
    # From the hit point back to the camera is the reversed ray direction.
    norm_d = np.sqrt(dx * dx + dy * dy + dz * dz)
    view_x = np.where(ok, -dx / norm_d, 0.0)
    view_y = np.where(ok, -dy / norm_d, 0.0)
    view_z = np.where(ok, -dz / norm_d, -1.0)
    shape = u.shape
    return RayHits(np.clip(sx, -FAR_PX, FAR_PX).reshape(shape),
                   np.clip(sy, -FAR_PX, FAR_PX).reshape(shape),
                   view_x.reshape(shape), view_y.reshape(shape), view_z.reshape(shape))


def dense_from_lattice(
    evaluate: Callable[[np.ndarray, np.ndarray], list[np.ndarray]],
    out_wh: tuple[int, int],
    origin: tuple[float, float] = (0.0, 0.0),
    spacing: float = 1.0,
    step: int = LATTICE_STEP,
) -> list[np.ndarray]:
    """Evaluate smooth fields on a coarse lattice, then up-sample them to ``out_wh``.

    Output pixel (i, j) stands for photo position (origin + spacing·(j, i)); e.g. the
    red photosites of an RGGB sensor are origin (0, 0), spacing 2. Lattice node k sits
    at output index step·k + (step-1)/2, which is exactly where cv2.resize (linear,
    float weights) puts it. (OpenCV's bicubic resize is *less* accurate here: its
    a=-0.75 kernel does not reproduce quadratics.) Extra nodes on each side keep the
    borders interpolated, not clamped.
    """
    out_w, out_h = out_wh
    pad = 1
    nx, ny = -(-out_w // step) + 2 * pad, -(-out_h // step) + 2 * pad
    jj = (np.arange(nx) - pad) * step + (step - 1) / 2
    ii = (np.arange(ny) - pad) * step + (step - 1) / 2
    u = origin[0] + spacing * np.broadcast_to(jj[None, :], (ny, nx))
    v = origin[1] + spacing * np.broadcast_to(ii[:, None], (ny, nx))
    dense = []
    for field in evaluate(u, v):
        up = cv2.resize(field.astype(np.float32), (nx * step, ny * step),
                        interpolation=cv2.INTER_LINEAR)
        top, left = pad * step, pad * step
        dense.append(np.ascontiguousarray(up[top : top + out_h, left : left + out_w]))
    return dense


def local_jacobian(pose: CameraPose, screen_xy: tuple[float, float]) -> np.ndarray:
    """d(photo u, v)/d(screen x, y) at a screen pixel position, by central differences."""
    x, y = screen_xy
    pts = np.array([[x + dx, y + dy] for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1))])
    uv = project_pixels(pose, pts)
    return np.column_stack([(uv[0] - uv[1]) / 2, (uv[2] - uv[3]) / 2])


def project_pixels(pose: CameraPose, pts_xy: np.ndarray) -> np.ndarray:
    """Photo positions of screen pixel coordinates (N, 2) (pixel centres at integers)."""
    world = np.column_stack([(np.asarray(pts_xy, np.float64) + 0.5) * pose.pitch_mm,
                             np.zeros(len(pts_xy))])
    uv, _ = cv2.projectPoints(world.reshape(-1, 1, 3), pose.rvec, pose.tvec,
                              pose.camera_matrix, pose.dist_coeffs)
    return np.asarray(uv).reshape(-1, 2)


def project_screen_points(truth: dict[str, Any], pts_xy: npt.ArrayLike) -> np.ndarray:
    """Photo (u, v) of screen pixel positions ``pts_xy`` (N, 2), via cv2.projectPoints."""
    rvec, tvec, k, dist = pose_from_truth(truth)
    pitch = float(truth["screen_pixel_pitch_mm"])
    pts = np.asarray(pts_xy, np.float64).reshape(-1, 2)
    world = np.column_stack([(pts + 0.5) * pitch, np.zeros(len(pts))]).reshape(-1, 1, 3)
    uv, _ = cv2.projectPoints(world, rvec, tvec, k, dist)
    return np.asarray(uv).reshape(-1, 2)


def warp_photo_to_screen(
    photo: Any, truth: dict[str, Any], screen_wh: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Resample a photo into screen pixel coordinates with the true geometry.

    Returns (aligned, valid_mask): aligned has the screen's size (and the photo's
    channels); valid marks screen pixels whose centre is seen by the camera (in front
    of it and inside the photo, one pixel away from its border).
    """
    image = photo.image if hasattr(photo, "image") else np.asarray(photo)
    w, h = screen_wh

    def project(x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
        uv = project_screen_points(truth, np.column_stack([x.ravel(), y.ravel()]))
        return [uv[:, 0].reshape(x.shape), uv[:, 1].reshape(x.shape)]

    # cv2.projectPoints on a 4-px lattice, linearly interpolated (< 0.005 px error).
    map_x, map_y = dense_from_lattice(project, (w, h), step=4)
    rvec, tvec, _, _ = pose_from_truth(truth)
    r = cv2.Rodrigues(rvec)[0]
    pitch = float(truth["screen_pixel_pitch_mm"])
    xs = np.arange(w, dtype=np.float64)[None, :]
    ys = np.arange(h, dtype=np.float64)[:, None]
    # Depth of each screen point in the camera frame: only points in front are seen.
    depth = (r[2, 0] * (xs + 0.5) + r[2, 1] * (ys + 0.5)) * pitch + float(tvec[2, 0])
    img_h, img_w = image.shape[:2]
    valid = ((depth > 0) & (map_x >= 1) & (map_y >= 1)
             & (map_x <= img_w - 2) & (map_y <= img_h - 2))
    map_x[~valid] = -1.0
    map_y[~valid] = -1.0
    aligned = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return aligned, valid
