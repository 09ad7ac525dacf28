"""A project's graded photos as a label set (what ``rig train quality --project`` trains on).

Every capture with a stored aligned photo and an automatic grade (``quality_grades``:
verified pairs, and the photos the live gate retook — exactly the bad examples a model
needs) becomes a row; the grade comes from ``--labels``: ``auto`` (the automatic grade),
``human`` (the raters' consensus; unrated photos are left out) or ``both`` (the
consensus where there is one, the automatic grade elsewhere). Patients are the
project's pseudonymous ids; photo ids are the exported pair ids (no identifiers).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rig.atomic import write_bytes_atomic
from rig.errors import InputError
from rig.quality.labelset import LABELS_NAME, LabelRow, mask_path, photo_path
from rig.quality.ratings import consensus
from rig.quality.store import load_ratings

_QUERY = """
SELECT g.photo, g.grade, g.figures, g.reasons, s.patient_id, c.session_id, c.attempt,
       r.aligned_sha256, r.mask_sha256
FROM quality_grades g
JOIN captures c ON c.id = g.capture_id
JOIN registrations r ON r.capture_id = g.capture_id
JOIN items i ON i.session_id = c.session_id AND i.idx = c.idx
JOIN sources s ON s.id = i.source_id
WHERE r.aligned_sha256 IS NOT NULL AND r.mask_sha256 IS NOT NULL
ORDER BY g.photo
"""


def _grade(mode: str, auto: int, human: int | None) -> int | None:
    if mode == "auto":
        return auto
    if mode == "human":
        return human
    return auto if human is None else human


def export_project_labels(project: Any, mode: str, out: Path) -> dict[str, Any]:
    """Write the project's graded photos to the label set ``out``; returns counts."""
    db = project.db()
    try:
        human = consensus(load_ratings(db))
        records = list(db.query(_QUERY))
    finally:
        db.close()
    rows: list[LabelRow] = []
    for rec in records:
        grade = _grade(mode, int(rec["grade"]), human.get(rec["photo"]))
        if grade is None:
            continue
        row = LabelRow(rec["photo"], rec["patient_id"][:16], rec["session_id"], rec["attempt"],
                       grade, json.loads(rec["figures"]), tuple(json.loads(rec["reasons"])))
        write_bytes_atomic(photo_path(out, row), project.objects.get(rec["aligned_sha256"]),
                           durable=False)
        write_bytes_atomic(mask_path(out, row), project.objects.get(rec["mask_sha256"]),
                           durable=False)
        rows.append(row)
    if not rows:
        raise InputError(f"{project.root}: no graded photos with '{mode}' labels; run "
                         "'rig quality grade' (or rate photos) first")
    text = "".join(json.dumps(r.to_dict(), sort_keys=True) + "\n" for r in rows)
    write_bytes_atomic(out / LABELS_NAME, text.encode())
    return {"photos": len(rows), "patients": len({r.patient for r in rows})}
