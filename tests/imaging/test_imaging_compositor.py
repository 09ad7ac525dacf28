"""The compositor places images without blurring and records the placement exactly."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rig.errors import InputError, UsageError
from rig.imaging.compositor import (
    AUTO_MAX_REDUCTION,
    DEFAULT_SCREEN_WH,
    PLACEMENTS,
    compose,
    plan_placement,
    reduce_box,
    resolve_placement,
    resolve_screen,
)


def test_one_to_one_is_pixel_exact() -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (300, 200), dtype=np.uint8)
    canvas, placement = compose(image, (640, 480), border_px=40)
    assert placement.scale == 1.0
    y, x = placement.offset_y, placement.offset_x
    assert np.array_equal(canvas[y : y + 300, x : x + 200], image)
    canvas[y : y + 300, x : x + 200] = 0
    assert not canvas.any()  # black everywhere else, border band included


@given(
    w=st.integers(8, 300),
    h=st.integers(8, 300),
    sw=st.integers(320, 1200),
    sh=st.integers(320, 900),
)
def test_integer_scaling_replicates_pixels(w: int, h: int, sw: int, sh: int) -> None:
    image = (np.arange(w * h) % 251).astype(np.uint8).reshape(h, w)
    canvas, p = compose(image, (sw, sh), mode="integer", border_px=10)
    k = int(p.scale)
    assert k == p.scale >= 1
    assert k == min((sw - 20) // w, (sh - 20) // h)
    placed = canvas[p.offset_y : p.offset_y + p.height, p.offset_x : p.offset_x + p.width]
    assert np.array_equal(placed, np.kron(image, np.ones((k, k), np.uint8)))


@given(w=st.integers(100, 3000), h=st.integers(100, 3000))
def test_fit_keeps_inside_and_uses_only_source_values(w: int, h: int) -> None:
    image = np.zeros((h, w), np.uint8)
    image[::2, ::2] = 200
    canvas, p = compose(image, (1920, 1080), mode="fit", border_px=32)
    assert p.offset_x >= 32 and p.offset_x + p.width <= 1920 - 32
    assert p.offset_y >= 32 and p.offset_y + p.height <= 1080 - 32
    assert set(np.unique(canvas)) <= {0, 200}  # nearest neighbour: no new grey levels


def test_too_large_for_one_to_one_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="does not fit 1:1"):
        plan_placement((3000, 3000), (1920, 1080), "1:1")


def test_rgb_frames_are_placed_too() -> None:
    image = np.full((10, 20, 3), (10, 20, 30), np.uint8)
    canvas, p = compose(image, (64, 48))
    assert canvas.shape == (48, 64, 3)
    assert tuple(canvas[p.offset_y, p.offset_x]) == (10, 20, 30)


def test_auto_is_one_to_one_when_the_image_fits() -> None:
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (900, 1700), dtype=np.uint8)
    canvas, p = compose(image, (1920, 1080), border_px=88)  # auto is the default
    assert (p.mode, p.scale, p.reduction) == ("1:1", 1.0, 1)
    assert np.array_equal(
        canvas[p.offset_y : p.offset_y + 900, p.offset_x : p.offset_x + 1700], image
    )


@given(
    w=st.integers(40, 3200),
    h=st.integers(40, 3200),
    sw=st.integers(320, 2560),
    sh=st.integers(240, 1600),
)
def test_auto_reduces_by_the_smallest_integer_that_fits(w: int, h: int, sw: int, sh: int) -> None:
    free = (sw - 20, sh - 20)
    p = plan_placement((w, h), (sw, sh), "auto", border_px=10)
    assert p.offset_x >= 10 and p.offset_x + p.width <= sw - 10
    assert p.offset_y >= 10 and p.offset_y + p.height <= sh - 10
    if w <= free[0] and h <= free[1]:
        assert (p.mode, p.scale, p.width, p.height) == ("1:1", 1.0, w, h)
    elif p.mode == "integer":
        k = p.reduction
        assert 2 <= k <= AUTO_MAX_REDUCTION and p.scale == 1 / k
        assert (p.width, p.height) == (-(-w // k), -(-h // k))
        # k - 1 would not fit: the reduction is the smallest that does.
        assert -(-w // (k - 1)) > free[0] or -(-h // (k - 1)) > free[1]
    else:
        assert p.mode == "fit" and p.reduction == 1
        assert -(-w // AUTO_MAX_REDUCTION) > free[0] or -(-h // AUTO_MAX_REDUCTION) > free[1]


def test_real_radiograph_sizes_on_the_default_screen() -> None:
    # The CR (1841x1955) and a 2k x 2.5k CR on 1920x1080 with the default border.
    for size, k in (((1841, 1955), 3), ((2000, 2500), 3), ((1245, 1031), 2), ((3000, 3000), 4)):
        p = plan_placement(size, (1920, 1080), "auto", border_px=88)
        assert (p.mode, p.reduction) == ("integer", k), size


@given(
    k=st.integers(2, 5),
    w=st.integers(1, 60),
    h=st.integers(1, 60),
    seed=st.integers(0, 1000),
    colour=st.booleans(),
)
def test_box_reduction_is_the_block_mean_rounded_half_up(
    k: int, w: int, h: int, seed: int, colour: bool
) -> None:
    shape = (h, w, 3) if colour else (h, w)
    image = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    reduced = reduce_box(image, k)
    assert reduced.shape[:2] == (-(-h // k), -(-w // k)) and reduced.dtype == np.uint8
    # Oracle: each block's mean in exact fractions, rounded half up.
    for y in range(reduced.shape[0]):
        for x in range(reduced.shape[1]):
            block = image[y * k : y * k + k, x * k : x * k + k].reshape(-1, *shape[2:])
            totals = np.atleast_1d(block.astype(np.int64).sum(axis=0))
            for got, total in zip(np.atleast_1d(reduced[y, x]), totals, strict=True):
                assert int(got) == int(Fraction(int(total), len(block)) + Fraction(1, 2))


def test_integer_mode_reduces_large_images_and_compose_uses_the_box_filter() -> None:
    image = np.zeros((2500, 2000), np.uint8)
    image[::2] = 255  # line pairs: a box filter averages them, nearest neighbour would alias
    canvas, p = compose(image, (1920, 1080), "integer", border_px=88)
    assert (p.mode, p.reduction, p.width, p.height) == ("integer", 3, 667, 834)
    placed = canvas[p.offset_y : p.offset_y + p.height, p.offset_x : p.offset_x + p.width]
    assert np.array_equal(placed, reduce_box(image, 3))
    assert set(np.unique(placed[:-1])) == {85, 170}  # 1/3 or 2/3 of the rows white


def test_placement_precedence_one_level_at_a_time() -> None:
    # command line > plan > rig.toml [display] > default
    assert resolve_placement("fit", "integer", "1:1") == "fit"
    assert resolve_placement(None, "integer", "1:1") == "integer"
    assert resolve_placement(None, "", "1:1") == "1:1"
    assert resolve_placement(None, None, None) == "auto" == resolve_placement()
    assert set(PLACEMENTS) == {"auto", "1:1", "integer", "fit"}


def test_screen_size_precedence_one_level_at_a_time() -> None:
    # the same order as the placement: command line > plan > rig.toml [display] > default
    assert resolve_screen((800, 600), (1280, 800), (2560, 1440)) == (800, 600)
    assert resolve_screen(None, (1280, 800), (2560, 1440)) == (1280, 800)
    assert resolve_screen(None, None, (2560, 1440)) == (2560, 1440)
    assert resolve_screen() == DEFAULT_SCREEN_WH == (1920, 1080)
    with pytest.raises(UsageError, match=r"plan: screen 1280x40 is too small"):
        resolve_screen(None, (1280, 40), (2560, 1440))


@pytest.mark.parametrize(
    ("args", "where"),
    [
        (("fitt", None, None), "--placement"),
        ((None, "x", None), "plan"),
        ((None, None, "2:1"), "rig.toml"),
    ],
)
def test_unknown_placement_names_its_level(args: tuple[str | None, ...], where: str) -> None:
    with pytest.raises(UsageError, match=where) as err:
        resolve_placement(*args)
    assert err.value.exit_code == 2
