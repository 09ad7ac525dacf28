"""Numbered test videos: each frame carries its index as big binary blocks (and as text
for humans), read back from pixels, independent of anything the camera reports."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

BITS = 8
SIZE_WH = (320, 240)
BLOCK_PX = SIZE_WH[0] // BITS


def numbered_frame(index: int) -> np.ndarray:
    w, h = SIZE_WH
    frame = np.full((h, w, 3), 60, np.uint8)
    for bit in range(BITS):
        on = (index >> bit) & 1
        frame[:BLOCK_PX, bit * BLOCK_PX:(bit + 1) * BLOCK_PX] = 255 if on else 0
    cv2.putText(frame, str(index), (20, h - 30), cv2.FONT_HERSHEY_SIMPLEX, 3, (255, 255, 255), 5)
    return frame


def read_frame_number(image: np.ndarray) -> int:
    """The index coded in ``image``'s top blocks (block centres, thresholded)."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    y = BLOCK_PX // 2
    value = 0
    for bit in range(BITS):
        x0 = bit * BLOCK_PX + BLOCK_PX // 4
        if gray[y - 4:y + 4, x0:x0 + BLOCK_PX // 2].mean() > 128:
            value |= 1 << bit
    return value


def write_video(path: Path, n_frames: int, fps: float) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, SIZE_WH)
    assert writer.isOpened(), "OpenCV cannot write MJPG .avi here"
    for i in range(n_frames):
        writer.write(numbered_frame(i))
    writer.release()
    return path


def write_image_sequence(folder: Path, n_frames: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_frames):
        assert cv2.imwrite(str(folder / f"img_{i:03d}.png"), numbered_frame(i))
    return folder / "img_%03d.png"
