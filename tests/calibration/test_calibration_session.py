"""ChArUco patterns, session calibration from a simulated photo, and the import rule."""

from __future__ import annotations

import cv2
import numpy as np
from calibration_helpers import LAYOUT, interior, mapping_errors, photo_of, screen_frame, view

from calibration.distortion import LensDistortion
from calibration.patterns import (
    charuco_screen_corners,
    charuco_spec_for,
    draw_charuco,
    draw_grey_steps,
    draw_ramp,
    grey_step_patches,
)
from calibration.registration import SessionCalibration, register_photo
from calibration.session import calibrate_camera, calibrate_session, detect_charuco
from calibration.synthetic import look_at_view

SCREEN = (1280, 720)


def test_charuco_corners_are_where_the_board_was_drawn() -> None:
    spec = charuco_spec_for(SCREEN, 64)
    board = draw_charuco(SCREEN, spec)
    found, ids = detect_charuco(board, spec)
    assert len(ids) > 0.8 * (spec.squares_x - 1) * (spec.squares_y - 1)
    truth = charuco_screen_corners(spec)[ids]
    assert np.abs(found - truth).max() < 0.3
    # Independent check of the convention: a chessboard corner sits where four squares
    # meet, i.e. between pixel centres, on a half-integer position.
    assert np.allclose(truth % 1.0, 0.5)


def test_grey_steps_and_ramp() -> None:
    steps = draw_grey_steps((400, 300))
    for p in grey_step_patches((400, 300)):
        assert np.all(steps[p.y : p.y + p.height, p.x : p.x + p.width] == p.level)
    ramp = draw_ramp((256, 10))
    assert ramp[0, 0] == 0 and ramp[0, -1] == 255 and np.all(np.diff(ramp[0].astype(int)) >= 0)


def test_session_calibration_then_fixed_lens_registration() -> None:
    v = view(angles_deg=(6.0, -9.0, 2.0), dist=(0.09, -0.06, 0.0, 0.0, 0.0), screen_wh=SCREEN)
    spec = charuco_spec_for(SCREEN, 64)
    board_photo = photo_of(cv2.cvtColor(draw_charuco(SCREEN, spec), cv2.COLOR_GRAY2BGR), v)
    cal = calibrate_session(board_photo, spec, SCREEN)
    assert cal.rms_px is not None and cal.rms_px < 0.5
    assert cal.reference_mapping is not None
    err = mapping_errors(cal.reference_mapping, v, interior())
    assert np.sqrt(np.mean(err**2)) < 0.25
    again = SessionCalibration.from_dict(cal.to_dict())
    assert again.distortion == cal.distortion
    screen, _ = screen_frame()
    reg = register_photo(photo_of(screen, v, seed=3), screen, LAYOUT, calibration=again)
    assert reg.result.accepted, reg.result.reason
    err = mapping_errors(reg.mapping, v, interior())
    assert np.sqrt(np.mean(err**2)) < 0.3


def test_camera_intrinsics_from_three_views() -> None:
    spec = charuco_spec_for(SCREEN, 64)
    board = draw_charuco(SCREEN, spec)
    lens = (0.07, -0.05, 0.001, -0.0005, 0.0)
    views = [
        look_at_view(
            SCREEN,
            (1600, 1200),
            angles_deg=a,
            dist_coeffs=lens,
            fill=0.8,
            principal_offset_px=(18.0, -11.0),
        )
        for a in [(0.0, 14.0, 1.0), (-14.0, -6.0, 0.0), (10.0, -12.0, -2.0)]
    ]
    photos = [photo_of(board, v, seed=i) for i, v in enumerate(views)]
    cal, matrix, rms = calibrate_camera(photos, spec, SCREEN, views[0].pitch_mm)
    truth = views[0].camera_matrix
    assert rms < 0.6
    assert abs(matrix[0, 0] / truth[0, 0] - 1) < 0.01
    assert np.hypot(matrix[0, 2] - truth[0, 2], matrix[1, 2] - truth[1, 2]) < 6.0
    # The lens model reproduces OpenCV's distortion of the truth over the photo.
    pts = np.stack(np.meshgrid(np.linspace(100, 1500, 8), np.linspace(100, 1100, 6)), -1)
    ideal = pts.reshape(-1, 2)
    norm = (ideal - truth[:2, 2]) / truth[0, 0]
    ours_ideal = truth[:2, 2] + norm * truth[0, 0]
    true_d = cv2.projectPoints(
        np.column_stack([norm, np.ones(len(norm))]), np.zeros(3), np.zeros(3), truth, np.array(lens)
    )[0].reshape(-1, 2)
    d = cal.distortion
    mine = np.array([d.cx, d.cy]) + (
        LensDistortion(0, 0, 1, d.k1, d.k2, d.k3, d.p1, d.p2).apply(
            (ours_ideal - np.array([d.cx, d.cy])) / d.norm_px
        )
        * d.norm_px
    )
    assert np.abs(mine - true_d).max() < 2.5  # includes the small intrinsics error
