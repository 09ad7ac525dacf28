"""Registration of simulated photos with known geometry, glare, and wrong frames."""

from __future__ import annotations

import numpy as np
import pytest
from calibration_helpers import (
    LAYOUT,
    SCREEN_WH,
    interior,
    mapping_errors,
    photo_of,
    screen_frame,
    view,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calibration.fiducials import code_origins, marker_screen_corners
from calibration.framecode import FrameCode
from calibration.registration import REJECTED, register_photo
from calibration.synthetic import PhotoEffects
from calibration.verification import read_code

poses = st.tuples(
    st.floats(-12, 12), st.floats(-12, 12), st.floats(-8, 8)
)  # rotation about x, y, z (deg)
lenses = st.tuples(st.floats(-0.08, 0.1), st.floats(-0.08, 0.05))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(poses, lenses, st.integers(0, 10_000))
def test_random_pose_and_lens_are_recovered(
    angles: tuple[float, float, float], k: tuple[float, float], seed: int
) -> None:
    screen, code = screen_frame(seed=seed % 7)
    v = view(angles_deg=angles, dist=(k[0], k[1], 0, 0, 0))
    reg = register_photo(photo_of(screen, v, seed=seed), screen, LAYOUT)
    assert reg.result.accepted, reg.result.reason
    assert reg.result.code == code.to_dict()
    err = mapping_errors(reg.mapping, v, interior())
    assert np.sqrt(np.mean(err**2)) < 0.3 and err.max() < 0.8


def test_aligned_photo_matches_the_truth_and_masks_the_outside() -> None:
    screen, _ = screen_frame()
    v = view(offset=(0.06, 0.0))  # the screen runs off the right edge of the photo
    reg = register_photo(photo_of(screen, v), screen, LAYOUT)
    area = interior()
    assert reg.aligned is not None and reg.mask is not None
    assert reg.aligned.shape == (area.height, area.width)
    # Pixels the camera did not see are masked; the others were seen.
    pts = np.stack(np.meshgrid(np.arange(area.width) + area.x, np.arange(area.height) + area.y), -1)
    seen = v.truth_points(pts.reshape(-1, 2)).reshape(area.height, area.width, 2)
    inside = (seen[..., 0] >= 1) & (seen[..., 0] <= v.photo_wh[0] - 2)
    assert not reg.mask[~inside].any() and reg.mask[inside].mean() > 0.99
    assert reg.result.ssim is not None and reg.result.ssim > 0.8


def test_a_third_of_the_markers_under_glare_still_registers() -> None:
    screen, _ = screen_frame(index=3)
    v = view()
    corners = marker_screen_corners(LAYOUT, SCREEN_WH)
    covered = list(range(0, LAYOUT.marker_count, 3))  # every third marker, all around
    centres = v.truth_points(np.array([corners[i].mean(axis=0) for i in covered]))
    blobs = [(float(x), float(y), 70.0) for x, y in centres]
    photo = photo_of(screen, v, PhotoEffects(glare_blobs=blobs))
    reg = register_photo(photo, screen, LAYOUT)
    assert reg.result.markers_found <= LAYOUT.marker_count - len(covered) + 2
    assert reg.result.accepted, reg.result.reason
    err = mapping_errors(reg.mapping, v, interior())
    assert np.sqrt(np.mean(err**2)) < 0.4


def test_glare_over_two_code_copies_is_survived() -> None:
    screen, code = screen_frame(index=11)
    v = view()
    w, h = LAYOUT.code_wh
    origins = code_origins(LAYOUT, SCREEN_WH)[:2]  # both top copies
    centres = v.truth_points(np.array([[x + w / 2, y + h / 2] for x, y in origins]))
    blobs = [(float(x), float(y), 200.0) for x, y in centres]
    photo = photo_of(screen, v, PhotoEffects(glare_blobs=blobs))
    reg = register_photo(photo, screen, LAYOUT)
    assert reg.result.accepted, reg.result.reason
    assert reg.result.code == code.to_dict()
    assert reg.result.code_copies_read[2:] == [True, True]
    assert reg.result.code_copies_read[:2] == [False, False]  # the glare did hide them


@pytest.mark.parametrize(
    "kind,needle",
    [("other index", "item 8, expected item 7"), ("other content", "other content")],
)
def test_wrong_frame_is_rejected_with_a_reason(kind: str, needle: str) -> None:
    expected_screen, _ = screen_frame(index=7, seed=0)
    if kind == "other index":
        shown, _ = screen_frame(index=8, seed=1)
    else:
        shown, _ = screen_frame(index=7, seed=5)  # same item, re-rendered differently
    reg = register_photo(photo_of(shown, view()), expected_screen, LAYOUT)
    assert reg.result.verdict == REJECTED
    assert needle in reg.result.reason


def test_half_refreshed_screen_is_rejected() -> None:
    old, _ = screen_frame(index=7, seed=0)
    new, _ = screen_frame(index=8, seed=1)
    torn = new.copy()
    torn[SCREEN_WH[1] // 2 :] = old[SCREEN_WH[1] // 2 :]  # scan-out stopped half way
    reg = register_photo(photo_of(torn, view()), new, LAYOUT)
    assert reg.result.verdict == REJECTED
    assert "disagree" in reg.result.reason


def test_side_by_side_tear_is_rejected() -> None:
    # A rolling shutter running along the screen: the left half still shows the old frame.
    old, _ = screen_frame(index=7, seed=0)
    new, _ = screen_frame(index=8, seed=1)
    torn = new.copy()
    torn[:, : SCREEN_WH[0] // 2] = old[:, : SCREEN_WH[0] // 2]
    reg = register_photo(photo_of(torn, view()), new, LAYOUT)
    assert reg.result.verdict == REJECTED
    assert "disagree" in reg.result.reason and "item 7" in reg.result.reason


def test_other_content_inside_correct_codes_is_caught_by_the_content_check() -> None:
    # Every code copy is right, but a block of the image shows other pixels.
    expected, _ = screen_frame(index=7, seed=0)
    other, _ = screen_frame(index=7, seed=3)
    shown = expected.copy()
    shown[250:520, 350:750] = other[250:520, 350:750]
    reg = register_photo(photo_of(shown, view()), expected, LAYOUT)
    assert reg.result.verdict == REJECTED
    assert "tiles" in reg.result.reason


def test_photo_without_markers_is_rejected() -> None:
    screen, _ = screen_frame()
    blank = np.full((1500, 2000), 90, np.uint8)
    reg = register_photo(blank, screen, LAYOUT)
    assert reg.result.verdict == REJECTED and "markers" in reg.result.reason
    assert reg.aligned is None


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.builds(
        FrameCode,
        session=st.integers(0, 2**16 - 1),
        index=st.integers(0, 2**20 - 1),
        attempt=st.integers(0, 15),
        frame_hash=st.integers(0, 2**24 - 1),
    ),
    st.floats(0.6, 1.6),
    st.floats(1.0, 5.0),
)
def test_code_decodes_from_a_warped_blurred_noisy_photo(
    code: FrameCode, blur: float, noise: float
) -> None:
    from calibration.fiducials import draw_border

    screen = draw_border(np.full((SCREEN_WH[1], SCREEN_WH[0]), 100, np.uint8), LAYOUT, code)
    v = view(angles_deg=(8.0, -10.0, 3.0))
    photo = photo_of(
        screen, v, PhotoEffects(blur_sigma_px=blur, noise_sigma=noise, jpeg_quality=80)
    )
    # Read the code through the *true* mapping: this isolates the code from the fit.
    from calibration.distortion import LensDistortion, ScreenMapping, as_tuple, fit_mapping

    pts = np.stack(np.meshgrid(np.linspace(0, 1279, 12), np.linspace(0, 719, 8)), -1).reshape(-1, 2)
    start = ScreenMapping(as_tuple(np.eye(3)), LensDistortion.none_for(v.photo_wh))
    truth_mapping = fit_mapping(pts, v.truth_points(pts), start, free_terms=("k1", "k2"))
    assert read_code(photo, truth_mapping, LAYOUT, SCREEN_WH).code == code
