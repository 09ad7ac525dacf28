"""numpy ⇄ QImage without resampling (rig hands Qt 8-bit data it computed itself)."""

from __future__ import annotations

import numpy as np
from PyQt6.QtGui import QImage

from rig.imaging import codec


def to_qimage(frame: np.ndarray) -> QImage:
    """(H, W) grey or (H, W, 3) BGR uint8 → a QImage that owns a copy of the data."""
    frame = np.ascontiguousarray(frame)
    if frame.dtype != np.uint8:
        raise ValueError(f"display frames are 8-bit, got {frame.dtype}")
    height, width = frame.shape[:2]
    data = frame.tobytes()  # kept alive until the copy below detaches the image from it
    fmt = QImage.Format.Format_Grayscale8 if frame.ndim == 2 else QImage.Format.Format_BGR888
    image = QImage(data, width, height, frame.strides[0], fmt)
    return image.copy()


def from_qimage(image: QImage) -> np.ndarray:
    """A QImage (any format) → (H, W, 3) BGR uint8."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height = rgb.width(), rgb.height()
    ptr = rgb.constBits()
    assert ptr is not None
    ptr.setsize(rgb.sizeInBytes())
    raw = bytes(ptr.asstring(rgb.sizeInBytes()))
    array = np.frombuffer(raw, np.uint8).reshape(height, rgb.bytesPerLine())[:, : width * 3]
    return codec.to_bgr(array.reshape(height, width, 3), codec.RGB)
