"""An automatic-label set on disk: graded photos for the quality model and its baselines.

Layout (``rig quality simulate OUTDIR``)::

    OUTDIR/labels.jsonl      one JSON object per photo (LabelRow.to_dict), appended
    OUTDIR/photos/<id>.png   the aligned photo, the ground truth's pixels, grey
    OUTDIR/masks/<id>.png    its valid-pixel mask (0/255)

Rows are appended one photo at a time and flushed, so an interrupted run continues
where it stopped (ids already present are skipped; a torn last line is ignored).
Ids carry a pseudonymous patient, the preset and the draw — never patient data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from rig.atomic import write_bytes_atomic
from rig.errors import InputError
from rig.quality.figures import PairFigures
from rig.quality.simulated import SimulatedPair

LABELS_NAME = "labels.jsonl"


@dataclass(frozen=True)
class LabelRow:
    photo: str  # id, also the file stem
    patient: str
    preset: str
    draw: int
    grade: int | None  # None: the registration rejected the photo
    figures: dict[str, Any] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "reasons": list(self.reasons)}

    @property
    def figures_obj(self) -> PairFigures:
        return PairFigures.from_dict(self.figures)


def photo_id(pair: SimulatedPair) -> str:
    return f"{pair.patient}-{pair.preset}-d{pair.draw}"  # = simulated.job_id of its job


def read_label_set(folder: Path) -> list[LabelRow]:
    """Rows of ``folder/labels.jsonl`` (a torn last line is skipped)."""
    path = folder / LABELS_NAME
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"{path}: not a label set ({exc.strerror}); run 'rig quality simulate'"
                         ) from exc
    rows = []
    for number, line in enumerate(lines, 1):
        try:
            data = json.loads(line)
            rows.append(LabelRow(str(data["photo"]), str(data["patient"]), str(data["preset"]),
                                 int(data["draw"]), data["grade"], dict(data["figures"]),
                                 tuple(data["reasons"])))
        except (ValueError, KeyError, TypeError) as exc:
            if number == len(lines):  # an interrupted append
                break
            raise InputError(f"{path} line {number}: not a label row ({exc})") from exc
    return rows


def photo_path(folder: Path, row: LabelRow) -> Path:
    return folder / "photos" / f"{row.photo}.png"


def mask_path(folder: Path, row: LabelRow) -> Path:
    return folder / "masks" / f"{row.photo}.png"


def _png(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise InputError("PNG encoding failed")
    return bytes(buf)


def write_label_set(
    folder: Path,
    pairs: Iterable[SimulatedPair],
    on_row: Callable[[LabelRow], None] | None = None,
) -> int:
    """Append ``pairs`` to the label set in ``folder``; returns the number written."""
    (folder / "photos").mkdir(parents=True, exist_ok=True)
    (folder / "masks").mkdir(exist_ok=True)
    written = 0
    with (folder / LABELS_NAME).open("a", encoding="utf-8") as out:
        for pair in pairs:
            pid = photo_id(pair)
            row = LabelRow(
                pid, pair.patient, pair.preset, pair.draw,
                None if pair.grade is None else pair.grade.grade,
                {} if pair.figures is None else pair.figures.to_dict(),
                (pair.reason,) if pair.grade is None else pair.grade.reasons,
            )
            if pair.aligned is not None and pair.mask is not None:
                # Files before the row that names them: a crash leaves at most an orphan.
                write_bytes_atomic(photo_path(folder, row), _png(pair.aligned), durable=False)
                mask = pair.mask.astype(np.uint8) * 255
                write_bytes_atomic(mask_path(folder, row), _png(mask), durable=False)
            out.write(json.dumps(row.to_dict(), sort_keys=True) + "\n")
            out.flush()
            written += 1
            if on_row is not None:
                on_row(row)
    return written


def existing_ids(folder: Path) -> set[str]:
    if not (folder / LABELS_NAME).exists():
        return set()
    return {row.photo for row in read_label_set(folder)}
