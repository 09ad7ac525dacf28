"""Photometric transforms of the CheXphoto set (pixels change, geometry does not).

brightness/contrast up/down and random-digital use PIL's ``ImageEnhance`` with
the published factors; blur uses PIL's ``GaussianBlur`` (its ``radius`` is the
standard deviation); motion is a horizontal box kernel through
``cv2.filter2D``; exposure is scikit-image's ``adjust_sigmoid`` formula.
All work on 8-bit grayscale (H, W) or RGB (H, W, 3) arrays and keep the mode.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

from rig.synth.geometry import translation_matrix

BLUR_RADIUS_PX = {1: 1.5, 2: 3.0, 3: 6.0, 4: 10.0}  # reference pixels
MOTION_KERNEL_PX = {1: 2, 2: 10, 3: 25, 4: 45}  # reference pixels
FACTOR_NOISE = 0.01  # U(-0.01, 0.01) added to every enhance factor
EXPOSURE_CUTOFF = 0.5
EXPOSURE_GAIN = 5.0

Params = dict[str, Any]


def level_step(level: int) -> float:
    """The original's 'factor': 0.5 at level 1, else the level itself."""
    return 0.5 if level == 1 else float(level)


def up_factor(level: int, rng: np.random.Generator) -> float:
    """1 + 0.2·k + U(-0.01, 0.01)."""
    return 1.0 + 0.2 * level_step(level) + float(rng.uniform(-FACTOR_NOISE, FACTOR_NOISE))


def down_factor(level: int, rng: np.random.Generator) -> float:
    """1 / (1 + 0.4·k + U(-0.01, 0.01))."""
    return 1.0 / (1.0 + 0.4 * level_step(level) + float(rng.uniform(-FACTOR_NOISE, FACTOR_NOISE)))


def _enhance(image: np.ndarray, kind: str, factor: float) -> np.ndarray:
    pil = Image.fromarray(image)
    enhancer = ImageEnhance.Brightness(pil) if kind == "brightness" else ImageEnhance.Contrast(pil)
    return np.asarray(enhancer.enhance(factor))


def _enhance_transform(
    kind: str, direction: str
) -> Callable[[np.ndarray, int, np.random.Generator, float], tuple[np.ndarray, Params]]:
    draw = up_factor if direction == "up" else down_factor

    def transform(
        image: np.ndarray, level: int, rng: np.random.Generator, scale: float = 1.0
    ) -> tuple[np.ndarray, Params]:
        factor = draw(level, rng)
        return _enhance(image, kind, factor), {"factor": factor}

    transform.__doc__ = f"{kind} {direction} with PIL ImageEnhance (published factor)."
    return transform


brightness_up = _enhance_transform("brightness", "up")
brightness_down = _enhance_transform("brightness", "down")
contrast_up = _enhance_transform("contrast", "up")
contrast_down = _enhance_transform("contrast", "down")


def random_digital(
    image: np.ndarray, level: int, rng: np.random.Generator, scale: float = 1.0
) -> tuple[np.ndarray, Params]:
    """Contrast up or down (coin flip), then brightness up or down (coin flip)."""
    contrast_dir = "up" if rng.integers(0, 2) else "down"
    contrast = up_factor(level, rng) if contrast_dir == "up" else down_factor(level, rng)
    out = _enhance(image, "contrast", contrast)
    brightness_dir = "up" if rng.integers(0, 2) else "down"
    brightness = up_factor(level, rng) if brightness_dir == "up" else down_factor(level, rng)
    out = _enhance(out, "brightness", brightness)
    params = {
        "contrast": contrast_dir,
        "contrast_factor": contrast,
        "brightness": brightness_dir,
        "brightness_factor": brightness,
    }
    return out, params


def exposure(
    image: np.ndarray, level: int, rng: np.random.Generator, scale: float = 1.0
) -> tuple[np.ndarray, Params]:
    """Sigmoid contrast 255/(1+exp(5·(0.5 - x/255))), truncated to uint8; level-independent."""
    x = np.arange(256, dtype=np.float64) / 255.0
    lut = (255.0 / (1.0 + np.exp(EXPOSURE_GAIN * (EXPOSURE_CUTOFF - x)))).astype(np.uint8)
    return lut[image], {"cutoff": EXPOSURE_CUTOFF, "gain": EXPOSURE_GAIN}


def blur(
    image: np.ndarray, level: int, rng: np.random.Generator, scale: float = 1.0
) -> tuple[np.ndarray, Params]:
    """PIL Gaussian blur, radius (= σ) 1.5/3/6/10 reference px for levels 1–4."""
    radius_px = BLUR_RADIUS_PX[level] * scale
    out = Image.fromarray(image).filter(ImageFilter.GaussianBlur(radius=radius_px))
    return np.asarray(out), {"radius_px": radius_px}


def motion(
    image: np.ndarray, level: int, rng: np.random.Generator, scale: float = 1.0
) -> tuple[np.ndarray, Params]:
    """Horizontal box blur of 2/10/25/45 reference px.

    The original used an n×n kernel whose single row of ones sits at row
    ``(n-1)//2`` while filter2D anchors at row ``n//2``: even n moved the image
    down by one pixel. We use a 1×n kernel (no vertical shift). The horizontal
    half-pixel shift of an even-length box is inherent, so it is recorded in H.
    """
    size_px = max(1, round(MOTION_KERNEL_PX[level] * scale))
    kernel = np.full((1, size_px), 1.0 / size_px)
    out = cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT_101)
    # filter2D anchors at size//2: dst(x) averages src(x - size//2 ... x + size - 1 - size//2).
    shift_x = float(size_px // 2) - (size_px - 1) / 2.0
    return out, {"kernel_px": size_px, "H": translation_matrix(shift_x, 0.0)}


def identity(
    image: np.ndarray, level: int, rng: np.random.Generator, scale: float = 1.0
) -> tuple[np.ndarray, Params]:
    """No change."""
    return image.copy(), {}
