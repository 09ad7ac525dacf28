from __future__ import annotations

import cv2
import numpy as np

from rig.camsim.testframes import xray_like_image


def real_like_image(seed: int = 3, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """A chest-like radiograph with what real films have: a black collimation band, a
    flat burnt-out region and a burned-in text label."""
    image = xray_like_image(seed, size).copy()
    image[:, :24] = 0  # collimator edge
    image[-60:, -120:] = 250  # flat, nearly white
    cv2.putText(image, "L  AP PORTABLE", (40, 40), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 255, 2)
    return image


def camera_tone(image: np.ndarray) -> np.ndarray:
    """A phone-like tone curve: lifted blacks, gamma, compressed highlights (monotone)."""
    x = image.astype(np.float64) / 255.0
    return np.clip(np.rint(255 * (0.06 + 0.88 * x**0.7)), 0, 255).astype(np.uint8)


def add_glare(image: np.ndarray, fraction: float, strength: float = 120.0) -> np.ndarray:
    """A smooth bright veil covering about ``fraction`` of the image (a disc)."""
    h, w = image.shape
    radius = np.sqrt(fraction * h * w / np.pi)
    yy, xx = np.mgrid[0:h, 0:w]
    disc = ((yy - h / 2) ** 2 + (xx - w / 2) ** 2 <= radius**2).astype(np.float32)
    veil = cv2.GaussianBlur(disc, (0, 0), 2.0)
    return np.clip(image + strength * veil, 0, 255).astype(np.uint8)
