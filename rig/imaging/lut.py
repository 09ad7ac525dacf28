"""The DICOM grayscale pipeline as pure numpy functions (PS3.3 C.11, PS3.4 N.2).

stored value -> Modality LUT (C.11.1) -> VOI LUT or window (C.11.2) ->
Presentation LUT shape / polarity (C.11.6, C.7.6.3.1.2) -> 8-bit display value.

Arithmetic policy (documented in docs/rendering.md):

* Every stage works in real (float64) arithmetic; the output is quantised once,
  at the end, by truncation toward zero. Truncation (not rounding) is what DCMTK's
  dcmimgle does, and the oracle tests prove bit-identity with ``dcm2pnm``.
* Polarity is folded into the VOI stage by swapping the output range:
  (y_min, y_max) = (0, 255) for IDENTITY, (255, 0) for INVERSE. The
  INVERSE Presentation LUT maps P to P_max - P (C.11.6.1), a linear map, so
  composing it with a linear window is the same window with swapped end points.
  This keeps one quantisation step instead of two.
* LINEAR windows are evaluated as ``offset + x * gradient`` with the offset and
  gradient formed exactly as in DCMTK's dcmimgle. That is C.11.2.1.2.1's
  formula, algebraically rearranged; the evaluation order matters because values
  that land exactly on an integer must truncate the same way.

All functions take and return numpy arrays and never look at a dataset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

OUT_MAX = 255  # 8-bit display frame


@dataclass(frozen=True)
class Lut:
    """A Modality or VOI LUT (PS3.3 C.11.1.1.1 / C.11.2.1.1).

    ``first_mapped`` is the input value mapped to ``data[0]``; inputs below it
    map to the first entry, inputs above the last mapped value to the last entry.
    ``bits`` is the output depth (descriptor's third value, corrected upwards
    when the data do not fit it).
    """

    first_mapped: int
    bits: int
    data: np.ndarray  # (n_entries,) integer

    @property
    def max_output(self) -> int:
        return (1 << self.bits) - 1


def make_lut(descriptor: list[int], data: np.ndarray, signed_input: bool) -> Lut:
    """Build a Lut from a LUT Descriptor (C.11.1.1.1) and its LUT Data.

    The descriptor's first value is the number of entries (0 means 65536); the
    second is the first stored value mapped, stored as US or SS depending on the
    sign of the input (C.11.1.1.1): we reinterpret it as signed when the input
    can be negative. The third is the number of bits per entry.
    """
    n_entries = int(descriptor[0]) or 65536
    first = int(descriptor[1])
    if signed_input and first >= 0x8000:
        first -= 0x10000
    bits = int(descriptor[2])
    values = np.asarray(data, dtype=np.int64).ravel()[:n_entries]
    if values.size == 0:
        raise ValueError("LUT Data is empty")
    # Some writers declare 16 bits for 12-bit data or vice versa; trust the data
    # when it does not fit the declared depth (DICOM allows only 8..16 bits).
    needed = int(values.max()).bit_length()
    bits = max(bits if 1 <= bits <= 16 else 16, needed, 1)
    return Lut(first, bits, values)


def apply_lut(values: np.ndarray, lut: Lut) -> np.ndarray:
    """Map ``values`` through ``lut`` with clamping at both ends (C.11.1.1.1)."""
    index = np.clip(np.floor(values).astype(np.int64) - lut.first_mapped, 0, lut.data.size - 1)
    return lut.data[index]


def apply_rescale(stored: np.ndarray, slope: float, intercept: float) -> np.ndarray:
    """Modality values from Rescale Slope/Intercept (C.11.1.1.2): m = slope*x + b,
    held as integers truncated toward zero.

    C.11.1 defines real outputs, but DCMTK's dcmimgle keeps the Modality LUT output
    in an integer buffer (its type chosen from the output range) filled by a C cast
    of ``slope*x + b``, i.e. truncation toward zero, before the VOI window. The
    display frame must be what the oracle shows, so rig does the same; integer
    slopes and intercepts are unaffected, fractional ones (e.g. an MR slope of
    3.774114) move some pixels by one level, and tiny slopes (PET) posterise
    exactly as in DCMTK (docs/rendering.md).
    """
    x = stored.astype(np.float64)
    if slope == 1.0 and intercept == 0.0:
        return x
    if slope == 1.0:
        return np.trunc(x + intercept)
    return np.trunc(x * slope + intercept)


def window_linear(
    x: np.ndarray, center: float, width: float, y_min: float, y_max: float
) -> np.ndarray:
    """VOI LUT Function LINEAR (C.11.2.1.2.1); ``width`` >= 1.

    x <= c - 0.5 - (w-1)/2  -> y_min
    x >  c - 0.5 + (w-1)/2  -> y_max
    else y = ((x - (c - 0.5)) / (w-1) + 0.5) * (y_max - y_min) + y_min
    """
    if width < 1:
        raise ValueError(f"LINEAR window width must be >= 1, got {width}")
    x = np.asarray(x, dtype=np.float64)
    width_1 = width - 1.0
    left = center - 0.5 - width_1 / 2
    right = center - 0.5 + width_1 / 2
    out_range = y_max - y_min
    if width_1 == 0:
        gradient, offset = 0.0, 0.0
    else:
        # y_min + ((x - (c-0.5))/(w-1) + 0.5) * range, rearranged as offset + x*gradient.
        offset = y_max - ((center - 0.5) / width_1 + 0.5) * out_range
        gradient = out_range / width_1
    y = offset + x * gradient
    return np.where(x <= left, y_min, np.where(x > right, y_max, y))


def window_linear_exact(
    x: np.ndarray, center: float, width: float, y_min: float, y_max: float
) -> np.ndarray:
    """VOI LUT Function LINEAR_EXACT (C.11.2.1.3.2); ``width`` > 0.

    x <= c - w/2 -> y_min;  x > c + w/2 -> y_max;
    else y = ((x - c) / w + 0.5) * (y_max - y_min) + y_min
    """
    if width <= 0:
        raise ValueError(f"LINEAR_EXACT window width must be > 0, got {width}")
    x = np.asarray(x, dtype=np.float64)
    y = ((x - center) / width + 0.5) * (y_max - y_min) + y_min
    return np.where(x <= center - width / 2, y_min, np.where(x > center + width / 2, y_max, y))


def window_sigmoid(
    x: np.ndarray, center: float, width: float, y_min: float, y_max: float
) -> np.ndarray:
    """VOI LUT Function SIGMOID (C.11.2.1.3.1); ``width`` > 0.

    y = (y_max - y_min) / (1 + exp(-4 (x - c) / w)) + y_min

    exp is evaluated with the C library (``math.exp``) on the distinct input
    values: numpy's vectorised exp may differ from libm in the last bit, which
    can flip a truncation and break bit-identity with DCMTK.
    """
    if width <= 0:
        raise ValueError(f"SIGMOID window width must be > 0, got {width}")
    x = np.asarray(x, dtype=np.float64)
    uniques, inverse = np.unique(x, return_inverse=True)
    out_range = y_max - y_min
    mapped = np.fromiter(
        (out_range / (1 + math.exp(-4 * (v - center) / width)) + y_min for v in uniques.tolist()),
        dtype=np.float64,
        count=uniques.size,
    )
    return mapped[inverse].reshape(x.shape)


VOI_FUNCTIONS = {
    "LINEAR": window_linear,
    "LINEAR_EXACT": window_linear_exact,
    "SIGMOID": window_sigmoid,
}


def apply_window(
    x: np.ndarray, center: float, width: float, function: str, inverse: bool
) -> np.ndarray:
    """Window modality values to the 8-bit display frame (uint8).

    ``inverse`` applies the INVERSE presentation shape by swapping the output
    range (see the module docstring). Unknown functions fall back to LINEAR, as
    C.11.2.1.3 makes LINEAR the default.
    """
    y_min, y_max = (float(OUT_MAX), 0.0) if inverse else (0.0, float(OUT_MAX))
    func = VOI_FUNCTIONS.get(function, window_linear)
    return quantize(func(x, center, width, y_min, y_max))


def apply_voi_lut(x: np.ndarray, lut: Lut, inverse: bool) -> np.ndarray:
    """Map modality values through a VOI LUT (C.11.2.1.1) to the 8-bit frame.

    The LUT's output range [0, 2^bits) is split into 256 equal bins (for 8- to
    16-bit LUTs this is a right shift by bits-8), so every display level covers
    the same number of LUT codes; INVERSE mirrors the bins.
    """
    v = apply_lut(x, lut)
    level = (v.astype(np.int64) * (OUT_MAX + 1)) >> lut.bits
    level = np.clip(level, 0, OUT_MAX)
    return (OUT_MAX - level if inverse else level).astype(np.uint8)


def minmax_window(x: np.ndarray, exclude: np.ndarray | None = None) -> tuple[float, float]:
    """A LINEAR window spanning exactly [min, max] of ``x`` (minus excluded pixels).

    With C.11.2.1.2.1's LINEAR function, min maps to y_min and max to y_max when
    w - 1 = max - min and c - 0.5 = (min + max) / 2, i.e. c = (min + max + 1) / 2,
    w = max - min + 1 (the same choice as DCMTK's ``+Wm``). In float arithmetic
    the maximum can land one ulp below y_max and truncate to 254, exactly as in
    DCMTK. ``exclude`` is a boolean mask of padding pixels; if it excludes
    everything it is ignored.
    """
    values = x
    if exclude is not None and exclude.any() and not exclude.all():
        values = x[~exclude]
    lo, hi = float(np.min(values)), float(np.max(values))
    return (lo + hi + 1) / 2, hi - lo + 1


def quantize(y: np.ndarray) -> np.ndarray:
    """Continuous display values to uint8 by truncation toward zero (clamped)."""
    return np.clip(np.trunc(y), 0, OUT_MAX).astype(np.uint8)
