"""``rig import``: files in, de-identified sources out.

Each file is one logical step: hash it, skip it if its content is already in
the library, decode every frame (so corrupt data is caught now, not mid-session),
check the frames at risk of burned-in text by OCR (rig.library.textcheck),
de-identify, mask the text found in the pixel data (rig.library.pixelmask), write
the de-identified copy to objects/, then insert its rows in one transaction. A
bad file is reported (path + reason) and skipped; the rest goes on.
"""

from __future__ import annotations

import io
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pydicom
import sqlite_utils
from PIL import Image
from pydicom.errors import InvalidDicomError

from rig.errors import InputError, RigError, UsageError
from rig.imaging import codec
from rig.imaging.raster import raster_to_display
from rig.imaging.render import RenderOptions, count_frames, render_dataset
from rig.library.deid import deidentify, pseudonym
from rig.library.labels import LabelRow, LabelTable, ids_from_path, read_labels
from rig.library.pixelmask import FrameText, darkest_fill, mask_dicom, masked_flat
from rig.library.textcheck import (
    RASTER_RISK,
    BurnedInMode,
    TextChecker,
    TextExcluded,
    TextVerdict,
    dicom_risk,
)
from rig.project import Project
from rig.store.db import log_event, utc_now
from rig.store.objects import sha256_bytes

T = TypeVar("T")
RASTER_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}
MAX_FILE_BYTES = 2 << 30


@dataclass
class ImportReport:
    imported: list[dict[str, Any]] = field(default_factory=list)  # one per new file
    duplicates: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    excluded: list[str] = field(default_factory=list)  # --burned-in exclude, text found
    labelled_sources: int = 0
    unmatched_label_rows: int = 0
    burned_in_mode: str = str(BurnedInMode.MASK)
    text_status: Counter[str] = field(default_factory=Counter)  # sources per status
    text_regions: int = 0
    ocr_engine: str | None = None

    @property
    def exit_code(self) -> int:
        return 1 if self.skipped else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "imported_files": len(self.imported),
            "imported_sources": sum(f["sources"] for f in self.imported),
            "duplicates": self.duplicates,
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "labelled_sources": self.labelled_sources,
            "unmatched_label_rows": self.unmatched_label_rows,
            "source_ids": [i for f in self.imported for i in f["source_ids"]],
            "excluded": list(self.excluded),
            "burned_in": {
                "mode": self.burned_in_mode,
                "engine": self.ocr_engine,
                "sources": dict(sorted(self.text_status.items())),
                "masked_regions": self.text_regions,
                "excluded_files": len(self.excluded),
            },
        }


@dataclass
class _Parsed:
    kind: str
    object_bytes: bytes
    patient_key: str
    study_key: str
    frames: list[dict[str, Any]]  # per-frame sources columns
    text: TextVerdict  # the burned-in text check, the same for every frame


def iter_files(paths: Iterable[Path], recursive: bool) -> Iterator[Path]:
    """Files named directly, plus the files inside named folders (recursively on request)."""
    for path in paths:
        if path.is_dir():
            children = path.rglob("*") if recursive else path.iterdir()
            for child in sorted(children):
                if child.is_file() and not child.name.startswith("."):
                    yield child
        else:
            yield path


def import_paths(
    project: Project,
    paths: Iterable[Path],
    labels_csv: Path | None = None,
    recursive: bool = False,
    on_file: Callable[[Path], None] | None = None,
    burned_in: BurnedInMode = BurnedInMode.MASK,
    accept_burned_in_text: bool = False,
) -> ImportReport:
    """Import every file under ``paths``; never raises for a bad file, only reports it.

    ``burned_in`` says what happens to images at risk of burned-in text; ``keep``
    must be confirmed with ``accept_burned_in_text``.
    """
    if burned_in is BurnedInMode.KEEP and not accept_burned_in_text:
        raise UsageError(
            "--burned-in keep imports images with names, ids and dates left in their "
            "pixels; confirm with --i-accept-burned-in-text"
        )
    table = read_labels(labels_csv) if labels_csv is not None else None
    report = ImportReport(burned_in_mode=str(burned_in))
    skip = labels_csv.resolve() if labels_csv is not None else None
    db = project.db(durable=False)  # an interrupted import is simply run again (it dedupes)
    try:
        with TextChecker(burned_in) as checker:
            for path in iter_files(paths, recursive):
                if skip is not None and path.resolve() == skip:
                    continue
                if on_file is not None:
                    on_file(path)
                _import_guarded(_Run(project, db, table, report, checker), path)
        if table is not None:
            report.unmatched_label_rows = sum(not row.matched for row in table.rows)
        with db.conn:
            log_event(db, "import", _event_summary(report))
    finally:
        db.close()
    return report


@dataclass(frozen=True)
class _Run:
    """What every file of one import shares."""

    project: Project
    db: sqlite_utils.Database
    table: LabelTable | None
    report: ImportReport
    checker: TextChecker


def _import_guarded(run: _Run, path: Path) -> None:
    try:
        with warnings.catch_warnings():
            # pydicom warns about oddities we either handle or report ourselves.
            warnings.simplefilter("ignore")
            _import_one(run, path)
    except TextExcluded:
        run.report.excluded.append(str(path))
    except RigError as exc:
        run.report.skipped.append((str(path), exc.message))


def _event_summary(report: ImportReport) -> dict[str, Any]:
    # Counts only: paths may carry names, so they stay out of the event log.
    summary = report.to_dict()
    summary["skipped"] = len(report.skipped)
    summary["excluded"] = len(report.excluded)
    summary.pop("source_ids")
    return summary


def _import_one(run: _Run, path: Path) -> None:
    project, db, table, report = run.project, run.db, run.table, run.report
    data = _read(path)
    sha = sha256_bytes(data)
    row = table.match(path.resolve()) if table is not None else None
    existing = list(db.query("SELECT id FROM sources WHERE file_sha256 = ?", [sha]))
    if existing:
        report.duplicates += 1
        if row is not None:
            with db.conn:
                _write_labels(db, [r["id"] for r in existing], row, project)
            report.labelled_sources += len(existing)
        return
    parsed = _parse(project, path, data, row, run.checker)
    object_sha = project.objects.put(parsed.object_bytes, durable=False)
    now = utc_now()
    with db.conn:  # one transaction per file
        patient_id = pseudonym(project.secret, "patient", parsed.patient_key)
        study_id = pseudonym(project.secret, "study", parsed.study_key)
        db.table("patients").insert({"id": patient_id, "created_at": now}, ignore=True)
        db.table("studies").insert(
            {"id": study_id, "patient_id": patient_id, "created_at": now}, ignore=True
        )
        db.table("files").insert(
            {
                "sha256": sha,
                "object_sha256": object_sha,
                "kind": parsed.kind,
                "size_bytes": len(data),
                "path_key": pseudonym(project.secret, "path", str(path.resolve())),
                "imported_at": now,
            }
        )
        ids = []
        for frame in parsed.frames:
            frame.update(file_sha256=sha, patient_id=patient_id, study_id=study_id, imported_at=now)
            if row is not None and row.view and not frame.get("view"):
                frame["view"] = row.view
            ids.append(int(db.table("sources").insert(frame).last_pk))  # type: ignore[arg-type]
        db.table("burned_in").insert_all(parsed.text.row(i, now) for i in ids)
        if row is not None:
            _write_labels(db, ids, row, project)
            report.labelled_sources += len(ids)
    report.imported.append({"kind": parsed.kind, "sources": len(ids), "source_ids": ids})
    report.text_status[parsed.text.status] += len(ids)
    report.text_regions += len(parsed.text.regions)
    report.ocr_engine = parsed.text.engine or report.ocr_engine


def _read(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError(f"{path}: {size} bytes is larger than the 2 GiB import limit")
        if size == 0:
            raise InputError(f"{path}: empty file")
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from exc


def _write_labels(
    db: sqlite_utils.Database, source_ids: list[int], row: LabelRow, project: Project
) -> None:
    origin = pseudonym(project.secret, "path", "labels")
    for source_id in source_ids:
        for name, value in row.labels.items():
            db.table("labels").upsert(
                {"source_id": source_id, "name": name, "value": value, "origin": origin},
                pk=("source_id", "name"),
            )


def _is_dicom(path: Path, data: bytes) -> bool:
    if data[128:132] == b"DICM":
        return True
    return path.suffix.lower() not in RASTER_SUFFIXES and path.suffix.lower() in {
        "",
        ".dcm",
        ".dicom",
    }


def _parse(
    project: Project, path: Path, data: bytes, row: LabelRow | None, checker: TextChecker
) -> _Parsed:
    if _is_dicom(path, data):
        return _parse_dicom(project, path, data, checker)
    if path.suffix.lower() in RASTER_SUFFIXES:
        return _parse_raster(path, data, row, checker)
    raise InputError(f"{path}: not an image rig can import (DICOM, PNG, JPEG or TIFF)")


def _parse_dicom(project: Project, path: Path, data: bytes, checker: TextChecker) -> _Parsed:
    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=data[128:132] != b"DICM")
        ds.decode()
    except (InvalidDicomError, EOFError, ValueError, KeyError, TypeError, OSError) as exc:
        raise InputError(f"{path}: not a readable DICOM file ({exc})") from exc
    except Exception as exc:  # pydicom raises many kinds on hostile input
        raise InputError(f"{path}: not a readable DICOM file ({type(exc).__name__})") from exc
    if "PixelData" not in ds:
        if data[128:132] != b"DICM" and "SOPClassUID" not in ds:  # read by force: no DICOM
            raise InputError(f"{path}: not a DICOM file (no DICM preamble, no SOP Class UID)")
        raise InputError(f"{path}: not an image (no Pixel Data)")
    n_frames = count_frames(ds)
    risk = dicom_risk(
        str(ds.get("Modality", "") or ""),
        str(ds.get("SOPClassUID", "") or ""),
        ds.get("BurnedInAnnotation"),
    )
    found: list[FrameText] = []
    for frame in range(n_frames):  # catches corrupt and undecodable data up front
        try:
            shown = render_dataset(ds, RenderOptions(frame=frame)).pixels
        except InputError as exc:
            raise InputError(f"{path}: {exc.message}") from exc
        if checker.needs_ocr(risk):
            found.append(checker.find(_with_overlays(ds, frame, shown), frame))
    text = checker.verdict(risk, found, str(path))
    patient_key = str(ds.get("PatientID", "") or "") or "file:" + sha256_bytes(data)
    study_key = str(ds.get("StudyInstanceUID", "") or "") or "file:" + sha256_bytes(data)
    meta = {
        "modality": str(ds.get("Modality", "") or "") or None,
        "photometric": str(ds.get("PhotometricInterpretation", "")) or None,
        "rows": int(ds.Rows),
        "columns": int(ds.Columns),
        "bits_stored": int(ds.get("BitsStored", ds.get("BitsAllocated", 8))),
        "samples_per_pixel": int(ds.get("SamplesPerPixel", 1)),
        "transfer_syntax": str(ds.file_meta.TransferSyntaxUID)
        if "TransferSyntaxUID" in ds.get("file_meta", {})
        else None,
        "view": str(ds.get("ViewPosition", "") or "") or None,
        "n_frames": n_frames,
    }
    patient_pseudo = pseudonym(project.secret, "patient", patient_key)
    study_pseudo = pseudonym(project.secret, "study", study_key)
    deidentify(ds, project.secret, patient_pseudo, study_pseudo)
    if text.regions:
        _refuse_on_failure(path, lambda: mask_dicom(ds, found, str(path)))
    buf = io.BytesIO()
    try:
        ds.save_as(buf, enforce_file_format=True)
    except (ValueError, AttributeError):
        buf = io.BytesIO()
        ds.save_as(buf, enforce_file_format=False)
    frames = [dict(meta, frame=i) for i in range(n_frames)]
    return _Parsed("dicom", buf.getvalue(), patient_key, study_key, frames, text)


def _refuse_on_failure(path: Path, mask: Callable[[], T]) -> T:
    """Run a masking step; any failure refuses the file (it is never stored unmasked)."""
    try:
        return mask()
    except RigError:
        raise
    except Exception as exc:
        raise InputError(
            f"{path}: burned-in text found, but masking failed ({type(exc).__name__}); "
            "import with --burned-in exclude"
        ) from exc


def _with_overlays(ds: pydicom.Dataset, frame: int, shown: np.ndarray) -> np.ndarray:
    """The frame as shown with its overlay planes burned in (text may be drawn there);
    the plain frame when the file has none or they cannot be drawn."""
    if not any((group, 0x3000) in ds for group in range(0x6000, 0x6020, 2)):
        return shown
    try:
        return render_dataset(ds, RenderOptions(frame=frame, burn_overlays=True)).pixels
    except InputError:
        return shown


def _transfer_syntax(ds: pydicom.Dataset) -> str | None:
    meta = getattr(ds, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    return str(uid) if uid else None


def _parse_raster(path: Path, data: bytes, row: LabelRow | None, checker: TextChecker) -> _Parsed:
    pixels = codec.try_decode(data)
    if pixels is None:
        raise InputError(f"{path}: corrupt or unsupported {path.suffix} image")
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        pixels = pixels[:, :, :3]
    if (
        pixels.ndim == 3
        and np.array_equal(pixels[..., 0], pixels[..., 1])
        and np.array_equal(pixels[..., 1], pixels[..., 2])
    ):
        pixels = pixels[..., 0]  # grey stored as RGB (common for JPEG X-rays)
    if pixels.dtype not in (np.uint8, np.uint16):
        raise InputError(f"{path}: {pixels.dtype} pixels are not supported (8 or 16 bit only)")
    # Re-encoding as PNG keeps the decoded pixels exactly and drops every metadata
    # chunk (EXIF, text) that could carry identifiers.
    png = _encode_png(path, pixels)
    found = [checker.find(_display(path, png), 0)] if checker.needs_ocr(RASTER_RISK) else []
    text = checker.verdict(RASTER_RISK, found, str(path))
    if text.regions:
        black = [np.zeros(pixels.shape[2:], pixels.dtype)]  # 0 / (0, 0, 0): black unless windowed
        masked = _refuse_on_failure(
            path,
            lambda: darkest_fill(
                lambda p: _display(path, _encode_png(path, p)),
                pixels,
                text.regions,
                found[0].darkest,
                black,
            ),
        )
        png = _encode_png(path, masked)
        if not masked_flat(_display(path, png), text.regions):
            raise InputError(
                f"{path}: masking burned-in text did not hold; use --burned-in exclude"
            )
    patient_key, study_key = ids_from_path(path)
    if row is not None:
        patient_key = row.patient or patient_key
        study_key = row.study or study_key
    file_key = "file:" + sha256_bytes(data)
    frame = {
        "frame": 0,
        "n_frames": 1,
        "modality": None,
        "photometric": "MONOCHROME2" if pixels.ndim == 2 else "RGB",
        "rows": int(pixels.shape[0]),
        "columns": int(pixels.shape[1]),
        "bits_stored": 16 if pixels.dtype == np.uint16 else 8,
        "samples_per_pixel": 1 if pixels.ndim == 2 else 3,
        "transfer_syntax": None,
        "view": None,
    }
    return _Parsed("raster", png, patient_key or file_key, study_key or file_key, [frame], text)


def _encode_png(path: Path, pixels: np.ndarray) -> bytes:
    return codec.encode_png(pixels, what=f"{path}: re-encoding")


def _display(path: Path, png: bytes) -> np.ndarray:
    """The frame rig will display for this PNG (rig.imaging.raster's policies), decoded
    in memory: unmasked pixels never touch a file."""
    try:
        with Image.open(io.BytesIO(png)) as image:
            image.load()
            return raster_to_display(image)[0]
    except InputError as exc:
        raise InputError(f"{path}: {exc.message}") from exc
