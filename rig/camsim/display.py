"""The monitor as a light source: tone response, sub-pixel stripes, viewing angle.

Channel order is OpenCV's BGR throughout (index 0 = blue). An RGB-stripe LCD
pixel is three vertical stripes, red | green | blue from left to right, each a
third of the pixel wide; only ``fill_factor_x`` of a stripe's width and
``fill_factor_y`` of the row's height emit (the rest is the black matrix).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from rig.camsim.params import DisplayParams
from rig.errors import InputError

TEXTURE_SAMPLES = 48  # samples per screen pixel (each way) of the sub-pixel texture
# Centre of each colour's stripe relative to the pixel centre, in screen pixels (B, G, R).
STRIPE_OFFSET_PX = (1.0 / 3.0, 0.0, -1.0 / 3.0)


def as_bgr(frame: np.ndarray) -> np.ndarray:
    """Check a shown frame (uint8, (H, W) gray or (H, W, 3) BGR) and return it as BGR."""
    if frame.dtype != np.uint8:
        raise InputError(f"screen frames must be 8-bit, got {frame.dtype}")
    if frame.ndim == 3 and frame.shape[2] == 1:  # gray decoded with a channel axis
        frame = frame[:, :, 0]
    if frame.ndim == 2:
        return np.repeat(frame[:, :, None], 3, axis=2)
    if frame.ndim == 3 and frame.shape[2] == 3:
        return frame
    raise InputError(f"screen frames must be (H, W) or (H, W, 3), got shape {frame.shape}")


def relative_luminance(frame_bgr: np.ndarray, display: DisplayParams) -> np.ndarray:
    """Emitted radiance per channel relative to full white, (H, W, 3) float32.

    A power-law EOTF on top of the backlight leak: L = black + (1 - black)·(v/255)^gamma.
    """
    lut = display.black_level + (1 - display.black_level) * (
        np.arange(256, dtype=np.float64) / 255.0) ** display.gamma
    return np.asarray(cv2.LUT(frame_bgr, lut.astype(np.float32)))


def stripe_offset_px(display: DisplayParams, channel: int) -> float:
    """Horizontal offset of a colour's emitting stripe from the pixel centre."""
    return STRIPE_OFFSET_PX[channel] if display.subpixels == "rgb-stripe" else 0.0


def _coverage(lo: float, hi: float, n: int) -> np.ndarray:
    """Fraction of each of n equal cells of [0, 1) covered by [lo, hi] (box-filtered)."""
    edges = np.arange(n + 1) / n
    return np.clip(np.minimum(edges[1:], hi) - np.maximum(edges[:-1], lo), 0, None) * n


def subpixel_texture(
    display: DisplayParams,
    channel: int,
    transfer: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> np.ndarray:
    """One screen pixel's emission pattern for a channel, blurred, mean 1, (K, K) float32.

    Sample (i, j) covers phase [j/K, (j+1)/K) across and [i/K, (i+1)/K) down the pixel.
    ``transfer(fx, fy)`` is the optical + photosite transfer function at screen
    frequencies in cycles per screen pixel; the pattern is periodic, so the blur is
    an exact circular convolution done with the FFT.
    """
    k = TEXTURE_SAMPLES
    if display.subpixels == "uniform":
        return np.ones((k, k), np.float32)
    centre_x = 0.5 + STRIPE_OFFSET_PX[channel]
    half_w = display.fill_factor_x / 6.0
    half_h = display.fill_factor_y / 2.0
    across = _coverage(centre_x - half_w, centre_x + half_w, k)
    down = _coverage(0.5 - half_h, 0.5 + half_h, k)
    pattern = np.outer(down, across)
    freqs = np.fft.fftfreq(k, d=1.0 / k)  # integer harmonics, cycles per screen pixel
    fx, fy = np.meshgrid(freqs, freqs)
    blurred = np.fft.ifft2(np.fft.fft2(pattern) * transfer(fx, fy)).real
    return (blurred / blurred.mean()).astype(np.float32)


def viewing_angle_gain(display: DisplayParams, sin2: np.ndarray, channel: int) -> np.ndarray:
    """Luminance and colour change away from the normal (LCD contrast/colour shift).

    Phenomenological: luminance drops as 1 - falloff·sin²θ and the white point turns
    bluish (blue up, red down by ``angle_color_shift``·sin²θ), as IPS/VA panels do.
    """
    tint = (1.0, 0.0, -1.0)[channel]
    gain = (1 - display.angle_falloff * sin2) * (1 + display.angle_color_shift * tint * sin2)
    return np.asarray(gain, np.float32)
