"""Image statistics: checked on signals with known answers, on the real radiographs that
pydicom-data installs, and the generated samples against the documented bands."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from rig.library import radiostats as rs
from rig.library.samples import SampleSpec, draw_case, render_case


def power_law_noise(beta: float, size: int = 512, seed: int = 0) -> np.ndarray:
    """Noise whose power spectrum is exactly ∝ f^-beta (random phases), scaled to [0, 1]."""
    rng = np.random.default_rng(seed)
    fy, fx = np.fft.fftfreq(size)[:, None], np.fft.rfftfreq(size)[None, :]
    f = np.hypot(fy, fx)
    f[0, 0] = 1.0
    spectrum = f ** (-beta / 2) * np.exp(2j * np.pi * rng.random(f.shape))
    image = np.fft.irfft2(spectrum, s=(size, size))
    return (image - image.min()) / np.ptp(image)


@pytest.mark.parametrize("beta", [1.5, 2.5, 3.5])
def test_psd_slope_recovers_a_known_power_law(beta: float) -> None:
    freqs, power = rs.radial_power_spectrum(power_law_noise(beta).astype(np.float32))
    for band in (rs.LOW_BAND, rs.HIGH_BAND):
        assert rs.psd_slope(freqs, power, band) == pytest.approx(-beta, abs=0.2)


def test_edge_density_counts_a_drawn_edge() -> None:
    image = np.zeros((400, 400), np.float32)
    image[:, 200:] = 1.0
    assert rs.edge_density(image) == pytest.approx(400 / 400**2, rel=0.1)  # one column of edge pixels
    assert rs.edge_density(np.full((400, 400), 0.5, np.float32)) == 0.0


def test_histogram_statistics_of_a_known_image() -> None:
    image = np.zeros((100, 100), np.float32)
    image[:, 50:] = 1.0
    stats = rs.image_statistics(image)
    assert stats.mean == pytest.approx(0.5) and stats.sd == pytest.approx(0.5)
    assert stats.dark_fraction == pytest.approx(0.5) and stats.bright_fraction == pytest.approx(0.5)
    assert stats.skewness == pytest.approx(0.0, abs=1e-6) and stats.kurtosis == pytest.approx(-2.0)


def test_the_real_radiographs_are_installed_and_match_the_documented_values() -> None:
    real = rs.real_references()
    assert set(real) == set(rs.REAL_MEASURED), "pip install pydicom-data (a dev dependency)"
    for name, image in real.items():
        assert image.shape[0] > 1700 and image.min() >= 0.0 and image.max() <= 1.0
        measured = rs.image_statistics(image).to_dict()
        for key, value in rs.REAL_MEASURED[name].items():
            assert measured[key] == pytest.approx(value, abs=2e-3), (name, key)
            assert rs.BANDS[key][0] <= value <= rs.BANDS[key][1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_generated_demo_images_lie_in_the_real_bands(seed: int) -> None:
    image = render_case(draw_case(np.random.default_rng(seed)), SampleSpec())
    stats = rs.image_statistics(image)
    for key in rs.BANDS:
        assert rs.inside_band(stats, key), (key, getattr(stats, key), rs.BANDS[key])


def test_a_generated_cr_size_image_lies_in_the_real_bands() -> None:
    image = render_case(draw_case(np.random.default_rng(4)), SampleSpec.real_size())
    stats = rs.image_statistics(image)
    for key in rs.BANDS:
        assert rs.inside_band(stats, key), (key, getattr(stats, key), rs.BANDS[key])


def test_a_smooth_phantom_falls_outside_the_bands() -> None:
    """The bands can fail: the same image without its fine structure is not radiograph-like."""
    image = render_case(draw_case(np.random.default_rng(0)), SampleSpec())
    smooth = cv2.GaussianBlur(image, (0, 0), 3.0)
    stats = rs.image_statistics(smooth)
    assert not rs.inside_band(stats, "psd_slope_high")
    assert not rs.inside_band(stats, "psd_slope_low")
