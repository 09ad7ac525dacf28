"""Optics between the screen and the sensor: blur, photosite aperture, vignetting, glare.

Blur happens *before* sampling, in screen space: the lens PSF (Gaussian defocus,
``defocus_px`` sigma on the sensor) and a motion streak are mapped to screen
pixels through the local Jacobian J = d(photo)/d(screen) at the aim point. A
screen pattern at frequency f (cycles / screen pixel) reaches the sensor at
g = J^-T f (cycles / photosite), where the transfer function is

    H(g) = exp(-2π² σ² |g|²) · sinc(g_x) sinc(g_y) · sinc(L g·d)

(Gaussian PSF, the photosite's own 1×1 box aperture, a streak of length L in
direction d). This is what makes moiré fade with defocus and vanish for fine
screen pitches: high g are suppressed before the Bayer grid samples them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

from rig.camsim.params import AmbientParams, LensParams


def motion_vector_px(lens: LensParams) -> np.ndarray:
    angle = math.radians(lens.motion_angle_deg)
    return lens.motion_px * np.array([math.cos(angle), math.sin(angle)])


def transfer_function(
    lens: LensParams, jacobian: np.ndarray
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """H(fx, fy) at screen frequencies, for the blur of ``lens`` seen through ``jacobian``."""
    inv_t = np.linalg.inv(jacobian).T
    streak = motion_vector_px(lens)

    def transfer(fx: np.ndarray, fy: np.ndarray) -> np.ndarray:
        gx = inv_t[0, 0] * fx + inv_t[0, 1] * fy
        gy = inv_t[1, 0] * fx + inv_t[1, 1] * fy
        gauss = np.exp(-2 * math.pi**2 * lens.defocus_px**2 * (gx**2 + gy**2))
        return np.asarray(gauss * np.sinc(gx) * np.sinc(gy)
                          * np.sinc(streak[0] * gx + streak[1] * gy))

    return transfer


def screen_blur_kernel(lens: LensParams, jacobian: np.ndarray) -> np.ndarray | None:
    """The lens PSF (defocus ⊛ motion) in screen pixels as a normalised 2-D kernel.

    None when the blur is far below a screen pixel (nothing to do).
    """
    inv = np.linalg.inv(jacobian)
    cov = (lens.defocus_px**2) * inv @ inv.T  # Gaussian covariance in screen pixels²
    streak = inv @ motion_vector_px(lens)
    if np.sqrt(np.linalg.eigvalsh(cov).max()) < 0.15 and np.hypot(*streak) < 0.3:
        return None
    cov = cov + 0.09 * np.eye(2)  # >= 0.3 px so the sampled streak stays smooth
    radius = math.ceil(3 * math.sqrt(np.linalg.eigvalsh(cov).max()) + np.hypot(*streak) / 2) + 1
    grid = np.arange(-radius, radius + 1, dtype=np.float64)
    xs, ys = np.meshgrid(grid, grid)
    inv_cov = np.linalg.inv(cov)
    kernel = np.zeros_like(xs)
    steps = max(1, math.ceil(np.hypot(*streak) * 4))
    for t in (np.arange(steps) + 0.5) / steps - 0.5:  # average of Gaussians along the streak
        dx, dy = xs - t * streak[0], ys - t * streak[1]
        kernel += np.exp(-0.5 * (inv_cov[0, 0] * dx**2 + 2 * inv_cov[0, 1] * dx * dy
                                 + inv_cov[1, 1] * dy**2))
    return (kernel / kernel.sum()).astype(np.float32)


def blur_screen(luminance: np.ndarray, kernel: np.ndarray | None) -> np.ndarray:
    """Apply the screen-space PSF to (H, W, 3) radiance (edges replicate the frame)."""
    if kernel is None:
        return luminance
    return np.asarray(cv2.filter2D(luminance, -1, kernel, borderType=cv2.BORDER_REPLICATE))


def vignetting_gain(lens: LensParams, u: np.ndarray, v: np.ndarray,
                    image_wh: tuple[int, int]) -> np.ndarray:
    """Relative illumination 1 - vignetting·ρ², ρ = radius / corner radius."""
    cx, cy = (image_wh[0] - 1) / 2, (image_wh[1] - 1) / 2
    rho2 = ((u - cx) ** 2 + (v - cy) ** 2) / (cx**2 + cy**2)
    return np.asarray(1 - lens.vignetting * rho2)


def glare_radiance(ambient: AmbientParams, hit_x_mm: np.ndarray, hit_y_mm: np.ndarray,
                   view: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Specular reflection of a small light source on the glossy screen (relative to white).

    Hit points are in mm from the screen centre (as the light position is). The
    screen mirrors the light's direction l about its normal; where that mirror
    direction meets the direction to the camera within the lobe width, glare shows.
    """
    if ambient.glare <= 0:
        return np.zeros_like(hit_x_mm)
    lx = ambient.light_x_mm - hit_x_mm
    ly = ambient.light_y_mm - hit_y_mm
    lz = np.full_like(hit_x_mm, ambient.light_z_mm)
    norm = np.sqrt(lx**2 + ly**2 + lz**2)
    # Mirror of l about the screen normal: (-lx, -ly, lz)/|l|; compare with the view ray.
    cos_a = (-lx * view[0] - ly * view[1] + lz * view[2]) / norm
    angle = np.arccos(np.clip(cos_a, -1.0, 1.0))
    width = math.radians(ambient.glare_width_deg)
    return np.asarray(ambient.glare * np.exp(-0.5 * (angle / width) ** 2))
