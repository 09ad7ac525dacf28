"""The exact screen frame the display shows: image + fiducial border + frame code.

Frames are BGR (OpenCV order) when in colour, grey (H, W) otherwise; the frame
hash in the code commits to the canvas inside the border band in that form, so
a frame PNG read back with OpenCV reproduces it. A frame PNG carries its own
description (layout, placement, code) in a ``tEXt`` chunk with keyword
``rig-frame`` (PNG spec section 11.3.4.3), so registering a photo needs nothing
but the photo and the frame file.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from calibration.fiducials import FiducialLayout, LayoutError, content_hash, draw_border
from calibration.framecode import FrameCode
from rig.atomic import write_bytes_atomic
from rig.errors import InputError
from rig.imaging import codec
from rig.imaging.compositor import DEFAULT_PLACEMENT, Placement, compose

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
META_KEY = b"rig-frame"


@dataclass(frozen=True)
class ScreenFrame:
    """A composed screen frame and everything needed to register a photo of it."""

    canvas: np.ndarray  # (H, W) grey or (H, W, 3) BGR, uint8
    placement: Placement
    layout: FiducialLayout
    code: FrameCode  # with the frame hash of this canvas

    def meta(self) -> dict[str, Any]:
        height, width = self.canvas.shape[:2]
        return {
            "screen_wh": [width, height],
            "layout": self.layout.to_dict(),
            "placement": self.placement.to_dict(),
            "code": self.code.to_dict(),
        }


def compose_screen(
    image: np.ndarray,
    screen_wh: tuple[int, int],
    layout: FiducialLayout,
    code: FrameCode,
    mode: str = DEFAULT_PLACEMENT,
) -> tuple[np.ndarray, Placement]:
    """Screen canvas and placement; ``code.frame_hash`` is replaced by the canvas's own hash."""
    frame = compose_screen_frame(image, screen_wh, layout, code, mode)
    return frame.canvas, frame.placement


def compose_screen_frame(
    image: np.ndarray,
    screen_wh: tuple[int, int],
    layout: FiducialLayout,
    code: FrameCode,
    mode: str = DEFAULT_PLACEMENT,
) -> ScreenFrame:
    """Like ``compose_screen`` but returning the final code and layout too."""
    try:
        canvas, placement = compose(image, screen_wh, mode, layout.border_px)
        final = replace(code, frame_hash=content_hash(canvas, layout))
        return ScreenFrame(draw_border(canvas, layout, final), placement, layout, final)
    except LayoutError as exc:
        raise InputError(f"fiducial layout: {exc}") from exc


def displayed_image(frame: ScreenFrame) -> np.ndarray:
    """The image as the screen shows it (placed size; RGB if in colour, like ground truth)."""
    p = frame.placement
    placed = frame.canvas[p.offset_y : p.offset_y + p.height, p.offset_x : p.offset_x + p.width]
    return np.ascontiguousarray(codec.to_rgb(placed, codec.BGR))


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def encode_screen_png(frame: ScreenFrame) -> bytes:
    """Lossless PNG of the frame with its description in a ``rig-frame`` tEXt chunk."""
    png = codec.encode_png(frame.canvas, what="screen frame")
    ihdr_end = len(PNG_SIGNATURE) + 8 + 13 + 4  # signature, IHDR length+type, data, CRC
    text = META_KEY + b"\0" + json.dumps(frame.meta(), sort_keys=True).encode("latin-1")
    return png[:ihdr_end] + _chunk(b"tEXt", text) + png[ihdr_end:]


def read_png_meta(data: bytes) -> dict[str, Any] | None:
    """The ``rig-frame`` description of a PNG, or None if it has none."""
    if not data.startswith(PNG_SIGNATURE):
        return None
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"tEXt" and body.startswith(META_KEY + b"\0"):
            try:
                meta = json.loads(body[len(META_KEY) + 1 :].decode("latin-1"))
            except ValueError:
                return None
            return meta if isinstance(meta, dict) else None
        if kind == b"IEND":
            break
        pos += 12 + length
    return None


def decode_frame_image(data: bytes, name: str) -> np.ndarray:
    """A frame file's pixels as grey (H, W) or BGR (H, W, 3) uint8."""
    image = codec.decode(data, what=name)
    if image.dtype != np.uint8:
        raise InputError(f"{name}: screen frames are 8-bit, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 4:
        image = np.ascontiguousarray(image[:, :, :3])
    return np.asarray(image)


def read_photo(path: Path) -> np.ndarray:
    """A photo file as BGR (H, W, 3) uint8 (EXIF orientation applied by OpenCV)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return codec.decode_color(data, str(path))


def write_png(path: Path, image: np.ndarray) -> None:
    """Write a uint8 grey or BGR image as a lossless PNG, atomically."""
    write_bytes_atomic(path, codec.encode_png(image, what=str(path)))
