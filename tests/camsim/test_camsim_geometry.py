"""Dots drawn at known screen pixels land where cv2.projectPoints with the truth says.

Oracle: OpenCV's own projection of the truth's (camera_matrix, dist_coeffs, rvec,
tvec). Under perspective the photo centroid of a dot is the centroid of its
*projected area*, so the expected position is the Jacobian-weighted mean of
projected sub-points of the dot (all computed with cv2.projectPoints), not the
projection of the dot's centre.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rig.camsim import SimCamera, load_preset, project_screen_points, warp_photo_to_screen
from rig.camsim.params import CameraParams

SCREEN_WH = (480, 320)
DOT_PX = 5  # dot side in screen pixels
SENSOR_WH = (1280, 960)


def clean_params(**pose: float) -> CameraParams:
    """tripod-ideal on a small sensor with everything that would bias centroids removed."""
    base = load_preset("tripod-ideal")
    return base.with_values({
        "sensor.width_px": SENSOR_WH[0], "sensor.height_px": SENSOR_WH[1],
        "sensor.full_well_e": 1e9, "sensor.read_noise_e": 0.0, "sensor.exposure": 0.9,
        "sensor.tone_gamma": 1.0, "sensor.jpeg_quality": 100,
        "display.subpixels": "uniform", "display.black_level": 0.0,
        "display.angle_falloff": 0.0, "display.angle_color_shift": 0.0,
        "display.background_radiance": 0.0, "display.bezel_radiance": 0.0,
        "ambient.haze": 0.0, "ambient.glare": 0.0, "lens.vignetting": 0.0,
        "lens.defocus_px": 1.0, **{f"pose.{k}": v for k, v in pose.items()},
    })


def dot_frame(centres: np.ndarray) -> np.ndarray:
    frame = np.zeros((SCREEN_WH[1], SCREEN_WH[0]), np.uint8)
    half = DOT_PX // 2
    for x, y in centres.astype(int):
        frame[y - half : y + half + 1, x - half : x + half + 1] = 255
    return frame


def expected_centroid(truth: dict, centre: np.ndarray) -> np.ndarray:
    """Area centroid of the projected dot: sub-points weighted by the local Jacobian."""
    n, eps = 12, 1e-3
    offs = (np.arange(n) + 0.5) / n * DOT_PX - DOT_PX / 2
    sub = np.array([[centre[0] + dx, centre[1] + dy] for dy in offs for dx in offs])
    uv = project_screen_points(truth, sub)
    du = (project_screen_points(truth, sub + np.array([eps, 0.0])) - uv) / eps
    dv = (project_screen_points(truth, sub + np.array([0.0, eps])) - uv) / eps
    area = np.abs(du[:, 0] * dv[:, 1] - du[:, 1] * dv[:, 0])
    return np.asarray((uv * area[:, None]).sum(0) / area.sum())


def measured_centroid(gray: np.ndarray, at: np.ndarray, radius: int) -> np.ndarray:
    x0, y0 = (int(np.rint(v)) for v in at)
    win = gray[y0 - radius : y0 + radius + 1, x0 - radius : x0 + radius + 1].astype(np.float64)
    ys, xs = np.mgrid[y0 - radius : y0 + radius + 1, x0 - radius : x0 + radius + 1]
    return np.array([(win * xs).sum(), (win * ys).sum()]) / win.sum()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    magnification=st.floats(2.0, 3.5),
    yaw=st.floats(-30, 30), pitch=st.floats(-20, 20), roll=st.floats(-15, 15),
    k1=st.floats(-0.12, 0.12), k2=st.floats(-0.1, 0.1),
    p1=st.floats(-0.002, 0.002), p2=st.floats(-0.002, 0.002),
)
def test_dots_land_where_projectpoints_says(magnification, yaw, pitch, roll, k1, k2, p1, p2):
    params = clean_params(yaw_deg=yaw, pitch_deg=pitch, roll_deg=roll)
    distance = params.focal_px * params.display.pixel_pitch_mm / magnification
    # Keep the whole small screen in view: it is 133 mm wide, the frame sees ~1.3 d.
    params = params.with_values({"pose.distance_mm": max(distance, 115.0), "lens.k1": k1,
                                 "lens.k2": k2, "lens.p1": p1, "lens.p2": p2})
    xs, ys = np.meshgrid(np.arange(60, SCREEN_WH[0] - 40, 90), np.arange(50, SCREEN_WH[1] - 30, 80))
    centres = np.column_stack([xs.ravel(), ys.ravel()]).astype(float)
    photo = SimCamera(params, seed=3).capture(dot_frame(centres))
    # Green: the densest Bayer channel (red/blue are interpolated from every 2nd photosite).
    gray = photo.image[:, :, 1]
    radius = math.ceil(DOT_PX * photo.truth["photo_px_per_screen_px"] * 1.6) + 3
    h, w = gray.shape
    checked = 0
    for centre in centres:
        expect = expected_centroid(photo.truth, centre)
        if not (radius + 2 <= expect[0] < w - radius - 2 and radius + 2 <= expect[1] < h - radius - 2):
            continue
        got = measured_centroid(gray, expect, radius)
        assert np.hypot(*(got - expect)) < 0.1, (centre, got, expect)
        checked += 1
    assert checked >= 6


def test_truth_is_opencv_consistent_for_the_screen_corners():
    """The truth's rvec/tvec put the screen in front of the camera and the corners in view."""
    params = clean_params(yaw_deg=20.0, pitch_deg=-10.0, roll_deg=5.0, distance_mm=200.0)
    photo = SimCamera(params).capture(np.full((SCREEN_WH[1], SCREEN_WH[0]), 128, np.uint8))
    truth = photo.truth
    corners = np.array([[-0.5, -0.5], [SCREEN_WH[0] - 0.5, -0.5],
                        [SCREEN_WH[0] - 0.5, SCREEN_WH[1] - 0.5], [-0.5, SCREEN_WH[1] - 0.5]])
    uv = project_screen_points(truth, corners).astype(np.float32)
    inside = np.zeros(photo.image.shape[:2], np.uint8)
    cv2.fillConvexPoly(inside, np.rint(uv).astype(np.int32), 1)
    gray = cv2.cvtColor(photo.image, cv2.COLOR_BGR2GRAY)
    shrunk = cv2.erode(inside, np.ones((9, 9), np.uint8)).astype(bool)
    outside = ~cv2.dilate(inside, np.ones((9, 9), np.uint8)).astype(bool)
    assert gray[shrunk].min() > 30 and gray[outside].max() < 5
    assert truth["image_size"] == list(SENSOR_WH)
    assert np.asarray(truth["camera_matrix"]).shape == (3, 3)


def test_warp_back_recovers_the_frame():
    params = clean_params(yaw_deg=-15.0, pitch_deg=8.0, distance_mm=160.0)
    rng = np.random.default_rng(0)
    frame = cv2.resize(rng.integers(0, 256, (20, 30), dtype=np.uint8), SCREEN_WH,
                       interpolation=cv2.INTER_CUBIC)
    photo = SimCamera(params.with_values({"sensor.tone_gamma": 2.2,
                                          "display.gamma": 2.2})).capture(frame)
    aligned, valid = warp_photo_to_screen(photo, photo.truth, SCREEN_WH)
    gray = cv2.cvtColor(aligned, cv2.COLOR_BGR2GRAY).astype(float)
    assert valid.mean() > 0.9
    corr = np.corrcoef(gray[valid], frame[valid].astype(float))[0, 1]
    assert corr > 0.99
