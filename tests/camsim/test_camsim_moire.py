"""Moiré is aliasing: it appears where physics says and nowhere else.

A flat grey RGB-stripe screen is a periodic pattern at f_s = 1/m cycles per
photosite (m = photo pixels per screen pixel, measured with cv2.projectPoints).
Sampling it with photosites at 1 cycle/px (the green channel after demosaicing) or
every second photosite (0.5 cycle/px: the red plane) folds f_s to the beat
|f_s - n·f_sample|: a low-frequency moiré exactly there when m is near 1 (or 2 for
the red plane). Close up (screen pixels resolved), or with the lens defocused, the
pattern's energy near the sampling frequency is gone before sampling and no
low-frequency peak remains.
"""

from __future__ import annotations

import numpy as np
import pytest

from rig.camsim import SimCamera, load_preset, project_screen_points
from rig.camsim.params import CameraParams

SCREEN_WH = (480, 320)
CROP = 256
LOW_BAND = (0.015, 0.15)  # cycles per photo pixel: "low frequency" (the quincunx folds of
# the green lattice at fy = 0.5 cycle/px lie outside)


def grey_screen_params(magnification: float, defocus_px: float) -> CameraParams:
    base = load_preset("tripod-ideal").with_values({
        "sensor.width_px": 1024, "sensor.height_px": 768, "sensor.full_well_e": 1e9,
        "sensor.read_noise_e": 0.0, "sensor.jpeg_quality": 100, "lens.vignetting": 0.0,
        # Linear tone and 4:4:4 JPEG: no intermodulation or chroma folding on top.
        "sensor.tone_gamma": 1.0, "sensor.jpeg_chroma": "444", "sensor.exposure": 1.5,
        "display.fill_factor_y": 1.0, "lens.defocus_px": defocus_px,
    })
    distance = base.focal_px * base.display.pixel_pitch_mm / magnification
    return base.with_values({"pose.distance_mm": distance})


def measured_magnification(truth: dict) -> float:
    """Photo pixels per screen pixel at the screen centre, from cv2.projectPoints."""
    cx, cy = SCREEN_WH[0] / 2, SCREEN_WH[1] / 2
    uv = project_screen_points(truth, np.array([[cx - 50, cy], [cx + 50, cy]]))
    return float(np.hypot(*(uv[1] - uv[0])) / 100)


def low_band_peak(channel: np.ndarray, true_freq: float = 0.0) -> tuple[float, float, float]:
    """(|f|, amplitude / mean, |fy|) of the strongest low-band peak of a centred crop.

    With ``true_freq`` (the screen pattern's own frequency in cycles / photo pixel) the
    band also stops at half of it: below that only aliasing can put energy.
    """
    h, w = channel.shape
    crop = channel[h // 2 - CROP // 2 : h // 2 + CROP // 2,
                   w // 2 - CROP // 2 : w // 2 + CROP // 2].astype(np.float64)
    mean = crop.mean()
    window = np.outer(np.hanning(CROP), np.hanning(CROP))
    spectrum = np.abs(np.fft.fft2((crop - mean) * window)) * 2 / window.sum()
    f = np.fft.fftfreq(CROP)
    fx, fy = np.meshgrid(f, f)
    radius = np.hypot(fx, fy)
    top = LOW_BAND[1] if true_freq <= 0 else min(LOW_BAND[1], true_freq / 2)
    band = (radius > LOW_BAND[0]) & (radius < top)
    idx = np.unravel_index(np.argmax(np.where(band, spectrum, 0)), spectrum.shape)
    return float(radius[idx]), float(spectrum[idx] / mean), float(abs(fy[idx]))


def photograph_grey(params: CameraParams) -> tuple[np.ndarray, float]:
    photo = SimCamera(params, seed=5).capture(np.full((SCREEN_WH[1], SCREEN_WH[0]), 110,
                                                      np.uint8))
    return photo.image, measured_magnification(photo.truth)


@pytest.mark.parametrize("magnification", [1.06, 0.94, 1.1])
def test_beat_appears_at_the_predicted_frequency_in_green(magnification):
    image, m = photograph_grey(grey_screen_params(magnification, defocus_px=0.25))
    freq, amplitude, fy = low_band_peak(image[:, :, 1], 1 / m)
    predicted = abs(1 / m - 1)  # f_screen - f_photosite
    assert amplitude > 0.01
    assert abs(freq - predicted) < 1.5 / CROP
    assert fy < 1.5 / CROP  # vertical stripes beat horizontally


def screen_frequency_at_photo_centre(truth: dict) -> np.ndarray:
    """The stripe pattern's frequency vector (cycles / photo pixel) at the photo centre.

    g = J^-T (1, 0) with J = d(photo)/d(screen) from cv2.projectPoints, at the screen
    point that projects to the photo centre (found by Newton steps).
    """
    w, h = truth["image_size"]
    target = np.array([(w - 1) / 2, (h - 1) / 2])
    point = np.array([SCREEN_WH[0] / 2, SCREEN_WH[1] / 2])
    for _ in range(6):
        uv = project_screen_points(truth, np.stack([point, point + np.array([1e-3, 0.0]),
                                                    point + np.array([0.0, 1e-3])]))
        jac = np.column_stack([(uv[1] - uv[0]) / 1e-3, (uv[2] - uv[0]) / 1e-3])
        point = point + np.linalg.solve(jac, target - uv[0])
    return np.asarray(np.linalg.inv(jac).T @ np.array([1.0, 0.0]))


def strongest_low_peak_vector(channel: np.ndarray) -> np.ndarray:
    h, w = channel.shape
    crop = channel[h // 2 - CROP // 2 : h // 2 + CROP // 2,
                   w // 2 - CROP // 2 : w // 2 + CROP // 2].astype(np.float64)
    window = np.outer(np.hanning(CROP), np.hanning(CROP))
    spectrum = np.abs(np.fft.fft2((crop - crop.mean()) * window))
    f = np.fft.fftfreq(CROP)
    fx, fy = np.meshgrid(f, f)
    radius = np.hypot(fx, fy)
    band = (radius > LOW_BAND[0]) & (radius < LOW_BAND[1])
    idx = np.unravel_index(np.argmax(np.where(band, spectrum, 0)), spectrum.shape)
    return np.array([fx[idx], fy[idx]])


@pytest.mark.parametrize(("roll_deg", "yaw_deg", "magnification"),
                         [(2.0, 0.0, 1.06), (5.0, 0.0, 1.06), (3.0, 0.0, 0.95),
                          (0.0, 15.0, 1.12)])
def test_beat_vector_follows_the_camera_angle(roll_deg, yaw_deg, magnification):
    """Rolling the camera turns the beat (a small roll, a large turn); yawing it
    foreshortens the pitch. Predicted: g minus the nearest photosite-lattice frequency."""
    params = grey_screen_params(magnification, defocus_px=0.25).with_values(
        {"pose.roll_deg": roll_deg, "pose.yaw_deg": yaw_deg})
    photo = SimCamera(params, seed=5).capture(np.full((SCREEN_WH[1], SCREEN_WH[0]), 110,
                                                      np.uint8))
    g = screen_frequency_at_photo_centre(photo.truth)
    predicted = g - np.round(g)
    measured = strongest_low_peak_vector(photo.image[:, :, 1])
    # A real spectrum is symmetric: the peak is found at +beat or -beat.
    error = min(np.hypot(*(measured - predicted)), np.hypot(*(measured + predicted)))
    assert error < 1.5 / CROP


@pytest.mark.parametrize("magnification", [2.1, 1.9])
def test_red_plane_aliases_at_twice_the_photosite_pitch(magnification):
    image, m = photograph_grey(grey_screen_params(magnification, defocus_px=0.5))
    freq, amplitude, _ = low_band_peak(image[:, :, 2], 1 / m)
    predicted = abs(1 / m - 0.5)  # red photosites sample every second pixel
    assert amplitude > 0.05
    assert abs(freq - predicted) < 1.5 / CROP


def test_moire_vanishes_when_the_screen_pixels_are_resolved():
    aliased, m_near = photograph_grey(grey_screen_params(1.06, defocus_px=0.25))
    resolved, m_close = photograph_grey(grey_screen_params(8.3, defocus_px=0.25))
    strong = low_band_peak(aliased[:, :, 1], 1 / m_near)[1]
    assert low_band_peak(resolved[:, :, 1], 1 / m_close)[1] < strong / 10


@pytest.mark.parametrize(("magnification", "channel"), [(1.06, 1), (2.1, 2)])
def test_moire_vanishes_with_defocus(magnification, channel):
    sharp, m = photograph_grey(grey_screen_params(magnification, defocus_px=0.25))
    blurred, _ = photograph_grey(grey_screen_params(magnification, defocus_px=1.5))
    strong = low_band_peak(sharp[:, :, channel], 1 / m)[1]
    assert low_band_peak(blurred[:, :, channel], 1 / m)[1] < strong / 10
