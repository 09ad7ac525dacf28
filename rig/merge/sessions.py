"""Copying one rig's session into the research project, with everything that hangs on it.

Rows are copied as they are, with the ids that differ between projects mapped: sources
(by file hash and frame, rig.library.rows), frames (by source and render key), captures
(new ids). The session keeps its id unless the research project already has that id from
another rig; then it gets a suffix, and its pair names (quality grades and ratings) follow.
Each session records its rig in its conditions (rig, monitor, room) and each capture the
camera that took it (``camera_model``), so every exported pair says where it was made.

Objects (photos, aligned photos, masks, ground truths) are copied first, hash-checked and
hard-linked where the file system allows: the content-addressed store keeps one copy of
each. The session's rows then go in one transaction, so a killed merge leaves at most
unreferenced objects and is simply run again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlite_utils

from rig.errors import UsageError
from rig.imaging import codec
from rig.merge.origin import RigOrigin, camera_identity
from rig.store.objects import ObjectStore


def capture_tables(db: sqlite_utils.Database) -> list[tuple[str, str]]:
    """(table, column) of every foreign key pointing at ``captures`` (registrations, quality
    grades, scores…): copied and removed with their capture, whatever later migrations add."""
    return sorted(
        (fk.table, str(fk.column))
        for table in db.tables
        for fk in table.foreign_keys
        if fk.other_table == "captures"
    )


@dataclass
class SessionRows:
    """One session's rows on its rig, read once."""

    session: dict[str, Any]
    items: list[dict[str, Any]]
    captures: list[dict[str, Any]]
    per_capture: dict[str, list[dict[str, Any]]]
    calibrations: list[dict[str, Any]]
    events: list[dict[str, Any]]
    ratings: list[dict[str, Any]]
    frames: dict[int, dict[str, Any]] = field(default_factory=dict)

    def digest(self) -> str:
        """Hash of what the session holds (ids aside): it changes when the rig changes it."""
        body = {
            "session": {k: v for k, v in self.session.items() if k != "pairing"},
            "items": self.items,
            "captures": [{k: v for k, v in c.items() if k != "id"} for c in self.captures],
            **{
                t: [{k: v for k, v in r.items() if k != t.split(".")[1]} for r in rows]
                for t, rows in self.per_capture.items()
            },
            "ratings": self.ratings,
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()

    def objects(self) -> list[str]:
        """Every object the rows name."""
        shas = {c["photo_sha256"] for c in self.captures}
        for rows in self.per_capture.values():  # registrations: aligned photo and mask
            shas |= {v for r in rows for k, v in r.items() if k.endswith("sha256") and v}
        for frame in self.frames.values():
            shas.add(frame["object_sha256"])
            shas.add(json.loads(frame["facts"]).get("display", {}).get("source_sha256"))
        return sorted(s for s in shas if s)


def pair_names(sid: str) -> str:
    """GLOB of the pair names of session ``sid`` (``<sid>-<idx:05d>-a<attempt>``), and not
    of a session named ``<sid>-2`` (session ids hold letters, digits and '-' only)."""
    return f"{sid}-[0-9][0-9][0-9][0-9][0-9]*-a[0-9]*"


def _rows(db: sqlite_utils.Database, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    return [dict(r) for r in db.query(sql, params)]


def read_session(db: sqlite_utils.Database, sid: str) -> SessionRows:
    session = _rows(db, "SELECT * FROM sessions WHERE id = ?", [sid])[0]
    items = _rows(db, "SELECT * FROM items WHERE session_id = ? ORDER BY idx", [sid])
    captures = _rows(db, "SELECT * FROM captures WHERE session_id = ? ORDER BY id", [sid])
    per_capture = {
        f"{table}.{column}": _rows(
            db,
            f"SELECT t.* FROM {table} t JOIN captures c ON "
            f"c.id = t.{column} WHERE c.session_id = ? ORDER BY "
            f"t.{column}",
            [sid],
        )
        for table, column in capture_tables(db)
    }
    frame_ids = sorted({i["frame_id"] for i in items if i["frame_id"] is not None})
    frames = {
        f["id"]: f
        for f in _rows(
            db, f"SELECT * FROM frames WHERE id IN ({','.join('?' * len(frame_ids))})", frame_ids
        )
    }
    return SessionRows(
        session,
        items,
        captures,
        per_capture,
        _rows(db, "SELECT * FROM calibrations WHERE session_id = ? ORDER BY id", [sid]),
        _rows(db, "SELECT * FROM events WHERE session_id = ? ORDER BY id", [sid]),
        _rows(
            db,
            "SELECT * FROM quality_ratings WHERE photo GLOB ? ORDER BY rater, photo",
            [pair_names(sid)],
        ),
        frames,
    )


def copy_objects(origin: RigOrigin, target: ObjectStore, shas: list[str]) -> int:
    """Copy the objects ``target`` lacks (hash-checked; linked where possible)."""
    copied = 0
    for sha in shas:
        if not target.contains(sha):
            target.adopt(origin.project.objects.path_for(sha), origin.project.objects.get(sha))
            copied += 1
    return copied


def free_session_id(db: sqlite_utils.Database, sid: str) -> str:
    """``sid`` when the research project has no session of that id, else ``sid-2``, ``-3``…"""
    candidate, n = sid, 1
    while list(db.query("SELECT 1 FROM sessions WHERE id = ?", [candidate])):
        n += 1
        candidate = f"{sid}-{n}"
    return candidate


def delete_session(db: sqlite_utils.Database, sid: str) -> None:
    """Remove a merged session's rows (before copying a changed one again)."""
    for table, column in capture_tables(db):
        db.execute(
            f"DELETE FROM {table} WHERE {column} IN (SELECT id FROM captures WHERE session_id = ?)",
            [sid],
        )
    for table in ("captures", "items", "calibrations", "events", "merged_sessions"):
        db.execute(f"DELETE FROM {table} WHERE session_id = ?", [sid])
    db.execute("DELETE FROM quality_ratings WHERE photo GLOB ?", [pair_names(sid)])
    db.execute("DELETE FROM sessions WHERE id = ?", [sid])


def insert_session(
    db: sqlite_utils.Database,
    objects: ObjectStore,
    origin: RigOrigin,
    rows: SessionRows,
    new_sid: str,
    source_ids: dict[int, int],
) -> None:
    """Insert ``rows`` under ``new_sid`` (caller owns the transaction)."""
    old_sid = rows.session["id"]
    conditions = json.loads(rows.session["conditions"] or "{}") | origin.conditions()
    db.table("sessions").insert(
        rows.session
        | {"id": new_sid, "conditions": json.dumps(conditions, sort_keys=True), "pairing": None}
    )
    frame_ids = {
        fid: _frame_here(db, objects, origin, f, source_ids) for fid, f in rows.frames.items()
    }
    for item in rows.items:
        db.table("items").insert(
            item
            | {
                "session_id": new_sid,
                "source_id": source_ids[item["source_id"]],
                "frame_id": frame_ids.get(item["frame_id"]),
            }
        )
    capture_ids: dict[int, int] = {}
    for capture in rows.captures:
        capture_ids[capture["id"]] = int(
            db.table("captures")
            .insert(  # type: ignore[arg-type]
                {k: v for k, v in capture.items() if k != "id"}
                | {"session_id": new_sid, "conditions": _camera_conditions(origin, rows, capture)}
            )
            .last_pk
        )
    for name, items in rows.per_capture.items():
        table, column = name.split(".")
        for row in items:
            row = row | {column: capture_ids[row[column]]}
            if "photo" in row:  # quality grades name their pair
                row["photo"] = _renamed(row["photo"], old_sid, new_sid)
            db.table(table).insert(row)
    for row in rows.calibrations:
        db.table("calibrations").insert(
            {k: v for k, v in row.items() if k != "id"} | {"session_id": new_sid}
        )
    db.table("events").insert_all(
        {k: v for k, v in e.items() if k != "id"} | {"session_id": new_sid} for e in rows.events
    )
    for rating in rows.ratings:
        db.table("quality_ratings").insert(
            rating | {"photo": _renamed(rating["photo"], old_sid, new_sid)}, ignore=True
        )


def _renamed(photo: str, old_sid: str, new_sid: str) -> str:
    """A pair's name (``<session>-<idx>-a<attempt>``) under the session's merged id."""
    return new_sid + photo[len(old_sid) :] if photo.startswith(old_sid + "-") else photo


def _camera_conditions(origin: RigOrigin, rows: SessionRows, capture: dict[str, Any]) -> str:
    conditions = json.loads(capture["conditions"] or "{}")
    if capture["photo_sha256"]:
        photo = origin.project.objects.get(capture["photo_sha256"])
        device = json.loads(capture["device"] or "{}")
        conditions["camera_model"] = camera_identity(device, rows.session["camera"], photo)
    return json.dumps(conditions, sort_keys=True)


def _frame_here(
    db: sqlite_utils.Database,
    objects: ObjectStore,
    origin: RigOrigin,
    frame: dict[str, Any],
    source_ids: dict[int, int],
) -> int:
    """The research project's frame of this ground truth: the same source and render key
    (rendering is deterministic: the same pixels, even if a PNG encoder wrote other bytes)."""
    source_id = source_ids[frame["source_id"]]
    found = _rows(
        db,
        "SELECT id, object_sha256 FROM frames WHERE source_id = ? AND render_key = ?",
        [source_id, frame["render_key"]],
    )
    if not found:
        row = {k: v for k, v in frame.items() if k != "id"} | {"source_id": source_id}
        return int(db.table("frames").insert(row).last_pk)  # type: ignore[arg-type]
    here = found[0]
    if here["object_sha256"] != frame["object_sha256"] and not _same_pixels(
        origin.project.objects.get(frame["object_sha256"]), objects.get(here["object_sha256"])
    ):
        raise UsageError(
            f"{origin.project.root}: rig '{origin.name}' rendered source {frame['source_id']} "
            "differently under the same render settings; merge refused (check rig versions)"
        )
    return int(here["id"])


def _same_pixels(theirs: bytes, ours: bytes) -> bool:
    a, b = codec.decode(theirs, what="ground truth"), codec.decode(ours, what="ground truth")
    return a.shape == b.shape and bool(np.array_equal(a, b))
