"""Schema migrations are forward-only and keep data in an old database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from rig.store.db import open_db
from rig.store.schema import MIGRATIONS


def test_fresh_db_has_pipeline_tables(tmp_path: Path) -> None:
    db = open_db(tmp_path / "rig.db")
    expected = {
        "files",
        "patients",
        "studies",
        "sources",
        "labels",
        "frames",
        "sessions",
        "items",
        "captures",
        "registrations",
        "calibrations",
        "events",
        "splits",
    }
    assert expected <= set(db.table_names())
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_old_db_is_migrated_forward_with_data_kept(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite_utils.Database(sqlite3.connect(path))
    MIGRATIONS.apply(old, stop_before="m002_splits")  # a database from release 1
    assert "splits" not in old.table_names()
    old["patients"].insert({"id": "P-1", "created_at": "2026-01-01"})
    old.conn.commit()
    old.close()

    db = open_db(path)
    assert "splits" in db.table_names()
    assert [r["id"] for r in db["patients"].rows] == ["P-1"]
    applied = [m.name for m in MIGRATIONS.applied(db)]
    assert applied[:3] == ["m001_initial", "m002_splits", "m003_session_states"]
    db.close()
    # Opening again applies nothing twice.
    assert [m.name for m in MIGRATIONS.applied(open_db(path))] == applied


def test_foreign_keys_are_enforced(tmp_path: Path) -> None:
    db = open_db(tmp_path / "rig.db")
    try:
        db["studies"].insert({"id": "S-1", "patient_id": "P-missing", "created_at": "x"})
    except sqlite3.IntegrityError:
        return
    raise AssertionError("a study without its patient was accepted")


def test_old_session_states_become_paused_with_their_reason(tmp_path: Path) -> None:
    """m003: 'stopped' and 'awaiting-import' were states; now they are paused sessions."""
    path = tmp_path / "old.db"
    old = sqlite_utils.Database(sqlite3.connect(path))
    MIGRATIONS.apply(old, stop_before="m003_session_states")
    for sid, state in (("s1", "stopped"), ("s2", "awaiting-import"), ("s3", "finished")):
        old["sessions"].insert(
            {
                "id": sid,
                "state": state,
                "plan": "{}",
                "camera": "sim",
                "created_at": "x",
                "updated_at": "x",
            }
        )
    old["events"].insert({"session_id": "s1", "ts": 1.0, "kind": "PhotoVerified", "idx": 0})
    old.conn.commit()
    old.close()

    db = open_db(path)
    rows = {r["id"]: (r["state"], r["reason"]) for r in db["sessions"].rows}
    assert rows == {
        "s1": ("paused", "stopped by operator"),
        "s2": ("paused", "awaiting rig import-photos"),
        "s3": ("finished", None),
    }
    assert [r["kind"] for r in db["events"].rows] == ["CaptureVerified"]
    db.close()
