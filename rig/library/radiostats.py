"""Image statistics that tell a radiograph from a smooth phantom, and the real references.

Three families, all computed on the *displayed* image (grey levels in [0, 1], bright =
dense) after shrinking its long side to ``analysis_px`` (INTER_AREA; never enlarged), so
images of different sizes are compared at the same scale:

- the radially averaged power spectrum (Hann-windowed, mean removed): a power law
  P(f) ∝ f^-β over two bands; ``psd_slope_low`` (0.01–0.1 cycles/px, anatomy: lungs,
  ribs, heart) and ``psd_slope_high`` (0.1–0.4 cycles/px, fine structure and noise:
  trabeculae, vessels, edges, quantum and detector noise). The slope is the fitted
  exponent (negative: power falls with frequency).
- edge density: the fraction of pixels that Canny (σ = 1 Gaussian, thresholds 20/50 on
  8-bit grey) marks as edges.
- grey-level histogram: mean, sd, skewness, excess kurtosis, 5th/50th/95th percentiles
  and the fractions of near-black (< 0.05) and near-white (> 0.95) pixels.

Real radiographs come from the ``pydicom-data`` package (a dev dependency, installed
from PyPI; nothing is downloaded at run time and nothing is bundled with rig):
``RG1_UNCR`` (a CR chest PA, 1955×1841, 15 bits, MONOCHROME1) and ``RG3_UNCR`` (a CR
tibia, 1760×1760, 10 bits, MONOCHROME1). ``real_references()`` returns what is installed.
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

ANALYSIS_PX = 720  # the demo samples' long side: every image is compared at this scale
LOW_BAND = (0.01, 0.1)  # cycles per analysis pixel
HIGH_BAND = (0.1, 0.4)
CANNY_THRESHOLDS = (20, 50)
REAL_FILES = {"RG1_UNCR.dcm": "CR chest PA (pydicom-data RG1)",
              "RG3_UNCR.dcm": "CR tibia (pydicom-data RG3)"}


# The real radiographs' statistics at ANALYSIS_PX (RG1 chest, RG3 tibia; measured by
# ``image_statistics``, checked against the installed files by the tests), and the bands a
# generated image must fall in: slopes within 0.7 of the real range, edge density within
# half the lowest to twice the highest real value (docs/samples.md).
REAL_MEASURED = {
    "RG1_UNCR": {"psd_slope_low": -3.5824, "psd_slope_high": -3.5351, "edge_density": 0.0453},
    "RG3_UNCR": {"psd_slope_low": -3.4497, "psd_slope_high": -4.3192, "edge_density": 0.0121},
}
SLOPE_MARGIN = 0.7
BANDS = {
    "psd_slope_low": (-3.5824 - SLOPE_MARGIN, -3.4497 + SLOPE_MARGIN),
    "psd_slope_high": (-4.3192 - SLOPE_MARGIN, -3.5351 + SLOPE_MARGIN),
    "edge_density": (0.0121 / 2, 0.0453 * 2),
}


@dataclass(frozen=True)
class ImageStats:
    psd_slope_low: float
    psd_slope_high: float
    edge_density: float
    mean: float
    sd: float
    skewness: float
    kurtosis: float
    p05: float
    p50: float
    p95: float
    dark_fraction: float
    bright_fraction: float

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in asdict(self).items()}


def to_analysis_scale(display: np.ndarray, analysis_px: int = ANALYSIS_PX) -> np.ndarray:
    """``display`` (H, W) in [0, 1] shrunk (INTER_AREA) to a long side of ``analysis_px``."""
    image = np.asarray(display, np.float32)
    scale = analysis_px / max(image.shape)
    if scale >= 1.0:  # never upsample: interpolation would invent a spectrum
        return image
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return np.clip(cv2.resize(image, size, interpolation=cv2.INTER_AREA), 0.0, 1.0)


def radial_power_spectrum(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies in cycles/px, mean power per frequency ring) of a windowed image."""
    h, w = image.shape
    window = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    centred = (image - image.mean()) * window
    power = np.abs(np.fft.rfft2(centred)) ** 2  # (H, W//2+1)
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    radius = np.sqrt(fy**2 + fx**2)
    n_bins = min(h, w) // 2
    bins = np.minimum((radius * 2 * n_bins).astype(np.int64), 2 * n_bins)
    sums = np.bincount(bins.ravel(), power.ravel(), minlength=2 * n_bins + 1)
    counts = np.bincount(bins.ravel(), minlength=2 * n_bins + 1)
    freqs = (np.arange(sums.size) + 0.5) / (2 * n_bins)
    keep = counts > 0
    return freqs[keep], sums[keep] / counts[keep]


def psd_slope(freqs: np.ndarray, power: np.ndarray, band: tuple[float, float]) -> float:
    """Least-squares slope of log10 power against log10 frequency inside ``band``."""
    inside = (freqs >= band[0]) & (freqs <= band[1]) & (power > 0)
    if inside.sum() < 3:
        return float("nan")
    slope, _ = np.polyfit(np.log10(freqs[inside]), np.log10(power[inside]), 1)
    return float(slope)


def edge_density(image: np.ndarray) -> float:
    """Fraction of Canny edge pixels (σ = 1 pre-blur, fixed 8-bit thresholds)."""
    grey = np.asarray(np.rint(np.clip(image, 0, 1) * 255), np.uint8)
    edges = cv2.Canny(cv2.GaussianBlur(grey, (0, 0), 1.0), *CANNY_THRESHOLDS, L2gradient=True)
    return float(np.count_nonzero(edges)) / edges.size


def image_statistics(display: np.ndarray, analysis_px: int = ANALYSIS_PX) -> ImageStats:
    """All statistics of one displayed image ((H, W), values in [0, 1], bright = dense)."""
    image = to_analysis_scale(display, analysis_px)
    freqs, power = radial_power_spectrum(image)
    values = image.ravel().astype(np.float64)
    mean, sd = float(values.mean()), float(values.std())
    z = (values - mean) / (sd + 1e-12)
    p05, p50, p95 = (float(v) for v in np.percentile(values, [5, 50, 95]))
    return ImageStats(
        psd_slope_low=psd_slope(freqs, power, LOW_BAND),
        psd_slope_high=psd_slope(freqs, power, HIGH_BAND),
        edge_density=edge_density(image),
        mean=mean, sd=sd, skewness=float((z**3).mean()), kurtosis=float((z**4).mean() - 3.0),
        p05=p05, p50=p50, p95=p95,
        dark_fraction=float((values < 0.05).mean()),
        bright_fraction=float((values > 0.95).mean()),
    )


def inside_band(stats: ImageStats, key: str) -> bool:
    """Is ``stats``' value of ``key`` inside ``BANDS[key]``?"""
    low, high = BANDS[key]
    return bool(low <= getattr(stats, key) <= high)


def display_from_stored(pixels: np.ndarray, monochrome1: bool,
                        window: tuple[float, float] | None = None) -> np.ndarray:
    """Stored values → displayed grey in [0, 1] (bright = dense), linear VOI window.

    Without a window, the 0.5–99.5 percentile range is used (what an auto-window shows).
    MONOCHROME1 is inverted after windowing (PS3.3 C.7.6.3.1.2).
    """
    values = np.asarray(pixels, np.float32)
    if window is None:
        lo, hi = (float(v) for v in np.percentile(values, [0.5, 99.5]))
    else:
        centre, width = window
        lo, hi = centre - width / 2, centre + width / 2
    out = np.clip((values - lo) / max(hi - lo, 1e-6), 0.0, 1.0)
    return 1.0 - out if monochrome1 else out


def reference_dir() -> Path | None:
    """The folder of pydicom-data's files, or None when the package is not installed."""
    spec = importlib.util.find_spec("data_store")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "data"
    return folder if folder.is_dir() else None


def real_references() -> dict[str, np.ndarray]:
    """Displayed real radiographs available from installed packages (name → (H, W) [0, 1])."""
    import pydicom

    folder = reference_dir()
    out: dict[str, np.ndarray] = {}
    if folder is None:
        return out
    for name in REAL_FILES:
        path = folder / name
        if path.is_file():
            ds = pydicom.dcmread(path)
            out[name.removesuffix(".dcm")] = display_from_stored(
                ds.pixel_array, ds.PhotometricInterpretation == "MONOCHROME1")
    return out
