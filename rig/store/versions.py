"""Schema versions of another project's database, and reading it without writing to it.

``rig merge`` reads the rigs' projects while they may still be capturing: each is opened
read-only (``mode=ro``) and read in one transaction, a consistent WAL snapshot, and its
schema must be exactly this rig's (the names of the migrations applied, rig.store.schema).
A project made by a newer rig is refused (upgrade rig); an older one is refused with the
command that upgrades it through the usual migrations (any rig command opening it).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from rig.errors import StoreError, UsageError
from rig.store.schema import MIGRATIONS


def schema_names() -> list[str]:
    """The migrations this rig knows, in order (all pending on an empty database)."""
    return [m.name for m in MIGRATIONS.pending(sqlite_utils.Database(memory=True))]


def applied_names(db: sqlite_utils.Database) -> list[str]:
    """The migrations applied to ``db`` (read only)."""
    return [m.name for m in MIGRATIONS.applied(db)]


def check_schema(db: sqlite_utils.Database, where: str, upgrade_hint: str) -> None:
    """Refuse a database whose schema is not this rig's, saying what to do."""
    applied, known = applied_names(db), schema_names()
    if newer := [name for name in applied if name not in known]:
        raise UsageError(
            f"{where}: its database has a newer schema than this rig ({newer[-1]}); "
            "upgrade rig before merging"
        )
    if older := [name for name in known if name not in applied]:
        raise UsageError(
            f"{where}: its database has an older schema (lacks {older[0]}); upgrade it "
            f"with '{upgrade_hint}', then merge again"
        )


def open_snapshot(path: Path) -> sqlite_utils.Database:
    """``path`` opened read-only, inside a read transaction (one consistent snapshot)."""
    if not path.is_file():
        raise UsageError(f"{path}: no project database")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0,
                               isolation_level=None)  # fmt: skip
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # takes the snapshot
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot read the project database ({exc})") from exc
    return sqlite_utils.Database(conn)
