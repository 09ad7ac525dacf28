"""The frame code: which session, item, attempt and frame content a photo shows.

Theory of operation. The payload is 64 bits (session 16 | index 20 | attempt 4 |
frame hash 24) followed by a CRC-16/CCITT-FALSE, 80 bits in all. Each bit is
drawn as a Manchester pair of two horizontally adjacent cells (1 = white,black;
0 = black,white), so a bit is read by comparing two neighbouring samples: no
global threshold, and glare or vignetting that lifts both cells alike does not
flip it. The cells form a ``rows x cols`` grid read row-major; the drawing and
the sampling positions live in ``calibration.fiducials``, which reads cells at
known positions after rectifying the photo with the marker homography (more
robust in blurred, moiré-laden photos than detecting a QR code).

Decoding takes soft values (white-minus-black per bit). When the CRC fails it
tries flipping up to two of the least confident bits, and copies of the code can
be combined by adding their soft values.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

SESSION_BITS, INDEX_BITS, ATTEMPT_BITS, HASH_BITS = 16, 20, 4, 24
PAYLOAD_BITS = SESSION_BITS + INDEX_BITS + ATTEMPT_BITS + HASH_BITS  # 64
CRC_BITS = 16
CODE_BITS = PAYLOAD_BITS + CRC_BITS  # 80
CELLS = 2 * CODE_BITS  # Manchester: two cells per bit
_FLIP_CANDIDATES = 6  # least-confident bits tried when the CRC fails
_MAX_FLIPS = 2  # 1 + 6 + 15 = 22 tries: a false CRC match stays ~3e-4


@dataclass(frozen=True)
class FrameCode:
    """What a screen frame shows: session, item index, attempt and a content hash."""

    session: int
    index: int
    attempt: int
    frame_hash: int

    def __post_init__(self) -> None:
        for name, bits in (
            ("session", SESSION_BITS),
            ("index", INDEX_BITS),
            ("attempt", ATTEMPT_BITS),
            ("frame_hash", HASH_BITS),
        ):
            value = getattr(self, name)
            if not 0 <= value < (1 << bits):
                raise ValueError(f"frame code field {name}={value} outside 0..{(1 << bits) - 1}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FrameCode:
        return cls(
            int(data["session"]), int(data["index"]), int(data["attempt"]), int(data["frame_hash"])
        )


@dataclass(frozen=True)
class DecodedCode:
    """A decode attempt: the code (None if the CRC never matched) and how sure we are."""

    code: FrameCode | None
    bits_flipped: int  # bits corrected to make the CRC match (0 = clean read)
    min_margin: float  # smallest |white - black| over the bits, in sample units


def frame_hash(pixels: np.ndarray) -> int:
    """24-bit content hash of the displayed image (shape, dtype and bytes)."""
    arr = np.ascontiguousarray(pixels)
    digest = hashlib.sha256(f"{arr.shape}|{arr.dtype}|".encode())
    digest.update(arr.tobytes())
    return int.from_bytes(digest.digest()[:3], "big")


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF): check value 0x29B1 for b'123456789'."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def _payload(code: FrameCode) -> int:
    value = code.session
    value = (value << INDEX_BITS) | code.index
    value = (value << ATTEMPT_BITS) | code.attempt
    return (value << HASH_BITS) | code.frame_hash


def _int_to_bits(value: int, n: int) -> np.ndarray:
    return np.array([(value >> (n - 1 - i)) & 1 for i in range(n)], dtype=np.uint8)


def _bits_to_int(bits: np.ndarray) -> int:
    value = 0
    for b in bits:
        value = (value << 1) | int(b)
    return value


def encode_bits(code: FrameCode) -> np.ndarray:
    """The 80 code bits (payload then CRC), MSB first."""
    payload = _payload(code)
    crc = crc16(payload.to_bytes(PAYLOAD_BITS // 8, "big"))
    return np.concatenate([_int_to_bits(payload, PAYLOAD_BITS), _int_to_bits(crc, CRC_BITS)])


def _check_bits(bits: np.ndarray) -> FrameCode | None:
    payload = _bits_to_int(bits[:PAYLOAD_BITS])
    if crc16(payload.to_bytes(PAYLOAD_BITS // 8, "big")) != _bits_to_int(bits[PAYLOAD_BITS:]):
        return None
    fields = []
    for bits_n in (HASH_BITS, ATTEMPT_BITS, INDEX_BITS, SESSION_BITS):
        fields.append(payload & ((1 << bits_n) - 1))
        payload >>= bits_n
    frame_h, attempt, index, session = fields
    return FrameCode(session, index, attempt, frame_h)


def code_cells(code: FrameCode, rows: int, cols: int) -> np.ndarray:
    """Cell colours (rows, cols) of 0/1 (1 = white); unused trailing cells are 0."""
    if cols % 2 or rows * cols < CELLS:
        raise ValueError(f"a {rows}x{cols} grid cannot hold {CELLS} Manchester cells (even cols)")
    bits = encode_bits(code)
    cells = np.zeros(rows * cols, dtype=np.uint8)
    cells[0:CELLS:2] = bits
    cells[1:CELLS:2] = 1 - bits
    return cells.reshape(rows, cols)


def soft_bits(samples: np.ndarray) -> np.ndarray:
    """Per-bit soft values (first cell minus second) from cell samples (rows, cols)."""
    flat = np.asarray(samples, dtype=np.float64).reshape(-1)[:CELLS]
    return flat[0::2] - flat[1::2]


def decode_soft(soft: np.ndarray) -> DecodedCode:
    """Decode 80 soft values (>0 means 1); flip up to two weak bits if the CRC fails."""
    soft = np.asarray(soft, dtype=np.float64)
    if soft.shape != (CODE_BITS,) or not np.all(np.isfinite(soft)):
        return DecodedCode(None, 0, 0.0)
    bits = (soft > 0).astype(np.uint8)
    margin = float(np.abs(soft).min())
    code = _check_bits(bits)
    if code is not None:
        return DecodedCode(code, 0, margin)
    weakest = np.argsort(np.abs(soft))[:_FLIP_CANDIDATES]
    for n_flip in range(1, _MAX_FLIPS + 1):
        for combo in itertools.combinations(weakest, n_flip):
            trial = bits.copy()
            trial[list(combo)] ^= 1
            code = _check_bits(trial)
            if code is not None:
                return DecodedCode(code, n_flip, margin)
    return DecodedCode(None, 0, margin)


def decode_cells(samples: np.ndarray) -> DecodedCode:
    """Decode a grid of cell samples (rows, cols), e.g. mean grey level per cell."""
    return decode_soft(soft_bits(samples))
