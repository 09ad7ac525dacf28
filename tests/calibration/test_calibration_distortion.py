"""The homography + lens model against OpenCV's camera model, and its least-squares fit."""

from __future__ import annotations

import cv2
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from calibration.distortion import (
    LensDistortion,
    ScreenMapping,
    as_tuple,
    fit_mapping,
    initial_homography,
    mapping_displacement,
)
from calibration.registration import detect_drift
from calibration.synthetic import look_at_view

SCREEN = (1920, 1080)
PHOTO = (4032, 3024)


def _screen_points(n: int = 12) -> np.ndarray:
    xs, ys = np.linspace(0, SCREEN[0] - 1, n), np.linspace(0, SCREEN[1] - 1, n)
    return np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)


def _border_points() -> np.ndarray:
    pts = _screen_points(16)
    on_edge = (pts[:, 0] < 200) | (pts[:, 0] > SCREEN[0] - 200)
    on_edge |= (pts[:, 1] < 120) | (pts[:, 1] > SCREEN[1] - 120)
    return pts[on_edge]


angles = st.tuples(st.floats(-15, 15), st.floats(-15, 15), st.floats(-5, 5))
radial = st.tuples(st.floats(-0.1, 0.12), st.floats(-0.15, 0.1))


@settings(max_examples=25, deadline=None)
@given(angles, radial)
def test_model_reproduces_opencv_projection(
    angles_deg: tuple[float, float, float], k: tuple[float, float]
) -> None:
    # With the focal length as norm and the principal point as centre, the model *is*
    # OpenCV's pinhole + Brown-Conrady projection of a plane (k3 = p = 0 here).
    view = look_at_view(SCREEN, PHOTO, angles_deg=angles_deg, dist_coeffs=(k[0], k[1], 0, 0, 0))
    kmat = view.camera_matrix
    rot, _ = cv2.Rodrigues(view.rvec)
    pitch = view.pitch_mm
    # Screen pixel -> plane mm -> ideal pixel, as a homography.
    to_mm = np.array([[pitch, 0, 0.5 * pitch], [0, pitch, 0.5 * pitch], [0, 0, 1]])
    h = kmat @ np.column_stack([rot[:, 0], rot[:, 1], view.tvec]) @ to_mm
    dist = LensDistortion(kmat[0, 2], kmat[1, 2], kmat[0, 0], k1=k[0], k2=k[1])
    pts = _screen_points()
    model = ScreenMapping(as_tuple(h), dist).map_points(pts)
    assert np.abs(model - view.truth_points(pts)).max() < 1e-6


@settings(max_examples=25, deadline=None)
@given(angles, radial, st.tuples(st.floats(-0.002, 0.002), st.floats(-0.002, 0.002)))
def test_fit_from_border_points_recovers_the_interior(
    angles_deg: tuple[float, float, float], k: tuple[float, float], p: tuple[float, float]
) -> None:
    view = look_at_view(
        SCREEN, PHOTO, angles_deg=angles_deg, dist_coeffs=(k[0], k[1], p[0], p[1], 0)
    )
    border = _border_points()
    photo = view.truth_points(border)
    h0, _ = initial_homography(border, photo, 60.0)
    start = ScreenMapping(as_tuple(h0), LensDistortion.none_for(PHOTO))
    fitted = fit_mapping(border, photo, start, free_terms=("k1", "k2", "p1", "p2"))
    interior = _screen_points(9)
    err = np.hypot(*(fitted.map_points(interior) - view.truth_points(interior)).T)
    assert err.max() < 0.05  # exact data: only the model's fit to border points limits it


def test_drift_is_reported_beyond_the_threshold_only() -> None:
    view = look_at_view(SCREEN, PHOTO)
    pts = _screen_points(8)
    h, _ = initial_homography(pts, view.truth_points(pts))
    ref = ScreenMapping(as_tuple(h), LensDistortion.none_for(PHOTO))
    shift = np.array([[1, 0, 2.0], [0, 1, -1.0], [0, 0, 1]])  # the camera moved: 2.24 px
    moved = ref.with_homography(shift @ ref.h_matrix)
    assert detect_drift(ref, ref, 0.5, SCREEN) == (False, 0.0)
    drifted, worst = detect_drift(ref, moved, 1.0, SCREEN)
    assert drifted and abs(worst - np.hypot(2, 1)) < 1e-6
    assert not detect_drift(ref, moved, 3.0, SCREEN)[0]
    assert np.allclose(mapping_displacement(ref, moved, pts), np.hypot(2, 1))


def test_mapping_json_round_trip() -> None:
    m = ScreenMapping(
        as_tuple(np.array([[2.0, 0.1, 5], [0.05, 2.1, 7], [1e-5, 2e-5, 1]])),
        LensDistortion(2000, 1500, 2500, 0.05, -0.02, 0.001, 1e-4, -2e-4),
    )
    again = ScreenMapping.from_dict(m.to_dict())
    pts = _screen_points(5)
    assert np.allclose(again.map_points(pts), m.map_points(pts))
