"""Looking up sources in the library."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from rig.errors import InputError
from rig.project import Project


@dataclass(frozen=True)
class SourceRef:
    """Where a source's pixels are: the de-identified object file and the frame in it."""

    source_id: int
    path: Path  # verified object file (DICOM or PNG)
    frame: int  # 0-based
    kind: str  # 'dicom' | 'raster'


def resolve_source(project: Project, source_id: int) -> SourceRef:
    """Find source ``source_id``; its object is hash-verified before it is returned."""
    db = project.db()
    try:
        rows = list(
            db.query(
                "SELECT s.frame, f.object_sha256, f.kind FROM sources s "
                "JOIN files f ON f.sha256 = s.file_sha256 WHERE s.id = ?",
                [source_id],
            )
        )
    finally:
        db.close()
    if not rows:
        raise InputError(
            f"source {source_id}: no such source in {project.root}; see 'rig sources list'"
        )
    row = rows[0]
    path = project.objects.verified_path(row["object_sha256"])
    return SourceRef(source_id, path, int(row["frame"]), str(row["kind"]))


def burned_in_of(db: sqlite_utils.Database) -> dict[int, dict[str, Any]]:
    """The burned-in text check of every source that had one, by source id."""
    if "burned_in" not in db.table_names():
        return {}
    out = {}
    for row in db.query("SELECT * FROM burned_in"):
        source_id = int(row.pop("source_id"))
        row["regions"] = json.loads(row["regions"])
        row["at_risk"] = bool(row["at_risk"])
        out[source_id] = row
    return out
