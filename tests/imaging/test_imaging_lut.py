"""The pure pipeline functions against the standard's formulas, evaluated by hand.

The hand versions use exact rational arithmetic (fractions) straight from the
text of PS3.3 C.11.2.1.2.1 / C.11.2.1.3.1 / C.11.2.1.3.2 and C.11.1, so they
share no code or evaluation order with rig.imaging.lut. Float evaluation may
differ from the exact value by an ulp, which can only change the truncated
result where the exact value is an integer; there we accept the integer or one
below it.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rig.imaging.lut import (
    apply_lut,
    apply_voi_lut,
    apply_window,
    make_lut,
    minmax_window,
    window_linear,
)


def hand_linear(x: Fraction, c: Fraction, w: Fraction) -> Fraction:
    """C.11.2.1.2.1 with y_min = 0, y_max = 255."""
    if x <= c - Fraction(1, 2) - (w - 1) / 2:
        return Fraction(0)
    if x > c - Fraction(1, 2) + (w - 1) / 2:
        return Fraction(255)
    return ((x - (c - Fraction(1, 2))) / (w - 1) + Fraction(1, 2)) * 255


def hand_linear_exact(x: Fraction, c: Fraction, w: Fraction) -> Fraction:
    """C.11.2.1.3.2 with y_min = 0, y_max = 255."""
    if x <= c - w / 2:
        return Fraction(0)
    if x > c + w / 2:
        return Fraction(255)
    return ((x - c) / w + Fraction(1, 2)) * 255


def assert_truncates(got: int, exact: Fraction, inverse: bool = False) -> None:
    value = 255 - exact if inverse else exact
    floor = math.floor(value)
    if value == floor:  # exactly an integer: float may land one ulp below
        assert got in (floor, floor - 1), (got, value)
    else:
        assert got == floor, (got, float(value))


windows = st.tuples(
    st.fractions(min_value=-3000, max_value=3000, max_denominator=8),
    st.fractions(min_value=1, max_value=5000, max_denominator=8),
)


@settings(max_examples=150, deadline=None)
@given(windows, st.booleans())
def test_linear_matches_standard(window: tuple[Fraction, Fraction], inverse: bool) -> None:
    c, w = window
    xs = np.arange(int(c - w) - 3, int(c + w) + 4, max(1, int(w) // 200), dtype=np.float64)
    got = apply_window(xs, float(c), float(w), "LINEAR", inverse)
    for x, y in zip(xs.tolist(), got.tolist(), strict=True):
        assert_truncates(y, hand_linear(Fraction(x), c, w), inverse)


@settings(max_examples=150, deadline=None)
@given(windows, st.booleans())
def test_linear_exact_matches_standard(window: tuple[Fraction, Fraction], inverse: bool) -> None:
    c, w = window
    xs = np.arange(int(c - w) - 3, int(c + w) + 4, max(1, int(w) // 200), dtype=np.float64)
    got = apply_window(xs, float(c), float(w), "LINEAR_EXACT", inverse)
    for x, y in zip(xs.tolist(), got.tolist(), strict=True):
        assert_truncates(y, hand_linear_exact(Fraction(x), c, w), inverse)


@settings(max_examples=100, deadline=None)
@given(windows, st.booleans())
def test_sigmoid_matches_standard(window: tuple[Fraction, Fraction], inverse: bool) -> None:
    c, w = float(window[0]), float(window[1])
    xs = np.linspace(c - 2 * w, c + 2 * w, 101)
    got = apply_window(xs, c, w, "SIGMOID", inverse)
    for x, y in zip(xs.tolist(), got.tolist(), strict=True):
        exact = 255 / (1 + math.exp(-4 * (x - c) / w))  # C.11.2.1.3.1
        value = 255 - exact if inverse else exact
        assert abs(y - math.floor(value)) <= (1 if abs(value - round(value)) < 1e-9 else 0)


@settings(max_examples=100, deadline=None)
@given(windows)
def test_linear_is_monotonic_and_spans_output(window: tuple[Fraction, Fraction]) -> None:
    c, w = float(window[0]), float(window[1])
    xs = np.linspace(c - w, c + w, 257)
    y = apply_window(xs, c, w, "LINEAR", False).astype(int)
    assert (np.diff(y) >= 0).all()
    assert y[0] == 0 and y[-1] == 255
    # The continuous values stay within an ulp of [y_min, y_max].
    raw = window_linear(xs, c, w, 0.0, 255.0)
    assert raw.min() >= -1e-9 and raw.max() <= 255 + 1e-9


def test_width_one_is_a_threshold() -> None:
    # C.11.2.1.2.1 with w = 1: x <= c - 0.5 -> y_min, else y_max.
    got = apply_window(np.array([9.0, 9.5, 9.6, 10.0, 11.0]), 10.0, 1.0, "LINEAR", False)
    assert got.tolist() == [0, 0, 255, 255, 255]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-5000, 5000), min_size=2, max_size=50))
def test_minmax_window_maps_min_to_black_and_max_to_white(values: list[int]) -> None:
    x = np.array(values, dtype=np.float64)
    c, w = minmax_window(x)
    y = apply_window(x, c, w, "LINEAR", False)
    if x.max() > x.min():
        # Exactly 0 and 255 by the formula; the float evaluation (shared with
        # DCMTK's +Wm) may land one ulp below 255 and truncate to 254.
        assert y[x == x.min()].max() == 0 and y[x == x.max()].min() >= 254
    assert w == x.max() - x.min() + 1


def test_minmax_window_excludes_padding_unless_all_padding() -> None:
    x = np.array([-2000.0, -2000.0, 10.0, 20.0])
    pad = x == -2000
    assert minmax_window(x, pad) == (15.5, 11.0)
    assert minmax_window(x, np.ones(4, dtype=bool)) == minmax_window(x)


def test_lut_clamps_below_and_above_the_mapped_range() -> None:
    # C.11.1.1.1: values below the first mapped value take the first entry,
    # above the last mapped value the last entry.
    lut = make_lut([3, 10, 8], np.array([5, 6, 7]), signed_input=False)
    got = apply_lut(np.array([0, 9, 10, 11, 12, 13, 400]), lut)
    assert got.tolist() == [5, 5, 5, 6, 7, 7, 7]


def test_lut_descriptor_signed_first_value_and_65536_entries() -> None:
    lut = make_lut([0, 0xFC18, 16], np.arange(65536), signed_input=True)
    assert lut.first_mapped == -1000 and lut.data.size == 65536
    assert apply_lut(np.array([-1000, -999]), lut).tolist() == [0, 1]


def test_lut_bits_widened_when_data_do_not_fit() -> None:
    lut = make_lut([4, 0, 8], np.array([0, 100, 1000, 4095]), signed_input=False)
    assert lut.bits == 12


@pytest.mark.parametrize("bits", [8, 10, 12, 16])
def test_voi_lut_output_uses_equal_bins(bits: int) -> None:
    top = (1 << bits) - 1
    lut = make_lut([top + 1, 0, bits], np.arange(top + 1), signed_input=False)
    x = np.arange(top + 1, dtype=np.float64)
    normal = apply_voi_lut(x, lut, inverse=False).astype(int)
    inverse = apply_voi_lut(x, lut, inverse=True).astype(int)
    expected = [v * 256 // (1 << bits) for v in range(top + 1)]
    assert normal.tolist() == expected
    assert (inverse == 255 - normal).all()
    assert normal[0] == 0 and normal[-1] == 255
