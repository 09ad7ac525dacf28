"""End-of-session reconciliation: displayed = captured = verified = stored, per item."""

from __future__ import annotations

from typing import Any

import sqlite_utils

from rig.errors import StoreError
from rig.store.objects import ObjectStore


def reconcile(db: sqlite_utils.Database, session_id: str, objects: ObjectStore) -> dict[str, Any]:
    """Check every item; ``clean`` is true only when each has exactly one verified, stored photo."""
    shown = {
        r[0]
        for r in db.execute(
            "SELECT DISTINCT idx FROM events WHERE session_id=? AND kind='ItemShown'", [session_id]
        )
    }
    captured = {
        r[0]
        for r in db.execute(
            "SELECT DISTINCT idx FROM captures WHERE session_id=? AND photo_sha256 IS NOT NULL",
            [session_id],
        )
    }
    verified: dict[int, list[str]] = {}
    for idx, sha in db.execute(
        "SELECT idx, photo_sha256 FROM captures WHERE session_id=? AND state='verified'",
        [session_id],
    ):
        verified.setdefault(idx, []).append(sha)
    items = [
        r[0]
        for r in db.execute("SELECT idx FROM items WHERE session_id=? ORDER BY idx", [session_id])
    ]
    problems: dict[str, list[int]] = {
        "not_displayed": [],
        "not_captured": [],
        "not_verified": [],
        "duplicates": [],
        "not_stored": [],
    }
    for idx in items:
        if idx not in shown:
            problems["not_displayed"].append(idx)
        if idx not in captured:
            problems["not_captured"].append(idx)
        shas = verified.get(idx, [])
        if not shas:
            problems["not_verified"].append(idx)
        elif len(shas) > 1:
            problems["duplicates"].append(idx)
        for sha in shas:
            try:
                objects.get(sha)
            except StoreError:
                problems["not_stored"].append(idx)
    waiting = {
        r[0]
        for r in db.execute(
            "SELECT idx FROM captures WHERE session_id=? AND state='pending'", [session_id]
        )
    }
    pending = sorted(waiting - set(verified))
    retakes = int(
        db.execute(
            "SELECT count(*) FROM captures WHERE session_id=? AND attempt > 1", [session_id]
        ).fetchone()[0]
    )
    return {
        "items": len(items),
        "displayed": len(shown),
        "captured": len(captured),
        "verified": sum(1 for v in verified.values() if v),
        "stored": sum(1 for idx in verified if idx not in problems["not_stored"]),
        "retakes": retakes,
        "pending": len(problems["not_verified"]),
        "pending_import": pending,
        "problems": {k: v for k, v in problems.items() if v},
        "clean": not any(problems.values()),
    }
