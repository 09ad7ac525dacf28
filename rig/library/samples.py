"""Generated sample radiographs: the embedded default when no images are given.

rig ships no patient images. ``write_samples`` makes chest-radiograph-like DICOM files
(DX, 12 bits stored in 16 by default, up to 16 and up to real CR size, a stored VOI
window, some MONOCHROME1) with a CheXpert-style labels CSV. Each image is a *case*
(``draw_case``): a patient drawn from shape parameters (``rig.library.anatomy``: ribs
with cortical rims and trabecular marrow, clavicles, scapulae, spine, a branching
vessel tree, heart, mediastinum, diaphragm, soft tissue), findings with a continuous
severity drawn into that anatomy (``rig.library.findings``), tubes, lines and wires,
a lead marker, collimation and burned-in text (``rig.library.apparatus``), exposed with
quantum and detector noise and processed like a CR (``rig.library.detector``). How its
statistics compare with real radiographs: docs/samples.md. Every file carries
*fictitious* identifying attributes, so de-identification is exercised. Output is
byte-identical for a seed, in any process.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from rig.library import anatomy, apparatus, detector
from rig.library import findings as fx
from rig.library.drawing import Grid, upsample

SUPPORT = fx.SUPPORT_DEVICES
# CheXpert's column order, restricted to what the generator draws.
FINDINGS = ("No Finding", "Cardiomegaly", "Lung Lesion", "Consolidation", "Pneumothorax",
            "Pleural Effusion", SUPPORT)
PATHOLOGY = {m.name: m for m in fx.PATHOLOGIES}
FAKE_NAME_PREFIX = "RIGSAMPLE"  # fictitious; tests scan projects for it
DX_FOR_PRESENTATION = UID("1.2.840.10008.5.1.4.1.1.1.1")
DEFAULT_DIFFICULTY = 0.5
CR_SIZE = (2500, 2048)  # rows, columns: a 35×43 cm CR plate at ~0.2 mm


@dataclass(frozen=True)
class SampleSpec:
    rows: int = 720
    columns: int = 600
    bits_stored: int = 12
    difficulty: float = DEFAULT_DIFFICULTY  # 0 obvious findings … 1 most at threshold
    monochrome1: bool | None = None  # None: every fifth image, as CR archives mix them
    identifiers_in_pixels: bool = False  # burn the fictitious name/ID into the pixels
    annotation: bool = True  # burn the station / view / technique lines into a corner

    @classmethod
    def real_size(cls, bits_stored: int = 14, **kwargs: object) -> SampleSpec:
        """A CR-sized spec (2500×2048) with ``bits_stored`` (12–16)."""
        return cls(CR_SIZE[0], CR_SIZE[1], bits_stored, **kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Case:
    """One generated patient image: what is drawn, independent of the output size."""

    seed: int  # anatomy, noise and device geometry stream
    severity: Mapping[str, float]  # per pathology, 0 = absent (see rig.library.findings)
    devices: tuple[str, ...]
    labels: Mapping[str, int] = field(default_factory=dict)

    @property
    def ctr(self) -> float:
        """The drawn cardiothoracic ratio."""
        return fx.ctr_of(self.severity.get("Cardiomegaly", 0.0))


def _labels(severity: Mapping[str, float], devices: tuple[str, ...],
            rng: np.random.Generator) -> dict[str, int]:
    labels = {name: fx.label_for(rng, PATHOLOGY[name], s) for name, s in severity.items()}
    labels[SUPPORT] = int(bool(devices))
    labels["No Finding"] = int(all(v == 0 for k, v in labels.items() if k != SUPPORT))
    return {name: labels[name] for name in FINDINGS}


def _draw_devices(rng: np.random.Generator, present: bool) -> tuple[str, ...]:
    if not present:
        return ()
    k = int(rng.integers(1, 4))
    return tuple(sorted(str(d) for d in rng.choice(apparatus.DEVICES, k, replace=False)))


def draw_case(rng: np.random.Generator, difficulty: float = DEFAULT_DIFFICULTY) -> Case:
    """A random case: findings at their prevalence, severities graded by ``difficulty``."""
    severity = {m.name: fx.draw_severity(rng, m, bool(rng.random() < m.prevalence), difficulty)
                for m in fx.PATHOLOGIES}
    devices = _draw_devices(rng, bool(rng.random() < fx.SUPPORT_PREVALENCE))
    labels = _labels(severity, devices, rng)
    return Case(int(rng.integers(2**62)), severity, devices, labels)


def case_for_labels(rng: np.random.Generator, labels: Mapping[str, float],
                    difficulty: float = DEFAULT_DIFFICULTY) -> Case:
    """A case whose drawn severities agree with given labels (−1 → at the threshold)."""
    severity = {}
    for m in fx.PATHOLOGIES:
        value = labels.get(m.name, 0)
        if value == -1:
            severity[m.name] = m.threshold + float(rng.uniform(-m.borderline, m.borderline))
        else:
            severity[m.name] = fx.draw_severity(rng, m, value == 1, difficulty)
    devices = _draw_devices(rng, labels.get(SUPPORT, 0) == 1)
    kept = {name: int(labels[name]) for name in FINDINGS if name in labels}
    return Case(int(rng.integers(2**62)), severity, devices, kept)


def draw_findings(rng: np.random.Generator, difficulty: float = DEFAULT_DIFFICULTY) -> dict[str, int]:
    """Labels of a random case (``phantom`` draws severities that agree with them)."""
    return dict(draw_case(rng, difficulty).labels)


def phantom(rng: np.random.Generator, spec: SampleSpec, findings: Mapping[str, float]) -> np.ndarray:
    """Displayed image (rows, columns) float32 in [0, 1] (bright = dense) for labels."""
    return render_case(case_for_labels(rng, findings, spec.difficulty), spec)


def render_case(case: Case, spec: SampleSpec, identifiers: tuple[str, ...] = ()) -> np.ndarray:
    """Render ``case`` at ``spec``'s size: displayed grey (rows, columns) float32 in [0, 1]."""
    def stream(k: int) -> np.random.Generator:
        return np.random.default_rng([case.seed, k])

    grid = Grid(spec.rows, spec.columns)
    a = anatomy.draw_anatomy(stream(0), case.ctr)
    soft = anatomy.soft_tissue(a, grid.coarse(), stream(1))
    lungs = fx.LungState(upsample(soft.lungs, grid), upsample(soft.air, grid),
                         (upsample(soft.lung_sides[0], grid), upsample(soft.lung_sides[1], grid)),
                         np.ones((grid.rows, grid.cols), np.float32))
    attenuation = upsample(soft.attenuation, grid) + _findings(a, grid, lungs, case, stream)
    attenuation += anatomy.skeleton(a, grid, stream(3))
    attenuation += anatomy.vessels(anatomy.vessel_tree(a, stream(4)), grid, lungs.aerated,
                                   lungs.keep_markings)
    attenuation += anatomy.lung_texture(stream(5), grid, lungs.aerated)
    if case.devices:
        attenuation += apparatus.support_devices(a, grid, stream(6), case.devices)
    extras = stream(7)
    if extras.random() < 0.4:
        attenuation += apparatus.ecg_leads(a, grid, extras)
    attenuation += apparatus.lead_marker(grid, "L" if extras.random() < 0.8 else "R", extras)
    attenuation = _position(attenuation, a)
    det = detector.draw_detector(stream(9))
    display = detector.process(detector.expose(attenuation, grid, det, stream(10)), grid, det)
    display = apparatus.collimate(display, grid, apparatus.draw_collimation(stream(11)), stream(11))
    text = stream(12)
    corner = str(text.choice(["top-left", "top-right", "bottom-left"]))
    if spec.annotation or identifiers:
        apparatus.burn_text(display, grid, apparatus.annotation_lines(text, identifiers), corner)
    return np.clip(display, 0.0, 1.0).astype(np.float32)


def _findings(a: anatomy.Anatomy, grid: Grid, lungs: fx.LungState, case: Case,
              stream: Callable[[int], np.random.Generator]) -> np.ndarray:
    """Attenuation of the case's findings (each from its own stream); edits ``lungs``."""
    out = grid.zeros()
    s = case.severity
    # Each finding's geometry comes from its own stream, so toggling one moves no other.
    if s.get("Pleural Effusion", 0) > 0:
        rng = stream(20)
        side = -1 if rng.random() < 0.5 else 1
        out += fx.effusion(a, grid, lungs, s["Pleural Effusion"], side)
        if s["Pleural Effusion"] > 0.75 and rng.random() < 0.5:  # bilateral
            out += fx.effusion(a, grid, lungs, s["Pleural Effusion"] * 0.6, -side)
    if s.get("Pneumothorax", 0) > 0:
        out += fx.pneumothorax(a, grid, lungs, s["Pneumothorax"], stream(21))
    if s.get("Consolidation", 0) > 0:
        out += fx.consolidation(a, grid, lungs, s["Consolidation"], stream(22))
    if s.get("Lung Lesion", 0) > 0:
        out += fx.lung_lesion(a, grid, lungs, s["Lung Lesion"], stream(23))
    return out


def _position(image: np.ndarray, a: anatomy.Anatomy) -> np.ndarray:
    """The patient as framed: rotated by ``a.tilt`` about the centre, then magnified by
    ``a.zoom`` about the top centre (borders replicated)."""
    h, w = image.shape
    rotate = np.vstack([cv2.getRotationMatrix2D((w / 2, h / 2), float(np.rad2deg(a.tilt)), 1.0),
                        [0, 0, 1]])
    zx, zy = a.zoom
    zoom = np.array([[zx, 0, w / 2 * (1 - zx)], [0, zy, 0], [0, 0, 1]])
    return cv2.warpAffine(image, (zoom @ rotate)[:2], (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def stored_pixels(display: np.ndarray, bits_stored: int, monochrome1: bool) -> np.ndarray:
    """Displayed grey → stored values under ``stored_window`` (uint16)."""
    max_value = (1 << bits_stored) - 1
    values = 1.0 - display if monochrome1 else display
    offset = max_value * 40 / 4095
    return np.round(values * max_value * 0.95 + offset).astype(np.uint16)


def stored_window(bits_stored: int) -> tuple[int, int]:
    """(WindowCenter, WindowWidth) that shows ``stored_pixels`` as the displayed grey."""
    max_value = (1 << bits_stored) - 1
    return (max_value + 1) // 2, round(max_value * 3600 / 4095)


def sample_dataset(
    pixels: np.ndarray, patient: int, study: int, spec: SampleSpec, monochrome1: bool,
    uid_source: str | None = None,
) -> FileDataset:
    """A DX DICOM dataset for ``pixels`` (uint16) with fictitious identifiers.

    With ``uid_source`` the UIDs are derived from it (reproducible files); else random.
    """
    def uid(kind: str) -> UID:
        return generate_uid(entropy_srcs=[uid_source, kind]) if uid_source else generate_uid()

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DX_FOR_PRESENTATION
    sop_uid = uid("sop")
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = DX_FOR_PRESENTATION
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = uid(f"study-{patient}-{study}")
    ds.SeriesInstanceUID = uid("series")
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
    spacing = f"{anatomy.FOV_WIDTH_MM / pixels.shape[1]:.4f}"
    ds.ImagerPixelSpacing = [spacing, spacing]
    ds.BitsAllocated = 16
    ds.BitsStored = spec.bits_stored
    ds.HighBit = spec.bits_stored - 1
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    ds.RescaleType = "US"
    ds.WindowCenter, ds.WindowWidth = stored_window(spec.bits_stored)
    ds.PixelData = pixels.astype("<u2").tobytes()
    return ds


def pixel_identifiers(patient: int, study: int) -> tuple[str, ...]:
    """The fictitious identifiers burned into pixels when a spec asks for them."""
    date = dt.date(2024, 1, 1) + dt.timedelta(days=patient * 7 + study)
    return (f"{FAKE_NAME_PREFIX}^PATIENT{patient:04d}", f"ID RIGSAMPLE-{patient:06d}",
            date.strftime("%d-%b-%Y").upper())


def write_samples(
    out_dir: Path, n_images: int = 24, seed: int = 0, spec: SampleSpec | None = None,
    cases_csv: Path | None = None,
) -> Path:
    """Write ``n_images`` sample DICOMs (about 2 per patient) and ``labels.csv``; return the CSV.

    ``cases_csv``, if given, receives each image's drawn severities, CTR and devices.
    """
    spec = spec or SampleSpec()
    rng = np.random.default_rng(seed)
    rows, case_rows = [], []
    for i in range(n_images):
        patient, study = i // 2 + 1, i % 2 + 1
        case = draw_case(rng, spec.difficulty)
        ids = pixel_identifiers(patient, study) if spec.identifiers_in_pixels else ()
        values = render_case(case, spec, ids)
        monochrome1 = spec.monochrome1 if spec.monochrome1 is not None else i % 5 == 4
        pixels = stored_pixels(values, spec.bits_stored, monochrome1)
        rel = Path(f"patient{patient:05d}") / f"study{study}" / "view1_frontal.dcm"
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        ds = sample_dataset(pixels, patient, study, spec, monochrome1, f"rig-sample-{seed}-{i}")
        ds.save_as(path, enforce_file_format=True)
        rows.append({"Path": rel.as_posix(), "Frontal/Lateral": "Frontal", "AP/PA": "PA", **case.labels})
        case_rows.append({"Path": rel.as_posix(), "ctr": f"{case.ctr:.4f}",
                          **{k: f"{v:.4f}" for k, v in case.severity.items()},
                          "devices": " ".join(case.devices)})
    csv_path = out_dir / "labels.csv"
    _write_csv(csv_path, rows)
    if cases_csv is not None:
        _write_csv(cases_csv, case_rows)
    return csv_path


def _write_csv(path: Path, rows: Sequence[Mapping[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["Path"])
        writer.writeheader()
        writer.writerows(rows)
