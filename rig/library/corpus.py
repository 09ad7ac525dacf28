"""A real-like conformance corpus: files that look like what hospitals export.

rig's own samples are smooth phantoms sized to fit the screen, with texture
everywhere. Real exports are not: CR/DX radiographs are 2-3k px, 12-16 bits,
often MONOCHROME1, with collimation blades, flat or black backgrounds and burned-in
laterality markers; ultrasound has a black surround, a sector, text overlays and
palette or RGB colour; CT has a circular field of view with padding; MR can carry
a float Rescale Slope. ``write_corpus`` writes such files, deterministically from
a seed, with fictitious identifiers (``CORPUS^...``): 13 images (``CORPUS``).
``public_files`` lists the real public DICOM files that installed packages ship
(pydicom's test files, the ``pydicom-data`` and ``deid-data`` wheels: NEMA WG04
CR/MR/US/CT test images, a DX radiograph, ultrasound), never bundled by rig and
never downloaded at run time.

Used by the conformance tests and ``rig bench registration --corpus``.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from rig.atomic import write_bytes_atomic
from rig.imaging import codec

SOP_CLASSES = {
    "CR": UID("1.2.840.10008.5.1.4.1.1.1"),
    "DX": UID("1.2.840.10008.5.1.4.1.1.1.1"),
    "US": UID("1.2.840.10008.5.1.4.1.1.6.1"),
    "CT": UID("1.2.840.10008.5.1.4.1.1.2"),
    "MR": UID("1.2.840.10008.5.1.4.1.1.4"),
}
FAKE_NAME = "CORPUS"  # fictitious identifiers; importer tests check they never leak


@dataclass(frozen=True)
class CorpusFile:
    """One corpus image on disk."""

    name: str
    path: Path
    modality: str
    origin: str  # "generated" or the package that ships it
    note: str = ""


Maker = Callable[[np.random.Generator], Dataset | bytes]


# --- shared drawing ------------------------------------------------------------------


def _noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Unit-variance Gaussian-correlated noise (float32)."""
    out = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), sigma)
    return np.asarray(out / (out.std() + 1e-6))


def _ellipse(shape: tuple[int, int], cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    """Soft filled ellipse in [0, 1]; centre and radii as fractions of the image."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.sqrt(((yy / h - cy) / ry) ** 2 + ((xx / w - cx) / rx) ** 2)
    return np.clip((1.0 - r) * 12.0, 0.0, 1.0)


def _anatomy(
    draw: Callable[[np.random.Generator, tuple[int, int]], np.ndarray],
    rng: np.random.Generator,
    shape: tuple[int, int],
) -> np.ndarray:
    """``draw`` at a quarter of the size (anatomy is smooth) brought up to ``shape``, plus
    fine grain at full resolution where there is tissue."""
    small = draw(rng, (max(8, shape[0] // 4), max(8, shape[1] // 4)))
    image = cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    grain = 0.015 * _noise(rng, shape, 1.0) * (image > 0.05)
    return np.asarray(np.clip(image + grain, 0.0, 1.0))


def _chest(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Attenuation in [0, 1] (1 = dense, displayed white) of a chest, air = 0."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    yy, xx = yy / h, xx / w
    body = _ellipse(shape, 0.58, 0.5, 0.58, 0.44 + rng.uniform(-0.02, 0.02))
    lungs = np.clip(
        _ellipse(shape, 0.45, 0.31, 0.27, 0.13) + _ellipse(shape, 0.45, 0.69, 0.27, 0.13), 0, 1
    )
    image = 0.55 * body - 0.3 * lungs * body
    image += 0.3 * np.exp(-(((xx - 0.5) / 0.04) ** 2)) * body  # spine
    image += 0.2 * _ellipse(shape, 0.6, 0.55, 0.12, 0.15)  # heart
    for k in range(10):  # ribs
        curve = 0.16 + 0.06 * k - 0.04 + 0.9 * (xx - 0.5) ** 2
        image += 0.1 * np.exp(-(((yy - curve) / 0.011) ** 2)) * lungs
    image += 0.22 * body / (1 + np.exp(-(yy - 0.74 + 0.08 * np.cos((xx - 0.5) * 6)) * 60))
    image += lungs * (0.05 * _noise(rng, shape, 0.6) + 0.03 * _noise(rng, shape, 1.5))
    return np.asarray(np.clip(image, 0.0, 1.0))


def _extremity(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A knee-like view: two long bones with cortex and a joint space, soft tissue, air."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    yy, xx = yy / h, xx / w
    tilt = rng.uniform(-0.05, 0.05)
    axis = xx - 0.5 - tilt * (yy - 0.5)
    soft = np.clip((0.3 - np.abs(axis)) * 30, 0, 1)
    image = 0.3 * soft
    for top, bottom, half in ((0.0, 0.47, 0.12), (0.52, 1.0, 0.1)):
        inside = (yy > top) & (yy < bottom)
        width = half * (1 + 0.5 * np.exp(-(((yy - (bottom if top == 0 else top)) / 0.06) ** 2)))
        shaft = np.clip((width - np.abs(axis)) * 60, 0, 1) * inside
        cortex = np.exp(-(((np.abs(axis) - width * 0.85) / 0.012) ** 2)) * inside
        image += 0.35 * shaft + 0.25 * cortex
    image += 0.25 * _ellipse(shape, 0.44, 0.5 + tilt * 0.2, 0.05, 0.06)  # patella
    image += soft * (0.04 * _noise(rng, shape, 0.5) + 0.03 * _noise(rng, shape, 2.0))
    return np.asarray(np.clip(image, 0.0, 1.0))


def _collimate(image: np.ndarray, rng: np.random.Generator, outside: float) -> np.ndarray:
    """Collimation blades: a slightly rotated rectangle; everything outside is ``outside``."""
    h, w = image.shape
    margins = rng.uniform(0.04, 0.12, 4)
    angle = rng.uniform(-3.0, 3.0)
    rect = (
        (w * (0.5 + (margins[0] - margins[1]) / 2), h * (0.5 + (margins[2] - margins[3]) / 2)),
        (w * (1 - margins[0] - margins[1]), h * (1 - margins[2] - margins[3])),
        angle,
    )
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [cv2.boxPoints(rect).astype(np.int32)], 1)
    return np.where(mask > 0, image, outside)


def _text(
    image: np.ndarray, text: str, org: tuple[float, float], size: float, value: float
) -> None:
    """Burn ``text`` in (a lead marker or an annotation) at fractional position ``org``."""
    h, w = image.shape[:2]
    scale = size * min(h, w) / 600
    ink = np.zeros((h, w), np.uint8)  # OpenCV draws text on 8-bit images only
    cv2.putText(
        ink,
        text,
        (int(org[0] * w), int(org[1] * h)),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale,
        255,
        max(1, int(2.2 * scale)),
        cv2.LINE_AA,
    )
    alpha = ink.astype(np.float32) / 255.0
    image[...] = image * (1.0 - alpha) + value * alpha


def _quantise(
    attenuation: np.ndarray, rng: np.random.Generator, bits: int, monochrome1: bool
) -> np.ndarray:
    """Stored values with quantum noise; MONOCHROME1 stores dense (white) as low values."""
    top = (1 << bits) - 1
    signal = 1.0 - attenuation if monochrome1 else attenuation
    noisy = signal * top * 0.97 + top * 0.01 + rng.normal(0, top * 0.002, signal.shape)
    return np.clip(np.rint(noisy), 0, top).astype(np.uint16)


# --- datasets ------------------------------------------------------------------------


def _dataset(modality: str, pixels: np.ndarray, number: int, rng: np.random.Generator) -> Dataset:
    """A dataset with fictitious identifiers and image pixel attributes for ``pixels``."""
    seed = [int(v) for v in rng.integers(0, 2**31, 3)]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SOP_CLASSES[modality]
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[str(seed[0])])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid(entropy_srcs=[str(seed[1])])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[str(seed[2])])
    ds.PatientName = f"{FAKE_NAME}^{modality}{number:02d}"
    ds.PatientID = f"{FAKE_NAME}-{number:04d}"
    ds.PatientBirthDate = f"19{40 + number:02d}0101"
    ds.InstitutionName = "Fictitious Conformance Hospital"
    ds.StudyDate = (dt.date(2024, 3, 1) + dt.timedelta(days=number)).strftime("%Y%m%d")
    ds.Modality = modality
    ds.Rows, ds.Columns = pixels.shape[:2]
    ds.SamplesPerPixel = 1 if pixels.ndim == 2 else 3
    ds.BitsAllocated = pixels.dtype.itemsize * 8
    ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
    if pixels.ndim == 3:
        ds.PlanarConfiguration = 0
    ds.PixelData = np.ascontiguousarray(pixels).astype(pixels.dtype.newbyteorder("<")).tobytes()
    return ds


def _radiograph(
    number: int,
    modality: str,
    wh: tuple[int, int],
    bits: int,
    anatomy: str,
    monochrome1: bool,
    surround: str,
    window: bool,
) -> Maker:
    """CR/DX: anatomy, collimation (white or black surround), markers, noise, bits."""

    def make(rng: np.random.Generator) -> Dataset:
        shape = (wh[1], wh[0])
        image = _anatomy(_chest if anatomy == "chest" else _extremity, rng, shape)
        if surround == "flat":
            image = np.maximum(image, 0.12)  # processed flat grey background, no black
        image = _collimate(image, rng, outside=0.0 if surround == "black" else 1.0)
        side = "L" if number % 2 else "R"
        _text(image, side, (0.1, 0.16), 3.0, 1.0)  # the lead marker: dense, shown white
        _text(image, "PA ERECT" if anatomy == "chest" else "AP STANDING", (0.6, 0.94), 0.9, 0.9)
        stored = _quantise(image, rng, bits, monochrome1)
        ds = _dataset(modality, stored, number, rng)
        ds.PhotometricInterpretation = "MONOCHROME1" if monochrome1 else "MONOCHROME2"
        ds.BitsStored, ds.HighBit = bits, bits - 1
        ds.BodyPartExamined = "CHEST" if anatomy == "chest" else "KNEE"
        ds.ImageLaterality = side
        if window:  # a processed VOI over the anatomy, as modalities store one
            lo, hi = np.percentile(stored[image > 0.05], (2, 99.5))
            ds.WindowCenter, ds.WindowWidth = f"{(lo + hi) / 2:.1f}", f"{max(hi - lo, 2):.1f}"
        if modality == "DX":
            ds.PresentationIntentType = "FOR PRESENTATION"
        return ds

    return make


def _sector(rng: np.random.Generator, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Ultrasound speckle in a sector (fan) and the sector mask, both (h, w) in [0, 1]."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    apex = (w * 0.5, -h * 0.05)
    radius = np.hypot(xx - apex[0], yy - apex[1])
    angle = np.degrees(np.arctan2(xx - apex[0], yy - apex[1]))
    fan = (np.abs(angle) < 36) & (radius > h * 0.15) & (radius < h * 0.92)
    echo = 0.35 + 0.15 * _noise(rng, shape, 18.0)
    echo -= 0.28 * _ellipse(shape, 0.55, 0.45, 0.12, 0.1)  # a cyst: dark, smooth edge
    echo += 0.4 * np.exp(-(((yy / h - 0.35 - 0.05 * np.sin(xx / w * 6)) / 0.01) ** 2))  # fascia
    rayleigh = np.hypot(rng.standard_normal(shape), rng.standard_normal(shape)).astype(np.float32)
    speckle = np.asarray(cv2.GaussianBlur(rayleigh, (0, 0), 1.2)) / 1.25
    return np.clip(echo * speckle * (1.1 - 0.5 * radius / h), 0, 1) * fan, fan


def _ultrasound(number: int, wh: tuple[int, int], colour: str) -> Maker:
    """US: black surround, sector, text overlays; grey, palette or RGB colour Doppler."""

    def make(rng: np.random.Generator) -> Dataset:
        shape = (wh[1], wh[0])
        grey, fan = _sector(rng, shape)
        doppler = _ellipse(shape, 0.45, 0.58, 0.06, 0.03) * fan
        flow = np.sign(_noise(rng, shape, 10.0)) * (doppler > 0.5)
        for text, org in (("ABD 3.5MHz", (0.02, 0.05)), ("MI 0.9 TIs 0.4", (0.72, 0.05))):
            _text(grey, text, org, 0.5, 1.0)
        for depth in range(1, 10):  # depth scale ticks along the right
            _text(grey, f"{depth}", (0.93, 0.1 * depth), 0.35, 0.8)
        top, bottom = int(0.2 * wh[1]), int(0.8 * wh[1])
        grey[top:bottom, 5:15] = np.linspace(1, 0, bottom - top)[:, None]  # the grey bar
        index = np.rint(grey * 127).astype(np.uint8)
        if colour == "grey":
            ds = _dataset("US", index * 2, number, rng)
            ds.PhotometricInterpretation = "MONOCHROME2"
        elif colour == "palette":
            index = np.where(flow != 0, 128 + (flow > 0) * 64 + 40, index).astype(np.uint8)
            ds = _dataset("US", index, number, rng)
            _palette(ds)
        else:
            rgb = np.repeat((index * 2)[..., None], 3, axis=2)
            rgb[flow > 0] = (220, 40, 30)
            rgb[flow < 0] = (30, 60, 230)
            rgb[(grey > 0.95) & ~fan] = (240, 220, 60)  # yellow annotations
            ds = _dataset("US", rgb, number, rng)
            ds.PhotometricInterpretation = "RGB"
        ds.BitsStored, ds.HighBit = 8, 7
        return ds

    return make


def _palette(ds: Dataset) -> None:
    """Grey ramp in entries 0..127, red and blue Doppler ramps above."""
    ramp = np.arange(128) * 2
    red = np.concatenate([ramp, np.full(64, 40), np.linspace(120, 255, 64)])
    green = np.concatenate([ramp, np.linspace(40, 120, 64), np.linspace(20, 90, 64)])
    blue = np.concatenate([ramp, np.linspace(120, 255, 64), np.full(64, 30)])
    ds.PhotometricInterpretation = "PALETTE COLOR"
    for name, table in (("Red", red), ("Green", green), ("Blue", blue)):
        # 16-bit entries, as ultrasound vendors write them (C.7.6.3.1.5)
        setattr(ds, f"{name}PaletteColorLookupTableDescriptor", [256, 0, 16])
        data = (np.rint(table).astype(np.uint32) * 257).astype("<u2").tobytes()
        setattr(ds, f"{name}PaletteColorLookupTableData", data)


def _ct(number: int) -> Maker:
    """CT 512x512, signed, HU = stored - 1024, circular field of view padded outside."""

    def make(rng: np.random.Generator) -> Dataset:
        shape = (512, 512)
        hu = np.full(shape, -1000.0, np.float32)
        body = _ellipse(shape, 0.52, 0.5, 0.36, 0.44)
        hu = np.where(body > 0.5, -90.0, hu)  # fat
        hu = np.where(_ellipse(shape, 0.52, 0.5, 0.32, 0.4) > 0.5, 45.0, hu)  # muscle / organs
        hu = np.where(_ellipse(shape, 0.45, 0.35, 0.13, 0.14) > 0.5, 60.0, hu)  # liver
        hu = np.where(_ellipse(shape, 0.72, 0.5, 0.06, 0.05) > 0.5, 700.0, hu)  # vertebra
        hu = np.where(_ellipse(shape, 0.5, 0.62, 0.04, 0.05) > 0.5, -900.0, hu)  # bowel gas
        hu += 12.0 * _noise(rng, shape, 0.8)
        stored = np.rint(hu + 1024).astype(np.int16)
        yy, xx = np.mgrid[0:512, 0:512]
        stored[np.hypot(yy - 255.5, xx - 255.5) > 250] = -2000  # outside the reconstruction
        ds = _dataset("CT", stored, number, rng)
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsStored, ds.HighBit = 16, 15
        ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = "1", "-1024", "HU"
        ds.PixelPaddingValue = -2000
        ds.WindowCenter, ds.WindowWidth = "40", "400"
        return ds

    return make


def _mr(number: int, size: int, float_slope: bool) -> Maker:
    """MR brain-like slice, 12 bits; optionally the real MR's float Rescale Slope."""

    def make(rng: np.random.Generator) -> Dataset:
        shape = (size, size)
        head = _ellipse(shape, 0.5, 0.5, 0.42, 0.36)
        brain = _ellipse(shape, 0.5, 0.5, 0.37, 0.31)
        ventricles = _ellipse(shape, 0.47, 0.45, 0.1, 0.04) + _ellipse(shape, 0.47, 0.55, 0.1, 0.04)
        tissue = 0.35 * head + 0.25 * brain * (1 + 0.3 * _noise(rng, shape, size / 60))
        tissue += 0.35 * np.clip(ventricles, 0, 1)
        rician = np.hypot(
            tissue + 0.02 * rng.standard_normal(shape), 0.02 * rng.standard_normal(shape)
        )
        ds = _dataset("MR", np.rint(np.clip(rician, 0, 1) * 560).astype(np.uint16), number, rng)
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsStored, ds.HighBit = 12, 11
        if float_slope:  # as in the NEMA MR that rendered 1 level off before (docs/rendering.md)
            ds.RescaleSlope, ds.RescaleIntercept = "3.774114", "0.000061"
            ds.WindowCenter, ds.WindowWidth = "1000", "2000"
        return ds

    return make


def _chest_jpeg(wh: tuple[int, int]) -> Callable[[np.random.Generator], bytes]:
    """A chest radiograph as a plain JPEG (what people download from a viewer)."""

    def make(rng: np.random.Generator) -> bytes:
        image = _collimate(_anatomy(_chest, rng, (wh[1], wh[0])), rng, outside=1.0)
        _text(image, "R", (0.08, 0.14), 2.5, 1.0)
        pixels = np.clip(np.rint(image * 240 + 8), 0, 255).astype(np.uint8)
        return codec.encode_jpeg(pixels, 90, what="corpus chest JPEG")

    return make


# name -> (maker, modality, note); numbers keep the fictitious patients apart.
CORPUS: dict[str, tuple[Maker, str, str]] = {
    "cr_chest_mono1_15bit": (
        _radiograph(1, "CR", (1841, 1955), 15, "chest", True, "white", True),
        "CR", "1841x1955, 15-bit MONOCHROME1, white collimation, window",
    ),
    "cr_chest_2k_2k5_mono1": (
        _radiograph(2, "CR", (2000, 2500), 12, "chest", True, "white", False),
        "CR", "2000x2500, 12-bit MONOCHROME1, white collimation, min-max",
    ),
    "dx_chest_black_shutter": (
        _radiograph(3, "DX", (2048, 2500), 16, "chest", False, "black", True),
        "DX", "2048x2500, 16-bit, black shutter, window",
    ),
    "dx_knee_flat_background": (
        _radiograph(4, "DX", (2500, 2048), 14, "knee", False, "flat", True),
        "DX", "2500x2048, 14-bit, flat grey background",
    ),
    "cr_knee_3k_mono1": (
        _radiograph(5, "CR", (2400, 3000), 12, "knee", True, "white", True),
        "CR", "2400x3000, 12-bit MONOCHROME1",
    ),
    "dx_chest_15bit": (
        _radiograph(6, "DX", (1800, 2000), 15, "chest", False, "white", True),
        "DX", "1800x2000, 15-bit, white collimation",
    ),
    "us_sector_grey": (_ultrasound(7, (800, 600), "grey"), "US", "800x600 sector, text"),
    "us_palette": (_ultrasound(8, (800, 600), "palette"), "US", "PALETTE COLOR Doppler"),
    "us_rgb": (_ultrasound(9, (1024, 768), "rgb"), "US", "1024x768 RGB Doppler"),
    "ct_abdomen": (_ct(10), "CT", "512x512 signed, padding outside the FOV, 40/400"),
    "mr_float_slope": (_mr(11, 512, True), "MR", "slope 3.774114, window 1000/2000"),
    "mr_brain_minmax": (_mr(12, 256, False), "MR", "256x256, no window (min-max)"),
    "chest_jpeg": (_chest_jpeg((1245, 1031)), "JPEG", "1245x1031 8-bit JPEG"),
}  # fmt: skip


def write_corpus(
    folder: Path, seed: int = 0, names: list[str] | tuple[str, ...] | None = None
) -> list[CorpusFile]:
    """Write the generated corpus (or ``names`` of it) under ``folder``; same seed, same files."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for index, name in enumerate(CORPUS):
        if names is not None and name not in names:
            continue
        maker, modality, note = CORPUS[name]
        made = maker(np.random.default_rng([seed, index]))
        if isinstance(made, bytes):
            path = folder / f"{name}.jpg"
            write_bytes_atomic(path, made)
        else:
            path = folder / f"{name}.dcm"
            made.save_as(path, enforce_file_format=True)
        written.append(CorpusFile(name, path, modality, "generated", note))
    return written


# Real public files: (package, file, modality, note).
PUBLIC_FILES = (
    ("pydicom-data", "RG1_UNCI.dcm", "CR", "NEMA WG04 chest CR 1841x1955, 15-bit MONOCHROME1"),
    ("pydicom-data", "RG3_UNCI.dcm", "CR", "NEMA WG04 CR 1760x1760, 10-bit MONOCHROME1"),
    ("pydicom-data", "MR2_UNCI.dcm", "MR", "NEMA WG04 MR 1024x1024, slope 3.774114"),
    ("pydicom-data", "US1_UNCI.dcm", "US", "NEMA WG04 US 640x480 RGB"),
    ("pydicom-data", "OBXXXX1A.dcm", "US", "US 800x600 PALETTE COLOR"),
    ("pydicom-data", "693_UNCI.dcm", "CT", "CT 512x512, 14-bit"),
    ("deid-data", "animals/cat.dcm", "DX", "DX 3072x2614, 12-bit"),
    ("deid-data", "ultrasounds/GREYSCALE_IMAGE.dcm", "US", "US 1024x768 grey"),
    ("pydicom", "CT_small.dcm", "CT", "CT 128x128"),
    ("pydicom", "MR_small.dcm", "MR", "MR 64x64"),
)


def public_files() -> list[CorpusFile]:
    """The real public files of ``PUBLIC_FILES`` that installed packages provide."""
    found = []
    for package, name, modality, note in PUBLIC_FILES:
        path = _package_file(package, name)
        if path is not None:
            stem = Path(name).stem
            found.append(CorpusFile(f"{package}:{stem}", path, modality, package, note))
    return found


def _package_file(package: str, name: str) -> Path | None:
    if package == "deid-data":
        spec = importlib.util.find_spec("deid_data")
        if spec is None or spec.origin is None:
            return None
        path = Path(spec.origin).parent / "data" / name
        return path if path.is_file() else None
    module = "data_store" if package == "pydicom-data" else "pydicom"
    if importlib.util.find_spec(module) is None:
        return None
    from pydicom.data import get_testdata_file

    try:  # pydicom finds files of an installed pydicom-data wheel without downloading
        found = get_testdata_file(name, download=False)
    except (ValueError, OSError):
        return None
    return Path(str(found)) if found else None
