"""Reading DICOM files and decoding one frame with a pinned decoder.

Why pin decoders: lossy JPEG (PS3.5 A.4.1/A.4.2) leaves the inverse DCT's
rounding to the implementation, so two conformant decoders can differ by a few
grey levels. The display frame is our ground truth, so every transfer syntax
maps to exactly one pydicom decoding plugin (``DECODERS``), chosen because its
output matches DCMTK (``dcmj2pnm``/``dcml2pnm``) bit for bit on the reference
files (tests/imaging/test_imaging_dcmtk.py). The plugin used is recorded in the
rendered frame's facts.

Only the selected frame is decoded (the decoder API's ``index``), so a long
multi-frame series costs one frame's worth of work.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.pixels.decoders.base import get_decoder
from pydicom.uid import UID

from rig.errors import InputError

# Transfer syntax UID -> pydicom plugin name ('' = pydicom's native decoder).
# JPEG baseline/extended: pillow (libjpeg-turbo, ISLOW IDCT) reproduces DCMTK's
# IJG decoder exactly; pylibjpeg-libjpeg differs by up to a few levels.
DECODERS: dict[str, str] = {
    "1.2.840.10008.1.2": "",  # Implicit VR Little Endian
    "1.2.840.10008.1.2.1": "",  # Explicit VR Little Endian
    "1.2.840.10008.1.2.1.99": "",  # Deflated Explicit VR Little Endian
    "1.2.840.10008.1.2.2": "",  # Explicit VR Big Endian (retired)
    "1.2.840.10008.1.2.5": "pylibjpeg",  # RLE Lossless (pylibjpeg-rle)
    "1.2.840.10008.1.2.4.50": "pillow",  # JPEG Baseline (Process 1)
    "1.2.840.10008.1.2.4.51": "pillow",  # JPEG Extended (Process 2 & 4)
    "1.2.840.10008.1.2.4.57": "pylibjpeg",  # JPEG Lossless (Process 14)
    "1.2.840.10008.1.2.4.70": "pylibjpeg",  # JPEG Lossless SV1
    "1.2.840.10008.1.2.4.80": "pylibjpeg",  # JPEG-LS Lossless
    "1.2.840.10008.1.2.4.81": "pylibjpeg",  # JPEG-LS Near-Lossless
    "1.2.840.10008.1.2.4.90": "pylibjpeg",  # JPEG 2000 Lossless (openjpeg)
    "1.2.840.10008.1.2.4.91": "pylibjpeg",  # JPEG 2000
    "1.2.840.10008.1.2.4.201": "pylibjpeg",  # HTJ2K Lossless
    "1.2.840.10008.1.2.4.202": "pylibjpeg",  # HTJ2K Lossless RPCL
    "1.2.840.10008.1.2.4.203": "pylibjpeg",  # HTJ2K
}

_JPEG_LOSSY = ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51")
_RLE = "1.2.840.10008.1.2.5"
_J2K_PREFIX = ("1.2.840.10008.1.2.4.9", "1.2.840.10008.1.2.4.20")


@dataclass(frozen=True)
class DecodedFrame:
    """One frame as stored: (rows, cols) or (rows, cols, samples), before any LUT."""

    pixels: np.ndarray
    photometric: str  # after decoding (a JPEG codec may already have converted YBR to RGB)
    decoder: str
    transfer_syntax: str


def read_dataset(path: Path) -> Dataset:
    """Parse a DICOM file (with or without the 128-byte preamble) or raise InputError."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
    except OSError as exc:
        raise InputError(f"{path.name}: cannot read ({exc.strerror})") from exc
    force = head[128:132] != b"DICM"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, force=force)
    except Exception as exc:
        raise InputError(f"{path.name}: not a readable DICOM file ({_short(exc)})") from exc
    if force and len(ds) == 0:
        raise InputError(f"{path.name}: not a DICOM file")
    return ds


def transfer_syntax_of(ds: Dataset) -> str:
    """The dataset's transfer syntax; a file without meta is assumed as parsed."""
    meta = getattr(ds, "file_meta", None)
    uid = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
    if uid:
        return str(uid)
    # No meta: pydicom parsed it with the syntax it detected.
    little = getattr(ds, "is_little_endian", None)
    implicit = getattr(ds, "is_implicit_VR", None)
    if little is False:
        return "1.2.840.10008.1.2.2"
    return "1.2.840.10008.1.2" if implicit else "1.2.840.10008.1.2.1"


def count_frames(ds: Dataset) -> int:
    """Number of frames (PS3.3 C.7.6.6: Number of Frames, absent means one)."""
    value = ds.get("NumberOfFrames", None)
    try:
        n = int(value) if value not in (None, "") else 1
    except (TypeError, ValueError):
        n = 1
    return max(n, 1)


def plugin_for(transfer_syntax: str, bits_stored: int) -> str | None:
    """The pinned pydicom plugin ('' = native) or None when nothing can decode it."""
    plugin = DECODERS.get(transfer_syntax)
    # Pillow cannot decode 12-bit JPEG (Extended, Process 4): pylibjpeg does.
    if plugin == "pillow" and bits_stored > 8:
        return "pylibjpeg"
    return plugin


def decoder_name(transfer_syntax: str, bits_stored: int = 8) -> str:
    """The library that decodes ``transfer_syntax`` (for the facts)."""
    plugin = plugin_for(transfer_syntax, bits_stored)
    if plugin is None:
        return "none"
    if plugin == "pylibjpeg":
        if transfer_syntax == _RLE:
            return "pylibjpeg-rle"
        if transfer_syntax.startswith(_J2K_PREFIX):
            return "pylibjpeg-openjpeg"
        return "pylibjpeg-libjpeg"
    return "pillow" if plugin == "pillow" else "pydicom-native"


def decode_frame(ds: Dataset, frame: int, name: str) -> DecodedFrame:
    """Decode frame ``frame`` (0-based) of ``ds`` with the pinned plugin."""
    if "PixelData" not in ds:
        kind = "float pixel data is not supported" if _has_float_pixels(ds) else "no Pixel Data"
        raise InputError(f"{name}: not an image ({kind})")
    ts = transfer_syntax_of(ds)
    _check_attributes(ds, name)
    plugin = plugin_for(ts, int(ds.BitsStored))
    if plugin is None:
        raise InputError(f"{name}: transfer syntax {ts} ({UID(ts).name}) has no installed decoder")
    n_frames = count_frames(ds)
    if not 0 <= frame < n_frames:
        raise InputError(f"{name}: frame {frame} out of range (the file has {n_frames})")
    if not UID(ts).is_compressed:
        _check_native_length(ds, name, n_frames)
    try:
        decoder = get_decoder(UID(ts))
        kwargs: dict[str, Any] = {"decoding_plugin": plugin} if plugin else {}
        # Lossy JPEG: let the codec convert YCbCr to RGB (raw=False), as libjpeg
        # does inside DCMTK; everything else arrives as stored (raw=True).
        raw = ts not in _JPEG_LOSSY
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. excess padding; we judge the data ourselves
            arr, meta = decoder.as_array(ds, index=frame, raw=raw, **kwargs)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{name}: pixel data cannot be decoded ({_short(exc)})") from exc
    photometric = str(
        meta.get("photometric_interpretation", ds.get("PhotometricInterpretation", ""))
    )
    return DecodedFrame(
        np.asarray(arr), photometric.strip(), decoder_name(ts, int(ds.BitsStored)), ts
    )


def _has_float_pixels(ds: Dataset) -> bool:
    return "FloatPixelData" in ds or "DoubleFloatPixelData" in ds


def _check_attributes(ds: Dataset, name: str) -> None:
    for keyword in ("Rows", "Columns", "BitsAllocated", "BitsStored", "PhotometricInterpretation"):
        if ds.get(keyword) in (None, ""):
            raise InputError(f"{name}: not a usable image ({keyword} is missing)")
    if int(ds.Rows) <= 0 or int(ds.Columns) <= 0:
        raise InputError(f"{name}: image has zero size ({ds.Rows}x{ds.Columns})")


def _check_native_length(ds: Dataset, name: str, n_frames: int) -> None:
    """PS3.5 8.1.1: native pixel data holds rows*cols*samples*frames*bits/8 bytes."""
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    bits = int(ds.BitsAllocated)
    n_bits = int(ds.Rows) * int(ds.Columns) * samples * n_frames * bits
    if str(ds.PhotometricInterpretation).strip() == "YBR_FULL_422":
        n_bits = n_bits // 3 * 2  # PS3.3 C.7.6.3.1.2: two chroma samples per two pixels
    expected = (n_bits + 7) // 8
    try:
        got = len(ds.PixelData)
    except Exception as exc:
        raise InputError(f"{name}: pixel data unreadable ({_short(exc)})") from exc
    if got < expected:
        raise InputError(f"{name}: pixel data truncated (expected {expected} bytes, got {got})")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]
