"""Generated sample radiographs: the embedded default when no images are given.

rig ships no patient images. ``write_samples`` makes chest-radiograph-like DICOM
files (DX, 12 bits stored in 16, a stored VOI window, some MONOCHROME1) with a
CheXpert-style labels CSV. The anatomy is a smooth phantom (body, lungs, heart,
spine, ribs, diaphragm, clavicles, film-grain texture) and the labelled findings
are drawn into the image (an enlarged heart, a basal effusion, a consolidation),
so models trained on the samples have something real to learn. Every file
carries *fictitious* identifying attributes, so de-identification is exercised.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

FINDINGS = ("No Finding", "Cardiomegaly", "Pleural Effusion", "Consolidation")
FAKE_NAME_PREFIX = "RIGSAMPLE"  # fictitious; tests scan projects for it
DX_FOR_PRESENTATION = UID("1.2.840.10008.5.1.4.1.1.1.1")


@dataclass(frozen=True)
class SampleSpec:
    rows: int = 720
    columns: int = 600
    bits_stored: int = 12


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    noise = rng.standard_normal(shape).astype(np.float32)
    out = cv2.GaussianBlur(noise, (0, 0), sigma)
    return out / (out.std() + 1e-6)


def _ellipse(
    yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, ry: float, rx: float
) -> np.ndarray:
    """Soft-edged filled ellipse in [0, 1]."""
    r = np.sqrt(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2)
    return np.clip((1.0 - r) * 7.0, 0.0, 1.0)


def phantom(rng: np.random.Generator, spec: SampleSpec, findings: dict[str, int]) -> np.ndarray:
    """Attenuation-like image in [0, 1] (bright = dense), shape (rows, columns)."""
    h, w = spec.rows, spec.columns
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    yy, xx = yy / h, xx / w
    jitter = lambda s: float(rng.normal(0, s))  # noqa: E731
    body = _ellipse(yy, xx, 0.55 + jitter(0.01), 0.5, 0.62, 0.46 + jitter(0.02))
    lung_l = _ellipse(yy, xx, 0.45 + jitter(0.01), 0.32 + jitter(0.01), 0.28, 0.13)
    lung_r = _ellipse(yy, xx, 0.45 + jitter(0.01), 0.68 + jitter(0.01), 0.28, 0.13)
    heart_r = 0.13 * (1.35 if findings["Cardiomegaly"] else 1.0)
    heart = _ellipse(yy, xx, 0.6, 0.56, heart_r * 0.85, heart_r) * (0.7 + 0.3 * (xx > 0.5))
    spine = np.exp(-(((xx - 0.5) / 0.035) ** 2)) * (yy > 0.05)
    image = 0.35 * body + 0.25 * spine
    lungs = np.clip(lung_l + lung_r, 0, 1)
    image -= 0.28 * lungs
    # Vessels fan out from the hila: denser medially, with branching texture.
    hilum = np.exp(-(((np.abs(xx - 0.5) - 0.09) / 0.12) ** 2) - ((yy - 0.47) / 0.15) ** 2)
    image += lungs * hilum * (0.06 + 0.05 * np.abs(_smooth_noise(rng, (h, w), 2.5)))
    # Ribs: curved bands across each lung, denser where they cross.
    for k in range(9):
        y0 = 0.2 + 0.065 * k
        curve = y0 - 0.04 + 0.9 * (xx - 0.5) ** 2
        band = np.exp(-(((yy - curve) / 0.012) ** 2))
        image += 0.11 * band * lungs
    clav = np.exp(-(((yy - (0.17 + 0.1 * np.abs(xx - 0.5))) / 0.012) ** 2)) * (
        np.abs(xx - 0.5) < 0.3
    )
    image += 0.12 * clav
    image += 0.16 * heart
    diaphragm = 1.0 / (1.0 + np.exp(-(yy - (0.72 - 0.1 * np.cos((xx - 0.5) * 6))) * 60))
    image += 0.2 * diaphragm * body
    if findings["Pleural Effusion"]:
        side = lung_l if rng.random() < 0.5 else lung_r
        level = 0.58 + jitter(0.03)
        image += 0.25 * side * 1.0 / (1.0 + np.exp(-(yy - level) * 40))
    if findings["Consolidation"]:
        cy, cx = 0.42 + jitter(0.05), (0.32 if rng.random() < 0.5 else 0.68) + jitter(0.02)
        blob = _ellipse(yy, xx, cy, cx, 0.07, 0.06) * (0.6 + 0.4 * _smooth_noise(rng, (h, w), 4))
        image += 0.2 * np.clip(blob, 0, 1) * lungs
    image += 0.025 * _smooth_noise(rng, (h, w), 1.5) + 0.04 * _smooth_noise(rng, (h, w), 12)
    return np.clip(image, 0.0, 1.0)


def draw_findings(rng: np.random.Generator) -> dict[str, int]:
    found = {
        name: int(rng.random() < p)
        for name, p in (("Cardiomegaly", 0.35), ("Pleural Effusion", 0.3), ("Consolidation", 0.3))
    }
    found["No Finding"] = int(not any(found.values()))
    return found


def sample_dataset(
    pixels: np.ndarray, patient: int, study: int, spec: SampleSpec, monochrome1: bool
) -> FileDataset:
    """A DX DICOM dataset for ``pixels`` (uint16) with fictitious identifiers."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DX_FOR_PRESENTATION
    sop_uid = generate_uid()
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = DX_FOR_PRESENTATION
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientName = f"{FAKE_NAME_PREFIX}^PATIENT{patient:04d}"
    ds.PatientID = f"RIGSAMPLE-{patient:06d}"
    ds.PatientBirthDate = f"19{50 + patient % 40:02d}0101"
    ds.AccessionNumber = f"ACC{patient:04d}{study:02d}"
    ds.InstitutionName = "Fictitious General Hospital"
    ds.StudyDate = (dt.date(2024, 1, 1) + dt.timedelta(days=patient * 7 + study)).strftime("%Y%m%d")
    ds.Modality = "DX"
    ds.ViewPosition = "PA"
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME1" if monochrome1 else "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = 16
    ds.BitsStored = spec.bits_stored
    ds.HighBit = spec.bits_stored - 1
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    ds.RescaleType = "US"
    ds.WindowCenter = 2048
    ds.WindowWidth = 3600
    ds.PixelData = pixels.astype("<u2").tobytes()
    return ds


def write_samples(
    out_dir: Path, n_images: int = 24, seed: int = 0, spec: SampleSpec | None = None
) -> Path:
    """Write ``n_images`` sample DICOMs (about 2 per patient) and ``labels.csv``; return the CSV."""
    spec = spec or SampleSpec()
    rng = np.random.default_rng(seed)
    rows = []
    max_value = (1 << spec.bits_stored) - 1
    for i in range(n_images):
        patient, study = i // 2 + 1, i % 2 + 1
        findings = draw_findings(rng)
        values = phantom(rng, spec, findings)
        monochrome1 = i % 5 == 4
        stored = values if not monochrome1 else 1.0 - values
        pixels = np.round(stored * max_value * 0.95 + 40).astype(np.uint16)
        rel = Path(f"patient{patient:05d}") / f"study{study}" / "view1_frontal.dcm"
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        sample_dataset(pixels, patient, study, spec, monochrome1).save_as(
            path, enforce_file_format=True
        )
        rows.append(
            {"Path": rel.as_posix(), "Frontal/Lateral": "Frontal", "AP/PA": "PA", **findings}
        )
    csv_path = out_dir / "labels.csv"
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["Path", "Frontal/Lateral", "AP/PA", *FINDINGS])
        writer.writeheader()
        writer.writerows(rows)
    return csv_path
