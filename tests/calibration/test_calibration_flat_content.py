"""Verification on real content: flat regions carry no information and must not reject.

Real radiographs have wide flat regions (collimation, black or white surrounds)
whose ground truth has only a trace of texture; the photo shows noise there. The
old tile test correlated those tiles (noise against noise) and rejected good photos.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from calibration_helpers import LAYOUT, SCREEN_WH, photo_of, textured_image, view

from calibration.fiducials import content_hash, draw_border
from calibration.framecode import FrameCode
from calibration.registration import REJECTED, register_photo
from calibration.synthetic import PhotoEffects
from calibration.verification import _band_pass, noise_floor, tile_correlations

B = LAYOUT.border_px
INNER = (SCREEN_WH[0] - 2 * B, SCREEN_WH[1] - 2 * B)


def _faint(seed: int, level: int, shape: tuple[int, int]) -> np.ndarray:
    """A flat region with a trace of structure (band-pass std about 1.5 levels)."""
    rng = np.random.default_rng(seed)
    fine = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), 2.0)
    return np.clip(level + 2.0 * fine / fine.std(), 0, 255).astype(np.uint8)


def collimated_frame(
    seed: int = 0, index: int = 7, surround: int = 235, anatomy: tuple[int, int] = (3, 3)
) -> tuple[np.ndarray, FrameCode]:
    """Anatomy from ``anatomy[0]``-ths to ``anatomy[1]``-ths of the width from either side
    (default: the middle third, so tile columns 0 and 3 are pure collimation, white or
    black, and the collimation edges lie inside tile columns 1 and 2)."""
    inner = _faint(seed, surround, (INNER[1], INNER[0]))
    x0, x1 = INNER[0] // anatomy[0], INNER[0] - INNER[0] // anatomy[1]
    inner[:, x0:x1] = textured_image(seed, (x1 - x0, INNER[1]))
    canvas = np.zeros((SCREEN_WH[1], SCREEN_WH[0]), np.uint8)
    canvas[B:-B, B:-B] = inner
    code = FrameCode(2, index, 0, content_hash(canvas, LAYOUT))
    return draw_border(canvas, LAYOUT, code), code


# Two cameras the old tile test rejected good photos of: a phone whose tone curve clips
# the white collimation (nothing left there but clipped noise), and a noisy camera
# over a black background (noise against a trace of structure).
CLIPPING = PhotoEffects(noise_sigma=1.0, gain=1.6, blur_sigma_px=1.0, jpeg_quality=85)
NOISY = PhotoEffects(noise_sigma=10.0, blur_sigma_px=1.2, jpeg_quality=85)
CASES = {"white-clipped": (235, CLIPPING), "black-noisy": (10, NOISY)}


@pytest.mark.parametrize("case", sorted(CASES))
def test_flat_surround_is_accepted(case: str) -> None:
    surround, effects = CASES[case]
    screen, code = collimated_frame(surround=surround)
    for seed in range(3):
        reg = register_photo(photo_of(screen, view(), effects, seed=seed), screen, LAYOUT)
        assert reg.result.accepted, reg.result.reason
        assert reg.result.code == code.to_dict()


def test_flat_tiles_are_not_judged_but_the_anatomy_is() -> None:
    screen, _ = collimated_frame()
    reg = register_photo(photo_of(screen, view(), CLIPPING), screen, LAYOUT)
    assert reg.aligned is not None and reg.mask is not None
    truth = screen[B:-B, B:-B]
    tiles = tile_correlations(
        reg.aligned if reg.aligned.ndim == 2 else reg.aligned[..., 0], truth, reg.mask
    )
    assert np.isnan(tiles[:, 0]).all() and np.isnan(tiles[:, 3]).all()  # clipped collimation
    assert np.isfinite(tiles[:, 1:3]).all() and np.nanmin(tiles) > 0.5  # the anatomy


def test_noise_floor_is_measured_on_the_flat_truth() -> None:
    rng = np.random.default_rng(1)
    truth = np.full((400, 600), 200, np.uint8)
    truth[:, :200] = 40
    sigma = np.where(truth > 100, 25.0, 5.0).astype(np.float32)  # noisier where brighter
    photo = truth.astype(np.float32) + rng.normal(0, 1, truth.shape).astype(np.float32) * sigma
    a, t = _band_pass(photo), _band_pass(truth)
    floor = noise_floor(a, t, truth, np.ones(truth.shape, bool))
    # The band-pass keeps a known share of white noise: compare the two levels' ratio.
    assert np.isnan(floor[[0, 2, 3, 4, 5, 7]]).all()
    assert 4.0 < floor[6] / floor[1] < 6.0


@pytest.mark.parametrize("case", sorted(CASES))
def test_other_content_in_the_anatomy_is_still_rejected(case: str) -> None:
    surround, effects = CASES[case]
    # Anatomy over the middle half: the four central tiles hold no collimation edge.
    expected, _ = collimated_frame(seed=0, surround=surround, anatomy=(4, 4))
    other, _ = collimated_frame(seed=5, surround=surround, anatomy=(4, 4))
    shown = expected.copy()
    x0, x1 = B + INNER[0] // 4, B + 3 * INNER[0] // 4
    y0, y1 = B + INNER[1] // 4, B + 3 * INNER[1] // 4
    shown[y0:y1, x0:x1] = other[y0:y1, x0:x1]  # the four central tiles; codes untouched
    reg = register_photo(photo_of(shown, view(), effects), expected, LAYOUT)
    assert reg.result.verdict == REJECTED and "4 of" in reg.result.reason, reg.result.reason


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("kind", ["next item", "stale", "half refreshed", "torn"])
def test_wrong_frames_of_flat_content_are_rejected(kind: str, case: str) -> None:
    surround, effects = CASES[case]
    expected, _ = collimated_frame(seed=0, index=7, surround=surround)
    nxt, _ = collimated_frame(seed=1, index=8, surround=surround)
    shown = {
        "next item": nxt,
        "stale": collimated_frame(seed=9, index=7, surround=surround)[0],
        "half refreshed": np.vstack([expected[: SCREEN_WH[1] // 2], nxt[SCREEN_WH[1] // 2 :]]),
        "torn": np.hstack([nxt[:, : SCREEN_WH[0] // 3], expected[:, SCREEN_WH[0] // 3 :]]),
    }[kind]
    reg = register_photo(photo_of(shown, view(), effects), expected, LAYOUT)
    assert reg.result.verdict == REJECTED, kind
