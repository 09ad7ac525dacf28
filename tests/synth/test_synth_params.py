"""Drawn parameters stay within the published CheXphoto ranges at every level.

The expected ranges are written out here from the published parameter table
(docs/synth.md), not taken from rig.synth's constants.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageEnhance

from rig.synth import TRANSFORMS, apply_transform

SEEDS = st.integers(min_value=0, max_value=2**63 - 1)
LEVEL = st.sampled_from([1, 2, 3, 4])
FAST = settings(max_examples=25, deadline=None)


def _k(level: int) -> float:
    return 0.5 if level == 1 else float(level)


def _up_range(level: int) -> tuple[float, float]:
    return 1 + 0.2 * _k(level) - 0.01, 1 + 0.2 * _k(level) + 0.01


def _down_range(level: int) -> tuple[float, float]:
    return 1 / (1 + 0.4 * _k(level) + 0.01), 1 / (1 + 0.4 * _k(level) - 0.01)


def _image(h: int = 48, w: int = 40) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return ((xx * 5 + yy * 3) % 256).astype(np.uint8)


@pytest.mark.parametrize(
    "name", ["brightness_up", "contrast_up", "brightness_down", "contrast_down"]
)
@FAST
@given(seed=SEEDS, level=LEVEL)
def test_enhance_factor_in_range_and_applied(name: str, seed: int, level: int) -> None:
    img = _image()
    out, params = apply_transform(img, name, level, np.random.default_rng(seed))
    lo, hi = _up_range(level) if name.endswith("_up") else _down_range(level)
    assert lo <= params["factor"] <= hi
    enhancer = ImageEnhance.Brightness if name.startswith("brightness") else ImageEnhance.Contrast
    expected = np.asarray(enhancer(Image.fromarray(img)).enhance(params["factor"]))
    np.testing.assert_array_equal(out, expected)


@FAST
@given(seed=SEEDS, level=LEVEL)
def test_random_digital_draws(seed: int, level: int) -> None:
    _, p = apply_transform(_image(), "random-digital", level, np.random.default_rng(seed))
    for kind in ("contrast", "brightness"):
        lo, hi = _up_range(level) if p[kind] == "up" else _down_range(level)
        assert p[kind] in ("up", "down")
        assert lo <= p[f"{kind}_factor"] <= hi


def test_random_digital_reaches_all_four_combinations() -> None:
    seen = set()
    for seed in range(64):
        _, p = apply_transform(_image(), "random-digital", 2, np.random.default_rng(seed))
        seen.add((p["contrast"], p["brightness"]))
    assert seen == {("up", "up"), ("up", "down"), ("down", "up"), ("down", "down")}


@pytest.mark.parametrize(
    ("level", "radius", "kernel"), [(1, 1.5, 2), (2, 3.0, 10), (3, 6.0, 25), (4, 10.0, 45)]
)
def test_blur_and_motion_tables(level: int, radius: float, kernel: int) -> None:
    rng = np.random.default_rng(0)
    _, p = apply_transform(_image(), "blur", level, rng)
    assert p["radius_px"] == pytest.approx(radius)
    _, p = apply_transform(_image(), "motion", level, rng)
    assert p["kernel_px"] == kernel
    _, p = apply_transform(_image(), "blur", level, rng, scale=0.5)
    assert p["radius_px"] == pytest.approx(radius * 0.5)


def test_exposure_matches_scikit_image_at_every_level() -> None:
    from skimage.exposure import adjust_sigmoid

    ramp = np.tile(np.arange(256, dtype=np.uint8), (4, 1))
    expected = adjust_sigmoid(ramp, cutoff=0.5, gain=5)
    for level in (1, 2, 3, 4):
        out, _ = apply_transform(ramp, "exposure", level, np.random.default_rng(level))
        np.testing.assert_array_equal(out, expected)


@FAST
@given(seed=SEEDS, level=LEVEL)
def test_glare_matte_draws_and_peak(seed: int, level: int) -> None:
    black = np.zeros((64, 80), np.uint8)
    out, p = apply_transform(black, "glare_matte", level, np.random.default_rng(seed), scale=0.2)
    assert 0 <= p["center_x_px"] < 80 and 0 <= p["center_y_px"] < 64
    assert p["sigma_px"] == pytest.approx(50 * level * 0.2)
    # White over black: the output is the alpha itself; its peak is min(100·L, 150 + 20·L).
    assert abs(int(out.max()) - min(100 * level, 150 + 20 * level)) <= 1
    # The brightest value (a plateau where capped) sits at the pixel nearest the centre.
    near_x = min(round(p["center_x_px"]), 79)
    near_y = min(round(p["center_y_px"]), 63)
    assert int(out[near_y, near_x]) >= int(out.max()) - 1


_THIRD = {"left": 0, "top": 0, "center": 1, "right": 2, "bottom": 2}


@FAST
@given(seed=SEEDS, level=LEVEL)
def test_glare_glossy_box(seed: int, level: int) -> None:
    h, w = 90, 120
    out, p = apply_transform(
        np.zeros((h, w), np.uint8), "glare_glossy", level, np.random.default_rng(seed)
    )
    assert 150 + 20 * level <= p["alpha"] <= 170 + 20 * level
    for frac in (p["box_w_frac"], p["box_h_frac"]):
        assert 0.1 * level <= frac <= 0.1 * level + 0.05
    assert 1 <= p["location"] <= 9
    lit = out > 0
    cols, rows = np.nonzero(lit.any(axis=0))[0], np.nonzero(lit.any(axis=1))[0]
    assert abs(len(cols) - p["box_w_frac"] * w) <= 1.5
    assert abs(len(rows) - p["box_h_frac"] * h) <= 1.5
    assert abs(int(out.max()) - int(p["alpha"])) <= 1
    # The box lies in the third of the frame that the location names.
    words = p["location_name"].split("_")
    vert = next((_THIRD[x] for x in words if x in ("top", "bottom")), 1)
    horiz = next((_THIRD[x] for x in words if x in ("left", "right")), 1)
    cy, cx = rows.mean() / h, cols.mean() / w
    assert int(cy * 3) == vert or (vert == 1 and 0.25 <= cy <= 0.75)
    assert int(cx * 3) == horiz or (horiz == 1 and 0.25 <= cx <= 0.75)


@FAST
@given(seed=SEEDS, level=LEVEL)
def test_moire_draws(seed: int, level: int) -> None:
    white = np.full((40, 48), 255, np.uint8)
    out, p = apply_transform(white, "moire", level, np.random.default_rng(seed), scale=0.5)
    assert p["gap_px"] == pytest.approx({1: 20, 2: 4.5, 3: 2.5, 4: 1}[level] * 0.5)
    assert p["opacity"] == {1: 0.05, 2: 0.15, 3: 0.35, 4: 0.5}[level]
    assert p["angles_deg"][0] == 90.0
    assert abs(p["angles_deg"][1] - 90.0) < 6.0  # N(0, 1°): 6σ
    offsets = np.asarray(p["offsets_px"])
    assert offsets.shape == (2, 2) and (offsets >= 0).all() and (offsets < 50).all()
    # Two black layers of alpha int(opacity·255) can darken white at most this far.
    a = int(p["opacity"] * 255) / 255
    assert out.min() >= math.floor(255 * (1 - a) ** 2) - 3
    assert out.max() <= 255


@FAST
@given(seed=SEEDS, level=LEVEL)
def test_tilt_corners(seed: int, level: int) -> None:
    _, p = apply_transform(_image(), "tilt", level, np.random.default_rng(seed))
    inset = np.asarray(p["inset_frac"])
    assert inset.shape == (4, 2)
    assert (inset >= 0).all() and (inset <= 0.05 * level).all()


@FAST
@given(seed=SEEDS, level=LEVEL)
def test_rotation_angle_and_canvas(seed: int, level: int) -> None:
    h, w = 48, 40
    out, p = apply_transform(_image(h, w), "rotation", level, np.random.default_rng(seed))
    assert abs(p["angle_deg"]) == 5 * level
    rad = math.radians(5 * level)
    assert out.shape == (
        int(h * math.cos(rad) + w * math.sin(rad)),
        int(h * math.sin(rad) + w * math.cos(rad)),
    )


@FAST
@given(seed=SEEDS, level=LEVEL)
def test_translation_shift(seed: int, level: int) -> None:
    _, p = apply_transform(_image(80, 90), "translation", level, np.random.default_rng(seed), 0.1)
    assert abs(p["dx_px"]) == pytest.approx(20 * level * 0.1)
    assert abs(p["dy_px"]) == pytest.approx(20 * level * 0.1)
    assert p["buffer_px"] == pytest.approx(10.0)


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
@pytest.mark.parametrize("channels", [1, 3])
def test_mode_is_kept(name: str, channels: int) -> None:
    img = _image(64, 56)
    if channels == 3:
        img = np.dstack([img, img // 2, 255 - img])
    out, params = apply_transform(img, name, 2, np.random.default_rng(1), scale=0.2)
    assert out.dtype == np.uint8 and out.ndim == img.ndim
    assert params["H"].shape == (3, 3)


def test_rejects_16_bit_arrays() -> None:
    from rig.errors import InputError

    with pytest.raises(InputError, match="8-bit"):
        apply_transform(np.zeros((8, 8), np.uint16), "blur", 1, np.random.default_rng(0))


def test_same_generator_state_same_result() -> None:
    img = _image(64, 64)
    for name in sorted(TRANSFORMS):
        a, pa = apply_transform(img, name, 3, np.random.default_rng(7), 0.2)
        b, pb = apply_transform(img, name, 3, np.random.default_rng(7), 0.2)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(pa["H"], pb["H"])
