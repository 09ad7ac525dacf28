"""``rig merge PROJECT... -o RESEARCH``: several rigs' projects into one research project.

Each rig's library is added (sources matched by content, rig.library.rows), then each of
its finished sessions is copied with its items, captures, registrations, grades, scores,
calibrations and events (rig.merge.sessions). Merging is idempotent: a session is known
by its rig, id and creation time (``merged_sessions.origin_key``); one merged before is
left alone, or copied again when its rows changed on the rig since (``digest``).

Pseudonyms must agree across rigs for patient-level splits to hold: every rig's project
must carry the same secret (shared with ``rig library export --with-secret``), which the
research project adopts, unless ``--different-secrets`` says the rigs share no patient.
The same source verified on two rigs is a conflict kept on purpose: two pairs, each with
its rig's conditions, both in the patient's one split.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from rig.errors import UsageError
from rig.export.pairs import EXPORTED_STATES
from rig.library.rows import LibraryAdded, add_library, library_objects, read_library
from rig.library.sharedsecret import adopt_secret, fingerprint
from rig.merge.origin import RigOrigin, open_origins
from rig.merge.sessions import (
    copy_objects,
    delete_session,
    free_session_id,
    insert_session,
    read_session,
)
from rig.project import CONFIG_NAME, Project, init_project, open_project
from rig.store.db import log_event, utc_now


@dataclass
class RigMerged:
    """What one rig brought."""

    name: str
    project: str
    library: LibraryAdded = field(default_factory=LibraryAdded)
    added: list[str] = field(default_factory=list)  # merged session ids
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "ID (state)"
    objects_copied: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rig": self.name,
            "project": self.project,
            "library": self.library.to_dict(),
            "sessions_added": self.added,
            "sessions_updated": self.updated,
            "sessions_unchanged": self.unchanged,
            "sessions_skipped": self.skipped,
            "objects_copied": self.objects_copied,
        }


@dataclass
class MergeReport:
    target: Path
    secret: str  # 'adopted' | 'same' | 'different (--different-secrets)'
    rigs: list[RigMerged] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def added(self) -> int:
        return sum(len(r.added) + len(r.updated) for r in self.rigs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": str(self.target),
            "secret": self.secret,
            "rigs": [r.to_dict() for r in self.rigs],
            "sessions_added": sum(len(r.added) for r in self.rigs),
            "sessions_updated": sum(len(r.updated) for r in self.rigs),
            "sessions_unchanged": sum(len(r.unchanged) for r in self.rigs),
            "conflicts": self.conflicts,
        }


def merge_projects(
    sources: list[Path],
    target: Path,
    different_secrets: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> MergeReport:
    """Merge ``sources`` (rig projects) into ``target`` (created when missing);
    ``on_progress(done, total)`` is told each session looked at."""
    if not sources:
        raise UsageError("name the rigs' projects to merge: rig merge PROJECT... -o RESEARCH")
    origins = open_origins(sources, target)
    try:
        project, secret = _research_project(origins, target, different_secrets)
        report = MergeReport(project.root, secret)
        total = sum(_count_sessions(o) for o in origins)
        tick = _ticker(total, on_progress)
        db = project.db()
        try:
            for origin in origins:
                report.rigs.append(_merge_rig(project, db, origin, tick))
            report.conflicts = find_conflicts(db)
            with db.conn:
                log_event(db, "ProjectsMerged", {"rigs": [r.name for r in report.rigs],
                                                 "sessions": report.added})  # fmt: skip
        finally:
            db.close()
    finally:
        for origin in origins:
            origin.close()
    return report


def _count_sessions(origin: RigOrigin) -> int:
    return int(next(iter(origin.db.query("SELECT count(*) AS n FROM sessions")))["n"])


def _ticker(total: int, on_progress: Callable[[int, int], None] | None) -> Callable[[], None]:
    done = [0]

    def tick() -> None:
        done[0] += 1
        if on_progress is not None:
            on_progress(done[0], total)

    return tick


def _research_project(
    origins: list[RigOrigin], target: Path, different_secrets: bool
) -> tuple[Project, str]:
    """Open or create the research project, holding the rigs' one secret."""
    prints = {fingerprint(o.project.secret): o.name for o in origins}
    if len(prints) > 1 and not different_secrets:
        a, b = list(prints.values())[:2]
        raise UsageError(
            f"rigs '{a}' and '{b}' key pseudonyms with different secrets, so one patient could "
            "have two pseudonyms and land in two splits; share one secret (rig library export "
            "--with-secret, rig library import) or pass --different-secrets if the rigs share "
            "no patient"
        )
    if target.exists() and not (target / CONFIG_NAME).is_file() and any(target.iterdir()):
        raise UsageError(f"{target}: exists and is not a rig project; choose a new folder")
    project = open_project(target) if (target / CONFIG_NAME).is_file() else init_project(target)
    if len(prints) > 1:
        return project, "different (--different-secrets)"
    db = project.db()
    try:
        status = adopt_secret(project, db, origins[0].project.secret, f"rig '{origins[0].name}'")
    finally:
        db.close()
    project.secret = origins[0].project.secret
    return project, status


def _merge_rig(
    project: Project,
    db: sqlite_utils.Database,
    origin: RigOrigin,
    tick: Callable[[], None],
) -> RigMerged:
    merged = RigMerged(origin.name, str(origin.project.root))
    rows = read_library(origin.db)
    merged.objects_copied += copy_objects(origin, project.objects, library_objects(rows))
    now = utc_now()
    with db.conn:
        db.execute("BEGIN IMMEDIATE")
        merged.library = add_library(db, rows, str(origin.project.root))
        db.table("rigs").upsert(origin.rig_row(now), pk="name")
    sessions = origin.db.query("SELECT id, state, created_at FROM sessions ORDER BY created_at, id")
    for session in list(sessions):
        if session["state"] not in EXPORTED_STATES:
            merged.skipped.append(f"{session['id']} ({session['state']})")
        else:
            _merge_session(project, db, origin, session, merged)
        tick()
    return merged


def origin_key(rig: str, session: dict[str, Any]) -> str:
    return hashlib.sha256(
        f"{rig}\x00{session['id']}\x00{session['created_at']}".encode()
    ).hexdigest()


def _merge_session(
    project: Project,
    db: sqlite_utils.Database,
    origin: RigOrigin,
    session: dict[str, Any],
    merged: RigMerged,
) -> None:
    key = origin_key(origin.name, session)
    known = list(db.query("SELECT session_id, digest FROM merged_sessions WHERE origin_key = ?",
                          [key]))  # fmt: skip
    rows = read_session(origin.db, session["id"])
    digest = rows.digest()
    if known and known[0]["digest"] == digest:
        merged.unchanged.append(known[0]["session_id"])
        return
    merged.objects_copied += copy_objects(origin, project.objects, rows.objects())
    with db.conn:
        db.execute("BEGIN IMMEDIATE")
        if known:
            new_sid = known[0]["session_id"]
            delete_session(db, new_sid)
            merged.updated.append(new_sid)
        else:
            new_sid = free_session_id(db, session["id"])
            merged.added.append(new_sid)
        insert_session(db, project.objects, origin, rows, new_sid, merged.library.source_ids)
        db.table("merged_sessions").insert({
            "session_id": new_sid, "rig": origin.name, "origin_session_id": session["id"],
            "origin_key": key, "digest": digest, "merged_at": utc_now(),
        })  # fmt: skip


def find_conflicts(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Sources verified on more than one rig: kept as one pair per rig (and attempt)."""
    rows = db.query(
        "SELECT i.source_id, src.patient_id, m.rig, count(*) AS pairs FROM captures c "
        "JOIN items i ON i.session_id = c.session_id AND i.idx = c.idx "
        "JOIN sources src ON src.id = i.source_id "
        "JOIN merged_sessions m ON m.session_id = c.session_id "
        "WHERE c.state = 'verified' GROUP BY i.source_id, m.rig ORDER BY i.source_id, m.rig"
    )
    by_source: dict[int, dict[str, Any]] = {}
    for row in rows:
        entry = by_source.setdefault(
            row["source_id"],
            {"source_id": row["source_id"], "patient": row["patient_id"], "rigs": {}},
        )
        entry["rigs"][row["rig"]] = row["pairs"]
    return [e for e in by_source.values() if len(e["rigs"]) > 1]


def describe(report: MergeReport) -> list[str]:
    """The report as lines for people."""
    lines = []
    for rig in report.rigs:
        lib = rig.library
        lines.append(
            f"rig '{rig.name}': {len(rig.added)} session(s) added, {len(rig.updated)} updated, "
            f"{len(rig.unchanged)} already merged, {len(rig.skipped)} not finished (left out); "
            f"library: {lib.sources_added} new source(s), {lib.sources_present} already here; "
            f"{rig.objects_copied} object(s) copied"
        )
        lines += [f"  left out {s}: merge it again once it is finished" for s in rig.skipped]
    lines.append(f"{len(report.conflicts)} source(s) verified on more than one rig "
                 "(kept as one pair per rig)")  # fmt: skip
    lines.append(f"secret: {report.secret}; research project: {report.target}")
    return lines


def to_json(report: MergeReport) -> str:
    return json.dumps(report.to_dict(), indent=2, sort_keys=True)
