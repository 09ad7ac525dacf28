"""Synthetic DICOM files for the imaging tests (no patient data, fixed seeds)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid


def ramp(rows: int, cols: int, lo: int, hi: int, seed: int = 0) -> np.ndarray:
    """Every value of [lo, hi] at least once (if it fits), then random values."""
    n = rows * cols
    rng = np.random.default_rng(seed)
    span = np.arange(lo, hi + 1, dtype=np.int64)
    values = (
        span[:n]
        if span.size >= n
        else np.concatenate([span, rng.integers(lo, hi + 1, n - span.size)])
    )
    if span.size > n:
        values = rng.choice(span, size=n, replace=False)
        values[0], values[-1] = lo, hi
    return values.reshape(rows, cols)


def mono_dataset(
    pixels: np.ndarray,
    bits_stored: int,
    signed: bool = False,
    photometric: str = "MONOCHROME2",
    bits_allocated: int | None = None,
    **attrs: Any,
) -> Dataset:
    """A Secondary Capture dataset holding ``pixels`` (frames, rows, cols) or (rows, cols)."""
    bits_allocated = bits_allocated or (8 if bits_stored <= 8 else 16 if bits_stored <= 16 else 32)
    frames = pixels if pixels.ndim == 3 else pixels[None]
    dtype = {
        8: np.int8 if signed else np.uint8,
        16: np.int16 if signed else np.uint16,
        32: np.int32 if signed else np.uint32,
    }[bits_allocated]
    ds = _base(frames.shape[1], frames.shape[2])
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = bits_allocated
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    if frames.shape[0] > 1:
        ds.NumberOfFrames = frames.shape[0]
    raw = frames.astype(np.int64)
    if signed:  # two's complement within bits_stored, upper bits sign-filled
        raw = raw.astype(dtype)
    ds.PixelData = raw.astype(dtype).tobytes()
    for key, value in attrs.items():
        setattr(ds, key, value)
    return ds


def rgb_dataset(pixels: np.ndarray, photometric: str = "RGB", planar: int = 0) -> Dataset:
    ds = _base(pixels.shape[0], pixels.shape[1])
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = photometric
    ds.PlanarConfiguration = planar
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    data = pixels.transpose(2, 0, 1) if planar else pixels
    ds.PixelData = np.ascontiguousarray(data, dtype=np.uint8).tobytes()
    return ds


def lut_item(first: int, bits: int, data: np.ndarray, **attrs: Any) -> Dataset:
    item = Dataset()
    item.LUTDescriptor = [len(data) if len(data) < 65536 else 0, first, bits]
    item.LUTData = np.asarray(data, dtype="<u2").tobytes()
    for key, value in attrs.items():
        setattr(item, key, value)
    return item


def sequence(*items: Dataset) -> Sequence:
    return Sequence(list(items))


def save(ds: Dataset, path: Path) -> Path:
    ds.save_as(path, enforce_file_format=True)
    return path


def _base(rows: int, cols: int) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "OT"
    ds.Rows, ds.Columns = rows, cols
    return ds


def palette_dataset(indices: np.ndarray, bits: int, tables: list[np.ndarray]) -> Dataset:
    """PALETTE COLOR image; 8-bit tables are packed one entry per byte (C.7.6.3.1.5)."""
    ds = mono_dataset(indices, 8, photometric="PALETTE COLOR")
    for color, table in zip(("Red", "Green", "Blue"), tables, strict=True):
        setattr(ds, f"{color}PaletteColorLookupTableDescriptor", [len(table), 0, bits])
        data = np.asarray(table).astype("<u2" if bits == 16 else "u1").tobytes()
        setattr(ds, f"{color}PaletteColorLookupTableData", data)
    return ds


def segmented(ds: Dataset, segments: list[list[int]], n_entries: int) -> Dataset:
    """Replace the 16-bit palette data by Segmented Palette Color LUT Data (C.7.9.2)."""
    for color, words in zip(("Red", "Green", "Blue"), segments, strict=True):
        del ds[f"{color}PaletteColorLookupTableData"]
        setattr(ds, f"{color}PaletteColorLookupTableDescriptor", [n_entries, 0, 16])
        setattr(
            ds, f"Segmented{color}PaletteColorLookupTableData", np.asarray(words, "<u2").tobytes()
        )
    return ds
