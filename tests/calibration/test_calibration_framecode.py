"""Frame code: bit layout, CRC, and round trips through the drawn border."""

from __future__ import annotations

import numpy as np
import pytest
from calibration_helpers import LAYOUT, SCREEN_WH
from hypothesis import given, settings
from hypothesis import strategies as st

from calibration.fiducials import code_cell_centres, code_origins, draw_border
from calibration.framecode import (
    CODE_BITS,
    FrameCode,
    code_cells,
    crc16,
    decode_cells,
    decode_soft,
    encode_bits,
)

codes = st.builds(
    FrameCode,
    session=st.integers(0, 2**16 - 1),
    index=st.integers(0, 2**20 - 1),
    attempt=st.integers(0, 15),
    frame_hash=st.integers(0, 2**24 - 1),
)


def test_crc16_check_value() -> None:
    # The catalogued check value of CRC-16/CCITT-FALSE.
    assert crc16(b"123456789") == 0x29B1


@pytest.mark.parametrize(
    "field,value", [("session", 2**16), ("index", -1), ("attempt", 16), ("frame_hash", 2**24)]
)
def test_out_of_range_fields_are_refused(field: str, value: int) -> None:
    fields = {"session": 0, "index": 0, "attempt": 0, "frame_hash": 0, field: value}
    with pytest.raises(ValueError, match=field):
        FrameCode(**fields)


@given(codes)
def test_cells_are_manchester_pairs(code: FrameCode) -> None:
    cells = code_cells(code, 5, 32).reshape(-1)[: 2 * CODE_BITS]
    assert np.all(cells[0::2] + cells[1::2] == 1)  # every pair has one white, one black
    assert np.array_equal(cells[0::2], encode_bits(code))


@settings(max_examples=30, deadline=None)
@given(codes)
def test_round_trip_through_the_drawn_border(code: FrameCode) -> None:
    canvas = np.full((SCREEN_WH[1], SCREEN_WH[0]), 128, np.uint8)
    screen = draw_border(canvas, LAYOUT, code)
    for origin in code_origins(LAYOUT, SCREEN_WH):
        centres = np.rint(code_cell_centres(LAYOUT, origin)).astype(int)
        samples = screen[centres[..., 1], centres[..., 0]].astype(float)
        assert decode_cells(samples).code == code


@given(codes, st.lists(st.integers(0, CODE_BITS - 1), min_size=1, max_size=2, unique=True))
def test_two_weak_wrong_bits_are_corrected(code: FrameCode, wrong: list[int]) -> None:
    soft = np.where(encode_bits(code) == 1, 100.0, -100.0)
    soft[wrong] = -0.1 * np.sign(soft[wrong])  # flipped, but barely
    decoded = decode_soft(soft)
    assert decoded.code == code
    assert decoded.bits_flipped == len(wrong)


@given(codes, st.integers(0, CODE_BITS - 1))
def test_one_wrong_bit_never_yields_another_code(code: FrameCode, bit: int) -> None:
    # CRC-16/CCITT has Hamming distance 4 at this length: one error plus at most two
    # trial flips cannot reach another valid codeword.
    soft = np.where(encode_bits(code) == 1, 100.0, -100.0)
    soft[bit] *= -1
    assert decode_soft(soft).code in (code, None)


def test_unreadable_samples_decode_to_none() -> None:
    assert decode_soft(np.full(CODE_BITS, np.nan)).code is None
    assert decode_soft(np.zeros(CODE_BITS - 1)).code is None
