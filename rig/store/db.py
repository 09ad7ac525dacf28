"""Opening rig.db: WAL, foreign keys, full sync, migrations applied."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import sqlite_utils

from rig.errors import StoreError
from rig.store.schema import MIGRATIONS


def open_db(path: Path | str, durable: bool = True) -> sqlite_utils.Database:
    """Open (creating if needed) the project database with every migration applied.

    WAL lets the GUI read while a session writes. With ``durable`` (sessions),
    synchronous=FULL makes a committed capture survive power loss, not only a
    killed process; bulk work that can simply be redone (imports, which dedupe)
    uses NORMAL, which in WAL mode still survives a killed process.
    """
    try:
        conn = sqlite3.connect(str(path), timeout=30.0, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        conn.execute("PRAGMA foreign_keys=ON")
        db = sqlite_utils.Database(conn)
        MIGRATIONS.apply(db)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot open the project database ({exc})") from exc
    return db


def utc_now() -> str:
    """ISO-8601 UTC timestamp with microseconds, for created_at columns."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def log_event(
    db: sqlite_utils.Database,
    kind: str,
    data: dict[str, Any] | None = None,
    *,
    session_id: str | None = None,
    idx: int | None = None,
    attempt: int | None = None,
    ts: float | None = None,
) -> None:
    """Append one row to the event log (caller owns the transaction)."""
    db.table("events").insert(
        {
            "session_id": session_id,
            "ts": time.time() if ts is None else ts,
            "kind": kind,
            "idx": idx,
            "attempt": attempt,
            "data": json.dumps(data or {}, sort_keys=True),
        }
    )
