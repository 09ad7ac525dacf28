"""Synthetic screen frames for tests, benchmarks and demos (no patient data).

``xray_like_frame`` draws a plausible chest-radiograph-like 8-bit image (soft
tissue, dark lungs, bright mediastinum and spine, curved ribs, clavicles, a
diaphragm dome, film-grain-like texture) and places it on a black screen with the
compositor, like a real displayed radiograph.
"""

from __future__ import annotations

import cv2
import numpy as np

from rig.imaging.compositor import compose


def _soft(mask: np.ndarray, sigma_px: float) -> np.ndarray:
    return np.asarray(cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigma_px))


def xray_like_image(seed: int, size: tuple[int, int] = (1000, 1000)) -> np.ndarray:
    """A chest-radiograph-like image, uint8 (h, w) for ``size`` = (w, h)."""
    w, h = size
    rng = np.random.default_rng(seed)
    jitter = rng.uniform(-0.04, 0.04, 8)
    v, u = np.mgrid[-1 : 1 : h * 1j, -1 : 1 : w * 1j].astype(np.float32)
    scale = min(w, h)
    torso = ((u / (0.8 + jitter[0])) ** 2 + ((v - 0.15) / 1.15) ** 2) < 1
    img = 0.04 + 0.42 * _soft(torso, 0.02 * scale) * (0.9 + 0.2 * (v + 1) / 2)
    lungs = np.zeros_like(u)
    ribs = np.zeros_like(u)
    clavicles = np.zeros_like(u)
    for side in (-1, 1):
        cx, cy = side * (0.38 + jitter[1]), -0.05 + jitter[2]
        lung = (((u - cx) / 0.27) ** 2 + ((v - cy) / 0.62) ** 2) < 1
        lungs = np.maximum(lungs, lung.astype(np.float32))
        for k in range(9):  # ribs: curved bands sweeping down and outwards
            y0 = -0.62 + 0.14 * k + jitter[3]
            lateral = np.clip(u * side, 0, None)  # distance from the spine on this side
            curve = y0 - 0.25 * lateral + 0.9 * lateral**2
            band = (np.abs(v - curve) < 0.02 + 0.003 * k) & (lateral < 0.75) & (u * side > 0.05)
            ribs = np.maximum(ribs, band.astype(np.float32))
        clavicle = (np.abs(v - (-0.7 + 0.25 * np.abs(u) - 0.1 * side * u)) < 0.03) & (
            np.abs(u - side * 0.3) < 0.3)
        clavicles = np.maximum(clavicles, clavicle.astype(np.float32))
    img += 0.11 * _soft(ribs, 0.004 * scale) + 0.15 * _soft(clavicles, 0.005 * scale)
    img -= 0.28 * _soft(lungs, 0.03 * scale)
    heart = (((u - 0.1 - jitter[4]) / 0.3) ** 2 + ((v - 0.3) / 0.3) ** 2) < 1
    spine = np.abs(u - jitter[5] * 0.2) < 0.07
    diaphragm = v > 0.55 + 0.12 * np.cos(np.pi * u) + jitter[6]
    img += 0.22 * _soft(heart, 0.02 * scale) + 0.22 * _soft(spine & torso, 0.01 * scale)
    img += 0.2 * _soft(diaphragm & torso, 0.02 * scale)
    # Texture: smooth vessel/parenchyma mottle plus fine grain.
    mottle = _soft(rng.standard_normal((h, w)).astype(np.float32), 0.006 * scale)
    img += 0.25 * mottle * (0.3 + lungs) + 0.012 * rng.standard_normal((h, w))
    img = np.clip(img, 0, 1) ** (0.9 + jitter[7])
    return np.asarray(np.clip(np.rint(255 * img), 0, 255).astype(np.uint8))


def xray_like_frame(
    seed: int,
    size: tuple[int, int] = (1000, 1000),
    screen_wh: tuple[int, int] = (1920, 1080),
) -> np.ndarray:
    """``xray_like_image`` of ``size`` placed 1:1 (or fitted) on a black screen frame."""
    image = xray_like_image(seed, size)
    mode = "1:1" if size[0] <= screen_wh[0] and size[1] <= screen_wh[1] else "fit"
    frame, _ = compose(image, screen_wh, mode)
    return frame
