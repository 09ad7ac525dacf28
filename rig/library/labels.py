"""Label CSVs: CheXpert/CheXphoto style (``Path`` + observation columns) or ``path,label``.

CheXpert observations take 1 (positive), 0 (negative), -1 (uncertain) or blank
(not mentioned); blank is kept as NULL so "not mentioned" differs from "absent".
Demographic columns (Sex, Age) are deliberately not imported: they are not needed
for pairing and Age can be identifying. ``Frontal/Lateral`` and ``AP/PA`` give
the view.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from rig.errors import InputError

VIEW_COLUMNS = ("AP/PA", "Frontal/Lateral")
IGNORED_COLUMNS = {"sex", "age", "patient", "study", "groundtruthpath"}
_PATIENT_RE = re.compile(r"^patient(\d+)$", re.IGNORECASE)
_STUDY_RE = re.compile(r"^study(\d+)$", re.IGNORECASE)


@dataclass
class LabelRow:
    path: PurePath
    labels: dict[str, float | None]
    view: str | None = None
    patient: str | None = None  # a patient key from the CSV or path (hashed before storing)
    study: str | None = None
    matched: bool = False


@dataclass
class LabelTable:
    origin: Path
    rows: list[LabelRow] = field(default_factory=list)
    _by_suffix: dict[tuple[str, ...], LabelRow | None] = field(default_factory=dict)

    def index(self) -> None:
        """Index every row by each suffix of its path; ambiguous suffixes map to None."""
        for row in self.rows:
            parts = tuple(p.lower() for p in row.path.parts)
            for k in range(1, len(parts) + 1):
                key = parts[-k:]
                self._by_suffix[key] = None if key in self._by_suffix else row

    def match(self, file_path: Path) -> LabelRow | None:
        """The row whose path is the longest unambiguous suffix of ``file_path``."""
        parts = tuple(p.lower() for p in file_path.parts)
        for k in range(len(parts), 0, -1):
            row = self._by_suffix.get(parts[-k:])
            if row is not None:
                row.matched = True
                return row
        return None


def _parse_value(text: str, where: str) -> float | None:
    text = text.strip()
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError as exc:
        raise InputError(f"{where}: label value {text!r} is not 1, 0, -1 or blank") from exc
    if value not in (1.0, 0.0, -1.0):
        raise InputError(f"{where}: label value {text!r} is not 1, 0, -1 or blank")
    return value


def ids_from_path(path: PurePath) -> tuple[str | None, str | None]:
    """CheXpert-style ``.../patient00001/study1/view1_frontal.jpg`` → ('00001', '00001/1')."""
    patient = study = None
    for part in path.parts:
        if m := _PATIENT_RE.match(part):
            patient = m.group(1)
        elif (m := _STUDY_RE.match(part)) and patient is not None:
            study = f"{patient}/{m.group(1)}"
    return patient, study


def read_labels(csv_path: Path) -> LabelTable:
    """Parse a labels CSV; a malformed file raises InputError naming file, line and column."""
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            fieldnames = [f.strip() for f in (reader.fieldnames or [])]
            lower = [f.lower() for f in fieldnames]
            table = LabelTable(origin=csv_path)
            if "path" not in lower:
                raise InputError(
                    f"{csv_path}: no 'Path' column; expected CheXpert style or path,label"
                )
            simple = sorted(lower) == ["label", "path"]
            for line_no, raw in enumerate(reader, start=2):
                row = {k.strip(): (v or "") for k, v in raw.items() if k is not None}
                table.rows.append(_row(row, fieldnames, simple, f"{csv_path}:{line_no}"))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{csv_path}: cannot read labels CSV ({exc})") from exc
    table.index()
    return table


def _row(row: dict[str, str], fieldnames: list[str], simple: bool, where: str) -> LabelRow:
    path_key = next(f for f in fieldnames if f.lower() == "path")
    path = PurePath(row[path_key].strip().replace("\\", "/"))
    if not row[path_key].strip():
        raise InputError(f"{where}: empty Path")
    patient, study = ids_from_path(path)
    patient = row.get("Patient") or patient
    study = row.get("Study") or study
    if simple:
        label_key = next(f for f in fieldnames if f.lower() == "label")
        value = row[label_key].strip()
        try:
            labels: dict[str, float | None] = {"label": float(value)}
        except ValueError:
            labels = {value: 1.0} if value else {}
        return LabelRow(path, labels, patient=patient, study=study)
    labels = {}
    view_parts = []
    for name in fieldnames:
        if name == path_key or name.lower() in IGNORED_COLUMNS:
            continue
        if name in VIEW_COLUMNS:
            if row.get(name):
                view_parts.append(row[name].strip())
            continue
        labels[name] = _parse_value(row.get(name, ""), f"{where} column '{name}'")
    view = "/".join(view_parts) or None
    return LabelRow(path, labels, view=view, patient=patient, study=study)
