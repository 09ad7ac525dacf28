"""Loading PNG / JPEG / TIFF images as display frames.

Policies (docs/rendering.md):

* 8-bit grayscale and RGB are shown as stored; alpha is dropped (the monitor has
  no transparency), palette images are expanded to RGB, and the EXIF
  orientation is applied because that is what an image viewer shows.
* 16-bit (or 32-bit integer) grayscale has no window in the file, so it gets
  the same min-max LINEAR window as a DICOM image without VOI attributes;
  16-bit RGB keeps the top 8 bits of each sample.
* Multi-page TIFF: ``frame`` selects the page.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from rig.errors import InputError
from rig.imaging.lut import apply_window, minmax_window

# PNG, JPEG, TIFF (little- and big-endian) signatures.
RASTER_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")


def render_raster(path: Path, frame: int = 0) -> tuple[np.ndarray, dict[str, Any]]:
    """Load ``path``: (uint8 pixels at native size, facts); render.py wraps them."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. corrupt EXIF: judged by what decodes
            pixels, facts, fmt, n_frames = _load(path, frame)
    except InputError:
        raise
    except Exception as exc:  # PIL raises many types on corrupt input; never leak them
        raise InputError(
            f"{path.name}: unreadable {path.suffix or 'raster'} image ({exc})"
        ) from exc
    facts.update(
        {
            "decoder": "pillow",
            "transfer_syntax": None,
            "format": fmt,
            "frame": frame,
            "n_frames": n_frames,
            "modality": None,
        }
    )
    return pixels, facts


def _load(path: Path, frame: int) -> tuple[np.ndarray, dict[str, Any], str, int]:
    with Image.open(path) as image:
        n_frames = int(getattr(image, "n_frames", 1))
        if not 0 <= frame < n_frames:
            raise InputError(f"{path.name}: frame {frame} out of range (the file has {n_frames})")
        image.seek(frame)
        image.load()
        fmt = str(image.format)
        oriented = ImageOps.exif_transpose(image) or image
        pixels, facts = raster_to_display(oriented)
    return pixels, facts, fmt, n_frames


def raster_to_display(image: Image.Image) -> tuple[np.ndarray, dict[str, Any]]:
    """A PIL image -> (uint8 pixels, facts) following the module's policies."""
    mode = image.mode
    if mode in ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr", "LAB", "HSV"):
        gray = mode in ("1", "L", "LA")
        converted = image.convert("L" if gray else "RGB")
        pixels = np.asarray(converted, dtype=np.uint8)
        facts = _facts("MONOCHROME2" if gray else "RGB", 8, None, None, "none")
        return pixels, facts
    array = np.asarray(image)
    if array.ndim == 3:  # 16-bit RGB(A) ("RGB;16" etc.)
        rgb = array[..., :3].astype(np.int64)
        return (rgb >> 8).astype(np.uint8), _facts("RGB", 16, None, None, "none")
    if array.dtype.kind == "f":
        raise InputError("floating-point raster images are not supported")
    values = array.astype(np.float64)
    bits = int(array.dtype.itemsize * 8)
    center, width = minmax_window(values)
    pixels = apply_window(values, center, width, "LINEAR", inverse=False)
    return pixels, _facts("MONOCHROME2", bits, center, width, "minmax")


def _facts(
    photometric: str, bits: int, center: float | None, width: float | None, source: str
) -> dict[str, Any]:
    return {
        "photometric": photometric,
        "bits_stored": bits,
        "window_center": center,
        "window_width": width,
        "voi_function": "LINEAR" if source == "minmax" else None,
        "voi_source": source,
        "polarity": "normal",
    }
