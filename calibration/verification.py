"""Does the photo show the right frame, whole? Frame codes and content consistency.

The code cells are sampled at their known screen positions pushed through the
fitted screen->photo mapping (the mean over the central half of each cell), so
no code detection is needed. Each of the four copies is decoded on its own;
when all fail, their soft values are added (glare rarely covers the same bits of
all of them). Copies that decode to different codes mean the screen changed
while the photo was taken (a torn refresh, across or along the screen).

Content consistency compares the aligned photo with the ground truth tile by
tile after a band-pass (difference of Gaussians), which removes glare, tone and
vignetting but keeps the structure; a textured tile whose correlation collapses
shows other pixels than the frame although every code copy is right.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from calibration.distortion import ScreenMapping
from calibration.fiducials import (
    CODE_COPY_NAMES,
    FiducialLayout,
    code_cell_centres,
    code_origins,
)
from calibration.framecode import DecodedCode, FrameCode, decode_soft, soft_bits

_SAMPLES_PER_CELL_SIDE = 3  # 3x3 samples over the central half of a cell


@dataclass(frozen=True)
class CodeReading:
    """The frame code read from a photo, from its copies."""

    code: FrameCode | None
    copies: tuple[DecodedCode, ...]  # in CODE_COPY_NAMES order
    combined: bool  # True when only the sum of all copies decoded
    disagree: bool  # copies decoded to different codes

    def disagreement(self) -> str:
        """Which copies show which item, e.g. 'top-left: item 7; bottom-left: item 8'."""
        parts = [
            f"{name}: item {c.code.index} hash {c.code.frame_hash:06x}"
            for name, c in zip(CODE_COPY_NAMES, self.copies, strict=False)
            if c.code is not None
        ]
        return "; ".join(parts)


def sample_code_copy(
    gray: np.ndarray, mapping: ScreenMapping, layout: FiducialLayout, origin: tuple[int, int]
) -> np.ndarray:
    """Mean photo level (rows, cols) over the central half of each code cell."""
    centres = code_cell_centres(layout, origin)  # (rows, cols, 2)
    k = _SAMPLES_PER_CELL_SIDE
    offsets = (np.arange(k) - (k - 1) / 2) * (0.5 * layout.code_cell_px / k)
    ox, oy = np.meshgrid(offsets, offsets)
    pts = centres[:, :, None, :] + np.stack([ox.ravel(), oy.ravel()], axis=-1)[None, None]
    photo = mapping.map_points(pts).astype(np.float32)  # (rows, cols, k*k, 2)
    flat = photo.reshape(-1, k * k, 2)
    values = cv2.remap(
        gray.astype(np.float32),
        np.ascontiguousarray(flat[..., 0]),
        np.ascontiguousarray(flat[..., 1]),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=float("nan"),
    )
    return np.asarray(values.mean(axis=1).reshape(layout.code_rows, layout.code_cols))


def read_code(
    gray: np.ndarray, mapping: ScreenMapping, layout: FiducialLayout, screen_wh: tuple[int, int]
) -> CodeReading:
    """Decode every copy of the frame code from a photo registered by ``mapping``."""
    softs = [
        soft_bits(sample_code_copy(gray, mapping, layout, origin))
        for origin in code_origins(layout, screen_wh)
    ]
    copies = tuple(decode_soft(s) for s in softs)
    codes = {c.code for c in copies if c.code is not None}
    if len(codes) > 1:
        return CodeReading(None, copies, False, True)
    if codes:
        return CodeReading(codes.pop(), copies, False, False)
    summed = decode_soft(np.sum([np.nan_to_num(s) for s in softs], axis=0))
    return CodeReading(summed.code, copies, summed.code is not None, False)


def explain_mismatch(seen: FrameCode, expected: FrameCode) -> str | None:
    """A one-line reason why ``seen`` is not the frame we expected, or None if it is."""
    if seen == expected:
        return None
    if seen.session != expected.session:
        return f"photo shows session {seen.session}, expected session {expected.session}"
    if seen.index != expected.index:
        return f"photo shows item {seen.index}, expected item {expected.index}"
    if seen.attempt != expected.attempt:
        return (
            f"photo shows attempt {seen.attempt} of item {seen.index}, expected {expected.attempt}"
        )
    return (
        f"photo shows item {seen.index} with other content (frame hash {seen.frame_hash:06x}, "
        f"expected {expected.frame_hash:06x}): a stale or re-rendered frame"
    )


def _band_pass(image: np.ndarray) -> np.ndarray:
    img = image.astype(np.float32)
    return np.asarray(cv2.GaussianBlur(img, (0, 0), 1.5) - cv2.GaussianBlur(img, (0, 0), 6.0))


def tile_correlations(
    aligned: np.ndarray, truth: np.ndarray, mask: np.ndarray, tiles: int = 4
) -> np.ndarray:
    """Band-passed correlation per tile (tiles, tiles); NaN where the truth is flat or masked."""
    a, t = _band_pass(aligned), _band_pass(truth)
    height, width = truth.shape
    out = np.full((tiles, tiles), np.nan)
    for i in range(tiles):
        for j in range(tiles):
            ys = slice(i * height // tiles, (i + 1) * height // tiles)
            xs = slice(j * width // tiles, (j + 1) * width // tiles)
            m = mask[ys, xs]
            if m.mean() < 0.8:
                continue
            av, tv = a[ys, xs][m], t[ys, xs][m]
            if tv.std() < 1.0:  # flat truth (e.g. black letterbox): nothing to compare
                continue
            av, tv = av - av.mean(), tv - tv.mean()
            den = float(np.sqrt((av * av).sum() * (tv * tv).sum()))
            out[i, j] = float((av * tv).sum() / den) if den > 0 else np.nan
    return out
