"""The sensor and ISP: Bayer exposure with Poisson–Gaussian noise, demosaic, tone, JPEG.

The raw mosaic is RGGB (red photosite at row 0, column 0). Photon shot noise is
Poisson in electrons; at the counts of a lit screen it is simulated with its
Gaussian approximation N(e, e) (Foi et al. 2008's Poisson–Gaussian model), plus
Gaussian read noise. The ISP applies digital gain and white balance to the raw,
a tone curve, demosaics with OpenCV's bilinear Bayer conversion and encodes a
baseline JPEG.
"""

from __future__ import annotations

import cv2
import numpy as np

from rig.camsim.params import SensorParams
from rig.errors import DeviceError
from rig.imaging import codec

# (row offset, column offset, BGR channel) of the four photosites of an RGGB quad.
BAYER_PLANES = ((0, 0, 2), (0, 1, 1), (1, 0, 1), (1, 1, 0))
# OpenCV names Bayer codes after the second row's pattern: its "BG" is our RGGB
# (checked in tests: a red-only mosaic demosaics to red).
DEMOSAIC_CODE = cv2.COLOR_BayerBG2BGR
RAW_MAX = 65535


def expose_plane(
    irradiance: np.ndarray, channel: int, sensor: SensorParams, rng: np.random.Generator
) -> np.ndarray:
    """Relative irradiance of one Bayer plane -> noisy, white-balanced raw (uint16).

    Works in place on ``irradiance`` (float32, overwritten) to keep a 12 MP photo fast.
    """
    electrons = irradiance
    electrons *= np.float32(sensor.exposure * sensor.full_well_e)
    sigma = np.add(electrons, np.float32(sensor.read_noise_e**2))
    cv2.sqrt(sigma, sigma)
    noise = np.empty_like(electrons)
    # OpenCV's normal generator is ~5x faster than numpy's; it is seeded from our
    # generator right before use (its state is per thread), so results stay reproducible.
    cv2.setRNGSeed(int(rng.integers(1, 2**31 - 1)))
    cv2.randn(noise, np.zeros(1), np.ones(1))
    noise *= sigma
    electrons += noise
    np.clip(electrons, 0, sensor.full_well_e, out=electrons)  # the well saturates
    wb = (sensor.wb_gain_b, 1.0, sensor.wb_gain_r)[channel]
    electrons *= np.float32(RAW_MAX * sensor.digital_gain * wb / sensor.full_well_e)
    np.minimum(electrons, RAW_MAX, out=electrons)
    return electrons.astype(np.uint16)


def tone_lut(sensor: SensorParams) -> np.ndarray:
    """Raw (16 bit) -> 8-bit output: gamma encoding, S-curve contrast, black lift."""
    x = np.arange(RAW_MAX + 1, dtype=np.float64) / RAW_MAX
    t = x ** (1.0 / sensor.tone_gamma)
    s = (1 - sensor.tone_contrast) * t + sensor.tone_contrast * (3 * t**2 - 2 * t**3)
    y = sensor.tone_lift + (1 - sensor.tone_lift) * s
    return np.clip(np.rint(255 * y), 0, 255).astype(np.uint8)


def develop(mosaic: np.ndarray, sensor: SensorParams) -> np.ndarray:
    """RGGB uint16 mosaic (H, W) -> tone-mapped BGR uint8 (H, W, 3).

    The tone curve is applied to the mosaic, then the 8-bit mosaic is demosaiced: a
    third of the look-ups of tone-mapping the demosaiced image (the slowest step of a
    12 MP photo otherwise); the difference is confined to the colour of sharp edges.
    """
    toned = tone_lut(sensor).take(mosaic.ravel()).reshape(mosaic.shape)
    return np.asarray(cv2.cvtColor(toned, DEMOSAIC_CODE))


JPEG_SAMPLING = {
    "420": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
    "422": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422,
    "444": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
}


def encode_jpeg(bgr: np.ndarray, quality: int, chroma: str = "420") -> bytes:
    """Baseline JPEG (libjpeg via OpenCV: deterministic for the same input).

    4:2:0 chroma subsampling, as phones use, folds fine colour moiré into coarser
    colour blotches: one more real artefact of screen photos.
    """
    return codec.encode_jpeg(bgr, quality, sampling_factor=JPEG_SAMPLING[chroma],
                             what="simulated camera", error=DeviceError)


def decode_jpeg(data: bytes) -> np.ndarray:
    return codec.decode_color(data, "simulated camera: JPEG", error=DeviceError)
