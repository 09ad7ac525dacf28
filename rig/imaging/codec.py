"""Image files in memory: PNG and JPEG encode/decode, and channel order, in one place.

rig keeps two channel orders on purpose: ground truth and rendered frames are RGB
(as DICOM and PIL give them), screen frames and photos are BGR (as OpenCV and the
cameras give them). Every conversion between the two goes through ``to_bgr`` /
``to_rgb``, and every encoder takes the order its pixels are in, so a flip is never
written by hand and never forgotten. Grey images (H, W) pass through unchanged.

Failures raise the caller's error type (``InputError`` for files a user gave,
``DeviceError`` for a camera's data, ``StoreError`` for the project store) with a
message naming ``what`` was being read or written.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

import cv2
import numpy as np

from rig.errors import InputError, RigError


class ChannelOrder(StrEnum):
    RGB = "rgb"
    BGR = "bgr"


RGB, BGR = ChannelOrder.RGB, ChannelOrder.BGR

_READ_MODES = {
    "unchanged": cv2.IMREAD_UNCHANGED,  # as stored: grey, BGR or BGRA, 8 or 16 bit
    "color": cv2.IMREAD_COLOR,  # (H, W, 3) uint8 BGR, EXIF orientation applied
    "gray": cv2.IMREAD_GRAYSCALE,
}


def swap_red_blue(pixels: np.ndarray) -> np.ndarray:
    """RGB ↔ BGR of a (H, W, 3) image as a contiguous copy; grey (H, W) is returned as is."""
    if pixels.ndim == 3 and pixels.shape[2] == 3:
        return np.ascontiguousarray(pixels[..., ::-1])
    if pixels.ndim == 3 and pixels.shape[2] == 4:  # keep alpha last
        return np.ascontiguousarray(pixels[..., [2, 1, 0, 3]])
    return pixels


def to_bgr(pixels: np.ndarray, order: ChannelOrder = RGB) -> np.ndarray:
    """OpenCV order from ``order``."""
    return swap_red_blue(pixels) if order == RGB else pixels


def to_rgb(pixels: np.ndarray, order: ChannelOrder = BGR) -> np.ndarray:
    """RGB from ``order``."""
    return swap_red_blue(pixels) if order == BGR else pixels


def _encode(
    ext: str, pixels: np.ndarray, params: Sequence[int], what: str, error: type[RigError]
) -> bytes:
    try:
        ok, buffer = cv2.imencode(ext, np.ascontiguousarray(pixels), list(params))
    except cv2.error as exc:
        raise error(f"{what}: cannot encode as {ext[1:].upper()} ({exc.err})") from exc
    if not ok:
        raise error(f"{what}: cannot encode as {ext[1:].upper()}")
    return bytes(buffer.tobytes())


def encode_png(
    pixels: np.ndarray,
    *,
    order: ChannelOrder = BGR,
    what: str = "image",
    error: type[RigError] = InputError,
) -> bytes:
    """Lossless PNG of a grey or 3-channel image (8 or 16 bit) whose channels are ``order``."""
    return _encode(".png", to_bgr(pixels, order), (), what, error)


def encode_jpeg(
    pixels: np.ndarray,
    quality: int = 90,
    *,
    order: ChannelOrder = BGR,
    sampling_factor: int | None = None,  # cv2.IMWRITE_JPEG_SAMPLING_FACTOR_* (chroma)
    what: str = "image",
    error: type[RigError] = InputError,
) -> bytes:
    """Baseline JPEG (libjpeg via OpenCV: deterministic for the same input)."""
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    if sampling_factor is not None:
        params += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, sampling_factor]
    return _encode(".jpg", to_bgr(pixels, order), params, what, error)


def decode(
    data: bytes,
    *,
    mode: str = "unchanged",
    order: ChannelOrder = BGR,
    what: str = "image",
    error: type[RigError] = InputError,
) -> np.ndarray:
    """Pixels of a PNG/JPEG/TIFF/BMP file's bytes, colour in ``order``."""
    image = try_decode(data, mode)
    if image is None:
        raise error(f"{what}: not a readable image")
    return to_rgb(image) if order == RGB else image


def decode_color(
    data: bytes, what: str = "photo", error: type[RigError] = InputError
) -> np.ndarray:
    """A photo as (H, W, 3) uint8 BGR."""
    return decode(data, mode="color", what=what, error=error)


def try_decode(data: bytes, mode: str = "unchanged") -> np.ndarray | None:
    """Pixels (OpenCV order), or None when the bytes are not a readable image."""
    if not data:
        return None
    image = cv2.imdecode(np.frombuffer(data, np.uint8), _READ_MODES[mode])
    if image is None or image.size == 0:
        return None
    return np.asarray(image)
