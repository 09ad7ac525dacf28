"""Reading and writing the 8-bit images the synth command works on.

Inputs are 8-bit JPEG/PNG as in CheXpert. Grayscale stays grayscale (the
original converted most outputs to RGB). Palette/alpha/bilevel images are
converted to their natural 8-bit mode; 16-bit, 32-bit and float images are
rejected with a message (their display mapping is not ours to guess).
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from rig.atomic import write_bytes_atomic, write_text_atomic
from rig.errors import InputError

# Mode -> mode we convert to; anything absent is rejected.
_MODE_MAP = {
    "L": "L",
    "RGB": "RGB",
    "1": "L",
    "LA": "L",
    "P": "RGB",
    "PA": "RGB",
    "RGBA": "RGB",
    "RGBX": "RGB",
    "CMYK": "RGB",
    "YCbCr": "RGB",
}
DEFAULT_JPEG_QUALITY = 75  # PIL's default, which the original's save() used


def load_image(path: Path) -> np.ndarray:
    """Read an 8-bit image as (H, W) uint8 or (H, W, 3) uint8; InputError if unusable."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()
                mode = img.mode
                target = _MODE_MAP.get(mode)
                if target is None:
                    raise InputError(
                        f"{mode} images are not supported (8-bit grayscale/RGB only); "
                        "convert to 8-bit first"
                    )
                arr = np.asarray(img.convert(target) if target != mode else img)
    except FileNotFoundError:
        raise InputError("file not found") from None
    except UnidentifiedImageError:
        raise InputError("not a readable image") from None
    except (
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise InputError(f"unreadable image ({exc})") from None
    return np.ascontiguousarray(arr)


def encode_image(image: np.ndarray, suffix: str, jpeg_quality: int = DEFAULT_JPEG_QUALITY) -> bytes:
    """Encode in the format named by ``suffix`` (JPEG with ``jpeg_quality``, else PIL's default)."""
    fmt = Image.registered_extensions().get(suffix.lower())
    if fmt is None:
        raise InputError(f"cannot write images with suffix '{suffix}'")
    buf = io.BytesIO()
    options: dict[str, Any] = {"quality": jpeg_quality} if fmt == "JPEG" else {}
    Image.fromarray(image).save(buf, format=fmt, **options)
    return buf.getvalue()


def write_image(path: Path, image: np.ndarray, jpeg_quality: int = DEFAULT_JPEG_QUALITY) -> None:
    """Write ``image`` atomically to ``path`` (format from its suffix)."""
    write_bytes_atomic(path, encode_image(image, path.suffix, jpeg_quality))


def to_jsonable(obj: Any) -> Any:
    """Turn numpy arrays/scalars inside dicts and lists into plain JSON values."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def sidecar_path(image_path: Path) -> Path:
    """``<stem>.geometry.json`` next to the image."""
    return image_path.with_name(image_path.stem + ".geometry.json")


def write_sidecar(image_path: Path, record: dict[str, Any]) -> None:
    """Write the geometry/parameters record next to the output image, atomically."""
    text = json.dumps(to_jsonable(record), indent=2, sort_keys=True) + "\n"
    write_text_atomic(sidecar_path(image_path), text)
