"""Reading the display parameters of one frame from a dataset.

Where each parameter comes from (first match wins):

1. the frame's item of the Per-frame Functional Groups Sequence (5200,9230),
2. the Shared Functional Groups Sequence (5200,9229),
3. the top-level dataset (classic single- and multi-frame IODs).

Modality: Pixel Value Transformation Sequence (0028,9145) / Rescale Slope and
Intercept (C.7.6.16.2.9, C.11.1) or the Modality LUT Sequence (0028,3000).
VOI: Frame VOI LUT Sequence (0028,9132) / Window Center & Width and VOI LUT
Function (C.11.2.1.2, C.11.2.1.3) and the VOI LUT Sequence (0028,3010).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from rig.imaging.lut import Lut, make_lut


@dataclass(frozen=True)
class Window:
    center: float
    width: float
    function: str  # LINEAR | LINEAR_EXACT | SIGMOID


@dataclass(frozen=True)
class FrameParams:
    """Everything the grayscale pipeline needs for one frame."""

    slope: float = 1.0
    intercept: float = 0.0
    modality_lut: Lut | None = None
    windows: list[Window] = field(default_factory=list)
    voi_luts: list[Lut] = field(default_factory=list)
    presentation_shape: str | None = None  # IDENTITY | INVERSE | None (absent)


def frame_params(ds: Dataset, frame: int, signed: bool) -> FrameParams:
    """Collect the modality and VOI parameters that apply to ``frame`` (0-based)."""
    sources = _sources(ds, frame)
    modality_lut = _modality_lut(sources, signed)
    slope, intercept = _rescale(sources)
    # The VOI LUT's input is the Modality LUT's output, which is never negative;
    # after a rescale the input is signed if the intercept can make it so.
    voi_signed = modality_lut is None and (signed or intercept < 0 or slope < 0)
    shape = ds.get("PresentationLUTShape", None)
    return FrameParams(
        slope=slope,
        intercept=intercept,
        modality_lut=modality_lut,
        windows=_windows(sources),
        voi_luts=_voi_luts(sources, voi_signed),
        presentation_shape=str(shape).strip().upper() if shape else None,
    )


def _sources(ds: Dataset, frame: int) -> list[Dataset]:
    """Datasets to search, most specific first (per-frame, shared, top level)."""
    out: list[Dataset] = []
    per_frame = ds.get("PerFrameFunctionalGroupsSequence", None)
    if per_frame is not None and frame < len(per_frame):
        out.append(per_frame[frame])
    shared = ds.get("SharedFunctionalGroupsSequence", None)
    if shared:
        out.append(shared[0])
    return [*out, ds]


def _macro(source: Dataset, sequence: str, is_top: bool) -> Dataset | None:
    """The macro item inside a functional group, or the dataset itself at top level."""
    if is_top:
        return source
    seq = source.get(sequence, None)
    return seq[0] if seq else None


def _rescale(sources: list[Dataset]) -> tuple[float, float]:
    for i, src in enumerate(sources):
        item = _macro(src, "PixelValueTransformationSequence", i == len(sources) - 1)
        if item is not None and item.get("RescaleSlope", None) not in (None, ""):
            slope = _float(item.get("RescaleSlope"), 1.0)
            intercept = _float(item.get("RescaleIntercept", 0.0), 0.0)
            # A zero slope would flatten the image; PS3.3 forbids it, treat as 1.
            return (slope if slope != 0 else 1.0), intercept
    return 1.0, 0.0


def _modality_lut(sources: list[Dataset], signed: bool) -> Lut | None:
    for src in sources:
        seq = src.get("ModalityLUTSequence", None)
        if seq:
            return _lut_from_item(seq[0], signed)
    return None


def _windows(sources: list[Dataset]) -> list[Window]:
    for i, src in enumerate(sources):
        item = _macro(src, "FrameVOILUTSequence", i == len(sources) - 1)
        if item is None or item.get("WindowCenter", None) in (None, ""):
            continue
        centers = _floats(item.get("WindowCenter"))
        widths = _floats(item.get("WindowWidth"))
        function = str(item.get("VOILUTFunction", "LINEAR") or "LINEAR").strip().upper()
        windows = [
            Window(c, w, function)
            for c, w in zip(centers, widths, strict=False)
            if math.isfinite(c) and (w >= 1 or (function != "LINEAR" and w > 0))
        ]
        if windows:
            return windows
    return []


def _voi_luts(sources: list[Dataset], signed: bool) -> list[Lut]:
    for i, src in enumerate(sources):
        item = _macro(src, "FrameVOILUTSequence", i == len(sources) - 1)
        seq = item.get("VOILUTSequence", None) if item is not None else None
        if seq:
            return [_lut_from_item(entry, signed) for entry in seq]
    return []


def _lut_from_item(item: Dataset, signed: bool) -> Lut:
    descriptor = [int(v) for v in item.LUTDescriptor]
    return make_lut(descriptor, _lut_data(item, descriptor), signed)


def _lut_data(item: Dataset, descriptor: list[int]) -> np.ndarray:
    """LUT Data as integers: US/SS values, or OW bytes (16-bit words, or 8-bit packed)."""
    raw: Any = item.LUTData
    if isinstance(raw, bytes | bytearray):
        n_entries = int(descriptor[0]) or 65536
        if len(raw) == n_entries and descriptor[2] <= 8:
            return np.frombuffer(raw, dtype=np.uint8)
        little = getattr(item, "is_little_endian", True) is not False
        return np.frombuffer(raw, dtype="<u2" if little else ">u2")
    if isinstance(raw, int | float):
        return np.asarray([int(raw)], dtype=np.int64)
    return np.asarray([int(v) for v in raw], dtype=np.int64)


def _floats(value: Any) -> list[float]:
    if value is None:
        return []
    if isinstance(value, str | bytes | int | float) or not hasattr(value, "__iter__"):
        return [_float(value, float("nan"))]
    return [_float(v, float("nan")) for v in value]


def _float(value: Any, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default
