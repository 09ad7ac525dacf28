"""Acquisition of a generated radiograph: quantum and detector noise, then CR processing.

Noise (in the log-exposure domain the image lives in): a pixel behind attenuation A
receives N = q·a·e^(−A) quanta (q effective quanta per mm², a the pixel area), so its
log signal has sd 1/√N: noisier behind the heart and abdomen, finer pixels noisier.
Signal and quantum noise are blurred by the phosphor (a Gaussian MTF), then electronic
noise, per-row read-out gain noise and, on some images, anti-scatter grid lines are
added. This gives the noise power spectrum its shape (falling with frequency, with row
streaks and a grid-line peak) instead of flat film grain.

Processing follows what CR/DR consoles do before display: dynamic-range compression
(subtract part of a heavily blurred copy, so lungs and mediastinum both show), unsharp
masking (edges and fine structure enhanced, as Fuji MFP / Agfa MUSICA do), then a
percentile window and a film-like S curve to display grey in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from rig.library.anatomy import FOV_WIDTH_MM
from rig.library.drawing import Grid, upsample


@dataclass(frozen=True)
class Detector:
    quanta_per_mm2: float  # effective (after DQE), at zero attenuation
    mtf_sigma_mm: float
    electronic_sd: float
    row_gain_sd: float
    grid_cycles_per_mm: float  # 0 = no visible grid lines
    grid_amplitude: float
    drc: float  # dynamic-range compression strength
    unsharp: float  # edge-enhancement gain
    unsharp_mm: float
    gamma: float  # S-curve steepness


def draw_detector(rng: np.random.Generator) -> Detector:
    has_grid = rng.random() < 0.25
    return Detector(
        quanta_per_mm2=float(np.exp(rng.uniform(np.log(2e5), np.log(8e5)))),
        mtf_sigma_mm=float(rng.uniform(0.06, 0.12)),
        electronic_sd=float(rng.uniform(0.002, 0.005)),
        row_gain_sd=float(rng.uniform(0.0, 0.004)),
        grid_cycles_per_mm=float(rng.uniform(3.0, 7.0)) if has_grid else 0.0,
        grid_amplitude=float(rng.uniform(0.0008, 0.002)) if has_grid else 0.0,
        drc=float(rng.uniform(0.45, 0.65)),
        unsharp=float(rng.uniform(0.3, 0.6)),
        unsharp_mm=float(rng.uniform(1.5, 3.0)),
        gamma=float(rng.uniform(0.6, 0.95)),
    )


def expose(attenuation: np.ndarray, grid: Grid, det: Detector,
           rng: np.random.Generator) -> np.ndarray:
    """Noisy, blurred log-exposure signal (bright = dense), same shape as the input."""
    mm_per_px = FOV_WIDTH_MM / grid.cols
    quanta = det.quanta_per_mm2 * mm_per_px**2
    sd = np.exp(0.5 * np.clip(attenuation, -1.0, 6.0)) / np.sqrt(quanta)
    signal = attenuation + sd * rng.standard_normal(attenuation.shape, dtype=np.float32)
    sigma_px = det.mtf_sigma_mm / mm_per_px
    if sigma_px > 0.3:
        signal = cv2.GaussianBlur(signal, (0, 0), sigma_px)
    signal += det.electronic_sd * rng.standard_normal(attenuation.shape, dtype=np.float32)
    rows = det.row_gain_sd * rng.standard_normal((grid.rows, 1)).astype(np.float32)
    signal += cv2.GaussianBlur(rows, (1, 0), 0.7) if grid.rows > 1 else rows
    if det.grid_cycles_per_mm > 0:
        # Grid lines run down the columns; sampled by the pixel pitch they alias.
        x = np.arange(grid.cols, dtype=np.float32) * mm_per_px
        phase = float(rng.uniform(0, 2 * np.pi))
        signal += det.grid_amplitude * np.sin(2 * np.pi * det.grid_cycles_per_mm * x + phase)[None, :]
    return signal.astype(np.float32)


def process(signal: np.ndarray, grid: Grid, det: Detector) -> np.ndarray:
    """CR-style processing of the log signal to display grey (H, W) in [0, 1]."""
    coarse = grid.coarse()
    small = cv2.resize(signal, (coarse.cols, coarse.rows), interpolation=cv2.INTER_AREA)
    base = cv2.GaussianBlur(small, (0, 0), coarse.cols * 0.1)
    out = signal - det.drc * (upsample(base, grid) - float(base.mean()))
    mm_per_px = FOV_WIDTH_MM / grid.cols
    sigma = det.unsharp_mm / mm_per_px
    if sigma > 0.5:
        out = out + det.unsharp * (out - cv2.GaussianBlur(out, (0, 0), sigma))
    sample = out[:: max(1, grid.rows // 256), :: max(1, grid.cols // 256)]
    lo, p50, p95, hi = (float(v) for v in np.percentile(sample, [1.0, 50.0, 95.0, 99.7]))
    hi = min(hi, p95 + 1.0 * (p95 - p50))  # metal (pacemakers, markers) must not set the window
    # Mid-tones kept below the highlights a phone photo of the screen clips (docs/samples.md).
    x = np.clip((out - lo) / max(hi - lo, 1e-6), 0.0, 1.0) ** 1.3
    # Film-like S curve: toe and shoulder, mid-grey contrast set by gamma.
    curved = 0.5 + 0.5 * np.tanh(det.gamma * 2.2 * (x - 0.5)) / np.tanh(det.gamma * 1.1)
    return np.clip(curved, 0.0, 1.0).astype(np.float32)
