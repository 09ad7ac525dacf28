"""Tone curve: isotonic fit, interpolation, inversion, and a grey-steps photo end to end."""

from __future__ import annotations

import numpy as np
from calibration_helpers import LAYOUT, SCREEN_WH, view
from hypothesis import given
from hypothesis import strategies as st

from calibration.fiducials import content_hash, draw_border
from calibration.framecode import FrameCode
from calibration.patterns import draw_grey_steps, grey_step_patches
from calibration.photometric import (
    ToneCurve,
    apply_tone_normalisation,
    fit_tone_curve,
    isotonic,
    measure_patches,
)
from calibration.registration import interior_area, register_photo
from calibration.synthetic import PhotoEffects, render_photo

values = st.lists(st.floats(0, 255), min_size=1, max_size=40)


@given(values)
def test_isotonic_is_monotone_and_keeps_the_mean(ys: list[float]) -> None:
    fitted = isotonic(np.array(ys))
    assert np.all(np.diff(fitted) >= -1e-9)
    assert abs(fitted.mean() - np.mean(ys)) < 1e-6


@given(st.lists(st.floats(0, 255), min_size=2, max_size=30).map(sorted))
def test_isotonic_leaves_sorted_data_alone(ys: list[float]) -> None:
    assert np.allclose(isotonic(np.array(ys)), ys)


@given(st.floats(0.4, 3.0), st.floats(0.5, 1.0), st.floats(0.0, 20.0))
def test_known_power_curve_is_recovered_and_inverted(
    gamma: float, gain: float, black: float
) -> None:
    levels = np.arange(0, 256, 15, dtype=float)
    camera = black + gain * 255 * (levels / 255) ** gamma
    curve = fit_tone_curve(levels, camera)
    probe = np.array([0.0, 37.0, 128.0, 201.0, 255.0])
    truth = black + gain * 255 * (probe / 255) ** gamma
    # Piecewise-linear between 15-level steps: error bounded by the curve's bend.
    assert np.abs(curve.camera_of(probe) - truth).max() < 0.02 * 255 * max(gamma, 1 / gamma)
    back = curve.display_of(curve.camera_of(levels))
    assert np.abs(back - levels).max() < 1e-3


def test_tone_curve_json_round_trip_and_validation() -> None:
    curve = ToneCurve((0.0, 128.0, 255.0), (5.0, 60.0, 230.0))
    assert ToneCurve.from_dict(curve.to_dict()) == curve
    import pytest

    with pytest.raises(ValueError):
        ToneCurve.from_dict({"display_levels": [0, 255, 128], "camera_levels": [1, 2, 3]})


def test_grey_steps_photo_gives_the_simulated_camera_response() -> None:
    area = interior_area(LAYOUT, SCREEN_WH)
    steps = draw_grey_steps((area.width, area.height))
    canvas = np.zeros((SCREEN_WH[1], SCREEN_WH[0]), np.uint8)
    canvas[area.y : area.y + area.height, area.x : area.x + area.width] = steps
    screen = draw_border(canvas, LAYOUT, FrameCode(0, 0, 0, content_hash(canvas, LAYOUT)))
    fx = PhotoEffects(noise_sigma=1.0, gain=0.8, black_level=0.02, jpeg_quality=95)
    reg = register_photo(render_photo(screen, view(), fx), screen, LAYOUT)
    assert reg.result.accepted and reg.aligned is not None and reg.mask is not None
    levels, measured, counts = measure_patches(
        reg.aligned, reg.mask, grey_step_patches((area.width, area.height))
    )
    curve = fit_tone_curve(levels, measured, counts)
    # The simulator's response for a uniform patch: display gamma, exposure, camera gamma.
    light = fx.black_level + fx.gain * (np.array(curve.display_levels) / 255) ** fx.display_gamma
    expected = 255 * np.clip(light, 0, 1) ** fx.camera_gamma
    assert np.abs(np.array(curve.camera_levels) - expected).max() < 3.0
    normalised = apply_tone_normalisation(np.round(expected).astype(np.uint8), curve)
    assert np.abs(normalised.astype(float) - np.array(curve.display_levels)).max() <= 8.0
