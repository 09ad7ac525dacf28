"""Rendering a DICOM frame or a raster image to the 8-bit display frame.

The display frame is the ground truth of every photo, so it is what a DICOM
viewer shows, at native size: PS3.3 C.11 / PS3.4 N.2 grayscale pipeline for
monochrome images (rig.imaging.lut), C.7.6.3 colour models for colour images
(rig.imaging.color). Policies where the standard leaves room:

* VOI choice: ``RenderOptions.window`` overrides everything; ``voi_index`` picks
  entry N of [stored windows..., VOI LUTs...]; by default the first stored window,
  else the first VOI LUT, else a min-max window (rig.imaging.lut.minmax_window)
  over the modality values excluding Pixel Padding Value / Range Limit pixels.
  A window wins over a VOI LUT when both exist (C.11.2 lets either be used;
  windows are what viewers show first and what the window/level UI adjusts).
* An override window keeps the stored VOI LUT Function (LINEAR if none).
* Polarity: MONOCHROME1 displays inverted (minimum = white); Presentation LUT
  Shape INVERSE inverts a MONOCHROME2 image. MONOCHROME1 with an explicit
  IDENTITY shape violates C.8.11.1.1.1 (IDENTITY is for MONOCHROME2); we apply
  the pipeline literally (PS3.4 N.2.1: the Presentation LUT is the last stage, so
  an explicit shape is final) and do not invert, as DCMTK does. The facts flag
  the conflict (``polarity_conflict``).
* Overlays (60xx) are burned in only on request.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from rig.errors import InputError
from rig.imaging import dicom
from rig.imaging.color import to_rgb8
from rig.imaging.lut import apply_lut, apply_rescale, apply_voi_lut, apply_window, minmax_window
from rig.imaging.overlay import burn_overlays
from rig.imaging.params import FrameParams, frame_params
from rig.imaging.raster import RASTER_MAGIC, render_raster

MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
COLOUR = (
    "RGB",
    "PALETTE COLOR",
    "YBR_FULL",
    "YBR_FULL_422",
    "YBR_PARTIAL_422",
    "YBR_PARTIAL_420",
    "YBR_ICT",
    "YBR_RCT",
)
_TABLE_LIMIT = 1 << 20  # widest stored-value range rendered through a table

__all__ = ["RenderOptions", "RenderedFrame", "count_frames", "render_dataset", "render_path"]


@dataclass(frozen=True)
class RenderOptions:
    frame: int = 0  # 0-based
    window: tuple[float, float] | None = None  # (center, width) override
    voi_index: int | None = None  # N-th entry of [stored windows..., VOI LUTs...] (0-based)
    burn_overlays: bool = False


@dataclass(frozen=True)
class RenderedFrame:
    pixels: np.ndarray  # uint8, (H, W) grayscale or (H, W, 3) RGB, native size
    facts: dict[str, Any] = field(default_factory=dict)  # JSON-able


def count_frames(ds: Dataset) -> int:
    """Number of frames in ``ds`` (1 for single-frame images)."""
    return dicom.count_frames(ds)


def render_path(path: Path, options: RenderOptions = RenderOptions()) -> RenderedFrame:
    """Render a DICOM file (detected by preamble or by parsing) or a PNG/JPEG/TIFF."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
    except OSError as exc:
        raise InputError(f"{path.name}: cannot read ({exc.strerror or exc})") from exc
    if not head:
        raise InputError(f"{path.name}: empty file")
    if head[128:132] != b"DICM" and head.startswith(RASTER_MAGIC):
        return RenderedFrame(*render_raster(path, options.frame))
    ds = dicom.read_dataset(path)
    return _guarded(ds, options, path.name)


def render_dataset(ds: Dataset, options: RenderOptions = RenderOptions()) -> RenderedFrame:
    """Render frame ``options.frame`` of an already-parsed dataset."""
    name = Path(str(getattr(ds, "filename", "") or "dataset")).name
    return _guarded(ds, options, name)


def _guarded(ds: Dataset, options: RenderOptions, name: str) -> RenderedFrame:
    try:
        with warnings.catch_warnings():
            # pydicom warns lazily about malformed values; we judge the data ourselves
            # and report failures as one-line InputErrors instead.
            warnings.simplefilter("ignore")
            return _render(ds, options, name)
    except InputError:
        raise
    except Exception as exc:  # a malformed attribute must not escape as a traceback
        raise InputError(f"{name}: cannot render ({type(exc).__name__}: {exc})") from exc


def _render(ds: Dataset, options: RenderOptions, name: str) -> RenderedFrame:
    decoded = dicom.decode_frame(ds, options.frame, name)
    bits_stored = int(ds.BitsStored)
    stored_photometric = str(ds.PhotometricInterpretation).strip().upper()
    facts: dict[str, Any] = {
        "photometric": stored_photometric,
        "decoder": decoded.decoder,
        "transfer_syntax": decoded.transfer_syntax,
        "frame": options.frame,
        "n_frames": dicom.count_frames(ds),
        "bits_stored": bits_stored,
        "modality": str(ds.get("Modality", "") or ""),
    }
    if decoded.photometric in MONOCHROME:
        pixels, voi_facts = _render_mono(ds, decoded, options, name)
        facts.update(voi_facts)
    else:
        _check_colour(decoded, stored_photometric, name)
        if options.window is not None or options.voi_index is not None:
            raise InputError(f"{name}: windowing applies to grayscale images only")
        pixels = to_rgb8(decoded.pixels, decoded.photometric, stored_photometric, ds, bits_stored)
        facts.update(_no_voi(decoded.photometric))
    if options.burn_overlays:
        pixels, n_planes = burn_overlays(pixels, ds, options.frame)
        facts["overlays_burned"] = n_planes
    return RenderedFrame(np.ascontiguousarray(pixels), facts)


def _render_mono(
    ds: Dataset, decoded: dicom.DecodedFrame, options: RenderOptions, name: str
) -> tuple[np.ndarray, dict[str, Any]]:
    signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
    stored = stored_values(decoded.pixels, int(ds.BitsStored), signed)
    if stored.ndim != 2:
        raise InputError(f"{name}: monochrome image with {stored.shape[-1]} samples per pixel")
    lo, hi = int(stored.min()), int(stored.max())
    if hi - lo >= _TABLE_LIMIT:  # e.g. 32-bit dose grids: transform every pixel
        return _mono_pipeline(stored, None, ds, decoded.photometric, options, name, signed)
    # Output depends only on the stored value, so transform each possible value
    # once (a table, as DCMTK does) and index it: same numbers, far less work.
    domain = np.arange(lo, hi + 1, dtype=np.int64)
    offsets = (stored - lo).astype(np.intp)
    used = np.bincount(offsets.ravel(), minlength=domain.size) > 0
    table, facts = _mono_pipeline(domain, used, ds, decoded.photometric, options, name, signed)
    return table[offsets], facts


def _mono_pipeline(
    values: np.ndarray,
    used: np.ndarray | None,
    ds: Dataset,
    photometric: str,
    options: RenderOptions,
    name: str,
    signed: bool,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Stored ``values`` -> uint8 display values; ``used`` marks values present
    in the frame (None: ``values`` are the frame's pixels themselves)."""
    params = frame_params(ds, options.frame, signed)
    modality = modality_values(values, params)
    inverse = _is_inverse(photometric, params)
    facts: dict[str, Any] = {
        "polarity": "inverse" if inverse else "normal",
        "presentation_lut_shape": params.presentation_shape,
        "polarity_conflict": photometric == "MONOCHROME1"
        and params.presentation_shape == "IDENTITY",
        "modality_transform": "lut" if params.modality_lut is not None else "rescale",
        "rescale_slope": params.slope,
        "rescale_intercept": params.intercept,
    }
    n_windows = len(params.windows)
    choice = options.voi_index
    if options.window is not None:
        center, width = (float(v) for v in options.window)
        function = params.windows[0].function if params.windows else "LINEAR"
        _check_width(width, function, name)
        facts.update(_window_facts(center, width, function, "override"))
        return apply_window(modality, center, width, function, inverse), facts
    n_choices = n_windows + len(params.voi_luts)
    if choice is not None and not 0 <= choice < n_choices:
        raise InputError(
            f"{name}: VOI index {choice} out of range "
            f"({n_windows} window(s) and {len(params.voi_luts)} VOI LUT(s) stored)"
        )
    if n_windows and (choice is None or choice < n_windows):
        window = params.windows[choice or 0]
        facts.update(_window_facts(window.center, window.width, window.function, "window"))
        facts["voi_index"] = choice or 0
        return apply_window(modality, window.center, window.width, window.function, inverse), facts
    if params.voi_luts:
        index = (choice - n_windows) if choice is not None else 0
        lut = params.voi_luts[index]
        facts.update(_window_facts(None, None, None, "voi_lut"))
        facts.update(
            {"voi_index": n_windows + index, "voi_lut_index": index, "voi_lut_bits": lut.bits}
        )
        return apply_voi_lut(modality, lut, inverse), facts
    padding = padding_mask(values, ds, signed)
    if used is not None:
        modality_used = modality[used]
        padding = padding[used] if padding is not None else None
    else:
        modality_used = modality
    center, width = minmax_window(modality_used, padding)
    facts.update(_window_facts(center, width, "LINEAR", "minmax"))
    return apply_window(modality, center, width, "LINEAR", inverse), facts


def stored_values(pixels: np.ndarray, bits_stored: int, signed: bool) -> np.ndarray:
    """Keep the Bits Stored low bits (PS3.5 8.1.1), sign-extended when signed.

    Bits above High Bit may hold retired overlay planes or garbage.
    """
    values: np.ndarray = pixels.astype(np.int32 if bits_stored < 32 else np.int64)
    values = np.bitwise_and(values, (1 << bits_stored) - 1)
    if signed:
        sign = 1 << (bits_stored - 1)
        values = np.bitwise_xor(values, sign) - sign
    return values


def modality_values(stored: np.ndarray, params: FrameParams) -> np.ndarray:
    """Stored values -> modality values (C.11.1): Modality LUT, else rescale."""
    if params.modality_lut is not None:
        return apply_lut(stored, params.modality_lut).astype(np.float64)
    return apply_rescale(stored, params.slope, params.intercept)


def padding_mask(stored: np.ndarray, ds: Dataset, signed: bool) -> np.ndarray | None:
    """Pixels that are padding (C.7.5.1.1.2): [Pixel Padding Value, Range Limit]."""
    value = ds.get("PixelPaddingValue", None)
    if value is None or value == "":
        return None
    lo = _as_stored(int(value), signed)
    limit = ds.get("PixelPaddingRangeLimit", None)
    hi = _as_stored(int(limit), signed) if limit not in (None, "") else lo
    lo, hi = min(lo, hi), max(lo, hi)
    return (stored >= lo) & (stored <= hi)


def _as_stored(value: int, signed: bool) -> int:
    # An US-encoded padding value of a signed image is the two's-complement pattern.
    return value - 0x10000 if signed and value >= 0x8000 else value


def _is_inverse(photometric: str, params: FrameParams) -> bool:
    # PS3.4 N.2.1: the Presentation LUT is the last grayscale stage and an explicit
    # shape is final; MONOCHROME1 implies INVERSE only when no shape is given.
    if params.presentation_shape in ("IDENTITY", "INVERSE"):
        return params.presentation_shape == "INVERSE"
    return photometric == "MONOCHROME1"


def _check_colour(decoded: dicom.DecodedFrame, stored_photometric: str, name: str) -> None:
    if stored_photometric not in COLOUR:
        raise InputError(f"{name}: photometric interpretation {stored_photometric} not supported")
    palette = decoded.photometric == "PALETTE COLOR"
    if (decoded.pixels.ndim != 3 or decoded.pixels.shape[-1] != 3) and not palette:
        raise InputError(f"{name}: {stored_photometric} image without 3 samples per pixel")


def _check_width(width: float, function: str, name: str) -> None:
    minimum_ok = width >= 1 if function == "LINEAR" else width > 0
    if not minimum_ok:
        raise InputError(f"{name}: window width {width} is invalid for {function} (C.11.2.1.2)")


def _window_facts(
    center: float | None, width: float | None, function: str | None, source: str
) -> dict[str, Any]:
    return {
        "window_center": center,
        "window_width": width,
        "voi_function": function,
        "voi_source": source,
    }


def _no_voi(photometric: str) -> dict[str, Any]:
    facts = _window_facts(None, None, None, "none")
    facts["polarity"] = "normal"
    return facts
