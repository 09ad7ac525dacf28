"""``rig import-photos DIR --chexpeditor``: pair photos kept on a CheXpeditor phone with their items.

Each file name carries ``<seq>__<nonce>__<session>__item<idx>_a<attempt>.png``; a
photo is accepted only for the capture whose recorded name matches exactly (seq,
nonce, session, item, attempt), then stored, registered against the exact screen
frame of that attempt and verified like a photo received over the rig protocol.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rig.errors import RigError, UsageError
from rig.project import Project
from rig.protocol import compat
from rig.session import records
from rig.session.service import load
from rig.session.verify import verify_capture


def import_chexpeditor_photos(project: Project, folder: Path, session_id: str) -> dict[str, Any]:
    plan, _ = load(project, session_id)
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such folder")
    db = project.db()
    try:
        waiting = {
            json.loads(r["device"] or "{}").get("pending_name"): r
            for r in db.query(
                "SELECT c.id, c.idx, c.attempt, c.device, i.source_id FROM captures c "
                "JOIN items i ON i.session_id=c.session_id AND i.idx=c.idx "
                "WHERE c.session_id=? AND c.state='pending'",
                [session_id],
            )
        }
        out: dict[str, Any] = {"verified": [], "rejected": [], "unmatched": [], "skipped": []}
        for path in sorted(p for p in folder.iterdir() if p.is_file()):
            try:
                compat.parse_name(path.name)
            except RigError:
                out["skipped"].append({"file": path.name, "reason": "not a CheXpeditor photo name"})
                continue
            row = waiting.pop(path.name, None)
            if row is None:
                out["unmatched"].append(path.name)
                continue
            jpeg = path.read_bytes()
            records.store_photo(
                db, row["id"], project.objects.put(jpeg), json.loads(row["device"] or "{}")
            )
            accepted, result = verify_capture(project, db, session_id, plan, row, jpeg)
            key = "verified" if accepted else "rejected"
            out[key].append(
                {"item": row["idx"], "attempt": row["attempt"], "reason": result.get("reason")}
            )
        out["still_missing"] = sorted(r["idx"] for r in waiting.values())
    finally:
        db.close()
    return out
