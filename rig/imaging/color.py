"""Colour photometric interpretations to 8-bit RGB (PS3.3 C.7.6.3.1.2).

* RGB: samples as stored; deeper than 8 bits is reduced by a right shift of
  (Bits Stored - 8), i.e. 2^(bits-8) codes per display level.
* YBR_FULL / YBR_FULL_422 (chroma already up-sampled by the decoder): the
  full-range ITU-R BT.601 equations of C.7.6.3.1.2, evaluated in float64 and
  truncated toward zero after clamping, like DCMTK's dcmimage.
* YBR_PARTIAL_422/420: the partial-range (studio swing) equations.
* YBR_ICT / YBR_RCT: only legal with JPEG 2000, whose decoder already applies
  the inverse component transform, so the decoded samples are RGB.
* PALETTE COLOR: Red/Green/Blue Palette Color LUTs (C.7.6.3.1.5/.6), normal or
  segmented (C.7.9.2); 16-bit entries are shifted right by 8.
"""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_color_lut

OUT_MAX = 255


def to_rgb8(
    pixels: np.ndarray, photometric: str, stored_photometric: str, ds: Dataset, bits_stored: int
) -> np.ndarray:
    """Decoded colour samples (H, W, 3) or palette indices (H, W) -> uint8 (H, W, 3).

    ``photometric`` is what the decoder returned (a JPEG codec may already have
    converted to RGB); ``stored_photometric`` is the dataset's value.
    """
    if photometric == "PALETTE COLOR":
        return palette_to_rgb8(pixels, ds)
    if photometric in ("YBR_FULL", "YBR_FULL_422"):
        per_term = stored_photometric == "YBR_FULL"  # DCMTK's 4:2:2 path sums first
        return ybr_full_to_rgb8(pixels, bits_stored, per_term)
    if photometric in ("YBR_PARTIAL_422", "YBR_PARTIAL_420"):
        return ybr_partial_to_rgb8(pixels, bits_stored)
    # RGB, YBR_ICT, YBR_RCT (already inverse-transformed by the J2K decoder).
    return reduce_to_8bit(pixels, bits_stored)


def reduce_to_8bit(samples: np.ndarray, bits: int) -> np.ndarray:
    """Keep the top 8 of ``bits`` significant bits (mask away anything above)."""
    values = samples.astype(np.int64) & ((1 << bits) - 1)
    if bits > 8:
        values >>= bits - 8
    elif bits < 8:
        values = values * OUT_MAX // ((1 << bits) - 1)
    return values.astype(np.uint8)


def ybr_full_to_rgb8(ybr: np.ndarray, bits: int, per_term: bool = True) -> np.ndarray:
    """YBR_FULL (C.7.6.3.1.2) to RGB with DCMTK's arithmetic (dcmimage).

    R = Y + 1.4020 Cr - 0.7010 M,  G = Y - 0.3441 Cb - 0.7141 Cr + 0.5291 M,
    B = Y + 1.7720 Cb - 0.8859 M, where M = 2^bits - 1 (so the chroma offset
    is M/2). For 8-bit YBR_FULL (``per_term``) each chroma term is truncated on
    its own (DCMTK's integer tables); otherwise (other depths, YBR_FULL_422) the
    sum is truncated. Differs from the exact
    BT.601 inverse by at most one level; kept for bit-identity with DCMTK.
    """
    maxval = float((1 << bits) - 1)
    y, cb, cr = (ybr[..., i].astype(np.float64) for i in range(3))
    if bits == 8 and per_term:
        r = y + np.trunc(1.4020 * cr - 0.7010 * maxval)
        g = y - np.trunc(0.3441 * cb) - np.trunc(0.7141 * cr - 0.5291 * maxval)
        b = y + np.trunc(1.7720 * cb - 0.8859 * maxval)
    else:
        r = y + 1.4020 * cr - 0.7010 * maxval
        g = y - 0.3441 * cb - 0.7141 * cr + 0.5291 * maxval
        b = y + 1.7720 * cb - 0.8859 * maxval
    rgb = np.trunc(np.clip(np.stack([r, g, b], axis=-1), 0, maxval))
    return reduce_to_8bit(rgb.astype(np.int64), bits)


def ybr_partial_to_rgb8(ybr: np.ndarray, bits: int) -> np.ndarray:
    """C.7.6.3.1.2 YBR_PARTIAL: Y in [16, 235], Cb/Cr in [16, 240] (8-bit scale)."""
    scale = float(1 << (bits - 8)) if bits >= 8 else 1.0
    y, cb, cr = (ybr[..., i].astype(np.float64) / scale for i in range(3))
    y, cb, cr = 1.1644 * (y - 16), cb - 128, cr - 128
    rgb = np.stack([y + 1.5960 * cr, y - 0.3917 * cb - 0.8129 * cr, y + 2.0172 * cb], axis=-1)
    return np.clip(np.trunc(rgb), 0, OUT_MAX).astype(np.uint8)


def palette_to_rgb8(indices: np.ndarray, ds: Dataset) -> np.ndarray:
    """Look up PALETTE COLOR indices; pydicom expands normal and segmented LUTs."""
    rgb = np.asarray(apply_color_lut(indices, ds))
    bits = int(ds.RedPaletteColorLookupTableDescriptor[2])
    if rgb.dtype.itemsize > 1 or bits > 8:
        return (rgb.astype(np.int64) >> 8).astype(np.uint8)
    return rgb.astype(np.uint8)
