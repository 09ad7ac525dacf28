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

Only tiles that carry information are judged. Real radiographs have wide flat
regions (collimation, black or white surrounds) where the photo's band-pass is
noise, moiré or nothing at all (highlights clipped by a phone's tone curve);
correlating those is noise against noise and false-rejects good photos. A tile
is judged when its ground truth has texture (band-pass std >= MIN_TRUTH_TEXTURE
display levels) and the photo shows structure above the noise expected there
(band-pass std >= MIN_PHOTO_SNR x noise). The noise is measured on the photo
itself, per ground-truth level, over pixels whose truth is locally flat
(``noise_floor``), and weighted by the tile's share of each level; levels with
no flat truth take the median of the tiles' residuals after the best fit to the
truth. A matched tile that passes both gates has an expected correlation >= 0.75,
far above the rejection threshold; a tile showing other textured content still has
structure and a correlation near 0, so it is still caught. The frame code and
marker geometry remain the primary proof (wrong item, stale frame, tears).
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


MIN_TRUTH_TEXTURE = 1.0  # band-pass std of the truth tile, display levels
# Photo band-pass std over the noise expected there. A matched tile at the gate has
# its truth-explained part >= 1.1 x noise, i.e. an expected correlation >= 0.75.
MIN_PHOTO_SNR = 1.5
_MIN_VALID = 0.8  # fraction of a tile the photo must cover
_FLAT_RMS = 0.5  # truth band-pass RMS (9x9) below which a truth pixel is flat
_LEVEL_BINS = 8  # ground-truth levels 0..255 in bins of 32 for the noise floor
_MIN_FLAT_PIXELS = 1000  # per level bin
_MIN_NOISE = 0.5  # photo levels: JPEG quantisation leaves about this much


@dataclass(frozen=True)
class TileStats:
    """One tile's band-passed statistics (photo levels for the photo, display for truth)."""

    corr: float
    truth_std: float
    photo_std: float
    level_share: np.ndarray  # (_LEVEL_BINS,) fraction of the tile's pixels per truth level

    @property
    def residual_std(self) -> float:
        """Photo structure the truth does not explain (best linear fit)."""
        return self.photo_std * float(np.sqrt(max(0.0, 1.0 - self.corr**2)))


def noise_floor(
    aligned_bp: np.ndarray, truth_bp: np.ndarray, truth: np.ndarray, mask: np.ndarray
) -> np.ndarray:
    """Photo band-pass noise per truth level bin (NaN where no flat truth to measure on).

    Measured where the truth is locally flat, so whatever the photo shows there
    (sensor noise, moiré, JPEG) is what a flat region looks like at that level.
    """
    local_rms = np.sqrt(np.maximum(cv2.blur(truth_bp * truth_bp, (9, 9)), 0.0))
    flat = mask & (local_rms < _FLAT_RMS)
    bins = _level_bins(truth)
    out = np.full(_LEVEL_BINS, np.nan)
    for level in range(_LEVEL_BINS):
        values = aligned_bp[flat & (bins == level)]
        if values.size >= _MIN_FLAT_PIXELS:
            # The plain std, not a robust one: clipped highlights leave mostly equal
            # values with a tail, and a noise floor must not be underestimated.
            out[level] = max(_MIN_NOISE, float(values.std()))
    return out


def _level_bins(truth: np.ndarray) -> np.ndarray:
    return truth.astype(np.int32) * _LEVEL_BINS // 256


def _tile_stats(
    a: np.ndarray, t: np.ndarray, truth: np.ndarray, mask: np.ndarray
) -> TileStats | None:
    if mask.mean() < _MIN_VALID:
        return None
    av, tv = a[mask], t[mask]
    av, tv = av - av.mean(), tv - tv.mean()
    den = float(np.sqrt((av * av).sum() * (tv * tv).sum()))
    corr = float((av * tv).sum() / den) if den > 0 else 0.0
    share = np.bincount(_level_bins(truth[mask]), minlength=_LEVEL_BINS) / max(1, mask.sum())
    return TileStats(corr, float(tv.std()), float(av.std()), share)


def tile_correlations(
    aligned: np.ndarray, truth: np.ndarray, mask: np.ndarray, tiles: int = 4
) -> np.ndarray:
    """Band-passed correlation per tile (tiles, tiles); NaN where the tile is not judged
    (masked, flat truth, or no photo structure above the noise expected there)."""
    a, t = _band_pass(aligned), _band_pass(truth)
    height, width = truth.shape
    grid: dict[tuple[int, int], TileStats] = {}
    for i in range(tiles):
        for j in range(tiles):
            ys = slice(i * height // tiles, (i + 1) * height // tiles)
            xs = slice(j * width // tiles, (j + 1) * width // tiles)
            found = _tile_stats(a[ys, xs], t[ys, xs], truth[ys, xs], mask[ys, xs])
            if found is not None:
                grid[(i, j)] = found
    # Levels with no flat truth to measure on: the median of the tiles' unexplained
    # structure (noise plus model error; a minority of tiles with other content does
    # not move a median).
    residuals = [s.residual_std for s in grid.values() if s.truth_std >= MIN_TRUTH_TEXTURE]
    fallback = max(_MIN_NOISE, float(np.median(residuals)) if residuals else _MIN_NOISE)
    floor = noise_floor(a, t, truth, mask)
    variance = np.where(np.isfinite(floor), floor, fallback) ** 2  # per level bin
    out = np.full((tiles, tiles), np.nan)
    for (i, j), stats in grid.items():
        noise = float(np.sqrt(stats.level_share @ variance))  # at this tile's levels
        if stats.truth_std >= MIN_TRUTH_TEXTURE and stats.photo_std >= MIN_PHOTO_SNR * noise:
            out[i, j] = stats.corr
    return out
