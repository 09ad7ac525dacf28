"""The compositor places images without blurring and records the placement exactly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rig.errors import InputError
from rig.imaging.compositor import compose, plan_placement


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
        plan_placement((3000, 3000), (1920, 1080))


def test_rgb_frames_are_placed_too() -> None:
    image = np.full((10, 20, 3), (10, 20, 30), np.uint8)
    canvas, p = compose(image, (64, 48))
    assert canvas.shape == (48, 64, 3)
    assert tuple(canvas[p.offset_y, p.offset_x]) == (10, 20, 30)
