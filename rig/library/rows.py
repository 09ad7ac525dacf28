"""The source library as rows: read from one project, added to another, deduplicated by content.

What moves between rigs (``rig library export/import``, ``rig merge``) is the library as
stored: pseudonymous patients and studies, files (named by the hash of the file as given,
with the object holding its de-identified copy), sources with the facts rendering needs,
labels and the burned-in text check. No identifier is in any of them (rig.library.deid).

Sources are matched by their natural key, the file's hash and the frame, never by their
integer id, which differs between projects: ``add_library`` returns the map from the
other project's ids to this one's. A source already here under another patient means
the two projects keyed their pseudonyms with different secrets: that is refused, since
one patient could then land in two splits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from rig.errors import UsageError

Rows = dict[str, list[dict[str, Any]]]

# In the order they are added (each table's references come first).
LIBRARY_TABLES = ("patients", "studies", "files", "sources", "labels", "burned_in")
SOURCE_TABLES = ("labels", "burned_in")  # keyed by source_id


def read_library(db: sqlite_utils.Database) -> Rows:
    """Every library row of ``db``, as plain dicts (sources ordered by id)."""
    order = {"sources": "id", "labels": "source_id, name", "burned_in": "source_id"}
    return {
        table: [dict(r) for r in db.query(f"SELECT * FROM {table} ORDER BY {order.get(table, 1)}")]
        for table in LIBRARY_TABLES
    }


def library_objects(rows: Rows) -> list[str]:
    """The objects the rows name: each file's de-identified copy."""
    return sorted({str(f["object_sha256"]) for f in rows["files"]})


@dataclass
class LibraryAdded:
    """What ``add_library`` did; ``source_ids`` maps the other project's ids to ours."""

    source_ids: dict[int, int] = field(default_factory=dict)
    sources_added: int = 0
    sources_present: int = 0
    files_added: int = 0
    patients_added: int = 0
    labels_added: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "sources_added": self.sources_added,
            "sources_present": self.sources_present,
            "files_added": self.files_added,
            "patients_added": self.patients_added,
            "labels_added": self.labels_added,
        }


def check_columns(db: sqlite_utils.Database, rows: Rows, where: str) -> None:
    """Refuse rows with columns this rig's schema does not have (a newer rig made them)."""
    for table, items in rows.items():
        known = set(db.table(table).columns_dict)
        extra = sorted({k for row in items for k in row} - known)
        if extra:
            raise UsageError(
                f"{where}: table {table} has columns this rig does not know "
                f"({', '.join(extra)}); it was made by a newer rig: upgrade rig"
            )


def add_library(db: sqlite_utils.Database, rows: Rows, where: str) -> LibraryAdded:
    """Add ``rows`` to ``db`` (caller owns the transaction); rows already here are kept."""
    check_columns(db, rows, where)
    added = LibraryAdded()
    added.patients_added = _insert_new(db, "patients", rows["patients"], ("id",))
    _insert_new(db, "studies", rows["studies"], ("id",))
    added.files_added = _insert_new(db, "files", rows["files"], ("sha256",))
    for source in rows["sources"]:
        here = _source_here(db, source)
        if here is None:
            added.source_ids[int(source["id"])] = _insert_source(db, source)
            added.sources_added += 1
            continue
        if here["patient_id"] != source["patient_id"]:
            raise UsageError(
                f"{where}: source {source['id']} (file {str(source['file_sha256'])[:12]}…, frame "
                f"{source['frame']}) is here under another patient pseudonym: the projects "
                "key pseudonyms with different secrets; share one secret "
                "(rig library export --with-secret) before capturing"
            )
        added.source_ids[int(source["id"])] = int(here["id"])
        added.sources_present += 1
    for table in SOURCE_TABLES:
        mapped = [dict(r, source_id=added.source_ids[int(r["source_id"])]) for r in rows[table]]
        count = _insert_new(db, table, mapped, ("source_id", "name") if table == "labels" else ())
        added.labels_added += count if table == "labels" else 0
    return added


def _source_here(db: sqlite_utils.Database, source: Mapping[str, Any]) -> dict[str, Any] | None:
    found = list(
        db.query(
            "SELECT id, patient_id FROM sources WHERE file_sha256 = ? AND frame = ?",
            [source["file_sha256"], source["frame"]],
        )
    )
    return found[0] if found else None


def _insert_source(db: sqlite_utils.Database, source: Mapping[str, Any]) -> int:
    """Insert a source under its own id when that id is free here, else under a new one
    (projects made from one library keep the library's ids, so plans read the same)."""
    row = dict(source)
    taken = list(db.query("SELECT 1 FROM sources WHERE id = ?", [row["id"]]))
    if taken:
        row.pop("id")
    return int(db.table("sources").insert(row).last_pk)  # type: ignore[arg-type]


def _insert_new(
    db: sqlite_utils.Database, table: str, rows: Iterable[Mapping[str, Any]], key: tuple[str, ...]
) -> int:
    """Insert the rows whose key is not here yet; return how many were new."""
    key = key or ("source_id",)
    where = " AND ".join(f"{k} = ?" for k in key)
    new = 0
    for row in rows:
        if not list(db.query(f"SELECT 1 FROM {table} WHERE {where}", [row[k] for k in key])):
            db.table(table).insert(dict(row))
            new += 1
    return new
