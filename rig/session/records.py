"""Persisting a session: one transaction per step, every step also an event row.

The session engine calls these; nothing else writes sessions, items, captures or
registrations. Each function is one logical step, so a process killed between
two calls leaves a consistent database that ``resume`` can continue from.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Sequence
from typing import Any

import sqlite_utils

from rig.store.db import log_event, utc_now


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def new_session_id() -> str:
    """Short random id (no dates or names: ids appear in exported filenames)."""
    return "s" + secrets.token_hex(5)


def create_session(
    db: sqlite_utils.Database,
    session_id: str,
    plan: dict[str, Any],
    camera: str,
    items: Sequence[tuple[int, int | None]],  # (source_id, frame_id) in display order
    layout: dict[str, Any] | None = None,
    conditions: dict[str, Any] | None = None,
    pairing: dict[str, Any] | None = None,
) -> None:
    now = utc_now()
    with db.conn:
        db.table("sessions").insert(
            {
                "id": session_id,
                "state": "planned",
                "plan": _dumps(plan),
                "camera": camera,
                "layout": _dumps(layout or {}),
                "conditions": _dumps(conditions or {}),
                "pairing": _dumps(pairing or {}),
                "reconciliation": None,
                "created_at": now,
                "updated_at": now,
            }
        )
        db.table("items").insert_all(
            {
                "session_id": session_id,
                "idx": i,
                "source_id": source_id,
                "frame_id": frame_id,
                "repeat": 0,
                "state": "pending",
                "conditions": None,
            }
            for i, (source_id, frame_id) in enumerate(items)
        )
        log_event(
            db, "SessionCreated", {"items": len(items), "camera": camera}, session_id=session_id
        )


def set_state(db: sqlite_utils.Database, session_id: str, state: str, **data: Any) -> None:
    with db.conn:
        db.execute(
            "UPDATE sessions SET state=?, updated_at=? WHERE id=?", [state, utc_now(), session_id]
        )
        log_event(db, f"Session{state.capitalize()}", data, session_id=session_id)


def request_capture(
    db: sqlite_utils.Database,
    session_id: str,
    idx: int,
    attempt: int,
    conditions: dict[str, Any] | None = None,
    shown_at: float | None = None,
    frame_id: int | None = None,
) -> int:
    """Record that item ``idx`` is on screen and a capture attempt is about to be asked for.

    One transaction (the item shown, its ground-truth frame, the attempt), written
    before the camera is asked, so a crash leaves a trace of the attempt in flight.
    """
    with db.conn:
        log_event(
            db, "ItemShown", {"shown_at": shown_at}, session_id=session_id, idx=idx, attempt=attempt
        )
        if frame_id is not None:
            db.execute(
                "UPDATE items SET frame_id=? WHERE session_id=? AND idx=?",
                [frame_id, session_id, idx],
            )
        row_id = (
            db.table("captures")
            .insert(
                {
                    "session_id": session_id,
                    "idx": idx,
                    "attempt": attempt,
                    "state": "requested",
                    "photo_sha256": None,
                    "reason": None,
                    "requested_at": utc_now(),
                    "stored_at": None,
                    "conditions": _dumps(conditions or {}),
                    "device": None,
                }
            )
            .last_pk
        )
        db.execute(
            "UPDATE items SET state='shown', conditions=? WHERE session_id=? AND idx=?",
            [_dumps(conditions or {}), session_id, idx],
        )
        log_event(
            db, "CaptureRequested", conditions, session_id=session_id, idx=idx, attempt=attempt
        )
    return int(row_id or 0)


def store_photo(
    db: sqlite_utils.Database,
    capture_id: int,
    photo_sha256: str,
    device: dict[str, Any] | None = None,
) -> None:
    with db.conn:
        db.execute(
            "UPDATE captures SET state='stored', photo_sha256=?, stored_at=?, device=? WHERE id=?",
            [photo_sha256, utc_now(), _dumps(device or {}), capture_id],
        )
        row = db.execute(
            "SELECT session_id, idx, attempt FROM captures WHERE id=?", [capture_id]
        ).fetchone()
        log_event(
            db,
            "PhotoStored",
            {"sha256": photo_sha256},
            session_id=row[0],
            idx=row[1],
            attempt=row[2],
        )


def pend_capture(
    db: sqlite_utils.Database, capture_id: int, name: str, device: dict[str, Any] | None = None
) -> None:
    """The camera took the photo but keeps it (CheXpeditor app): it is imported later by name."""
    with db.conn:
        db.execute(
            "UPDATE captures SET state='pending', device=? WHERE id=?",
            [_dumps({**(device or {}), "pending_name": name}), capture_id],
        )
        row = db.execute(
            "SELECT session_id, idx, attempt FROM captures WHERE id=?", [capture_id]
        ).fetchone()
        log_event(db, "PhotoPending", {"name": name}, session_id=row[0], idx=row[1], attempt=row[2])


def fail_capture(db: sqlite_utils.Database, capture_id: int, reason: str) -> None:
    with db.conn:
        db.execute("UPDATE captures SET state='failed', reason=? WHERE id=?", [reason, capture_id])
        row = db.execute(
            "SELECT session_id, idx, attempt FROM captures WHERE id=?", [capture_id]
        ).fetchone()
        log_event(
            db, "CaptureFailed", {"reason": reason}, session_id=row[0], idx=row[1], attempt=row[2]
        )


def record_registration(
    db: sqlite_utils.Database,
    capture_id: int,
    accepted: bool,
    result: dict[str, Any],
    aligned_sha256: str | None = None,
    mask_sha256: str | None = None,
) -> None:
    """Store a registration verdict; an accepted one verifies the item (one transaction)."""
    with db.conn:
        db.table("registrations").upsert(
            {
                "capture_id": capture_id,
                "mapping": _dumps(result.get("mapping", {})),
                "reproj_err_px": result.get("reproj_err_px"),
                "residual_px": result.get("residual_px"),
                "psnr_db": result.get("psnr_db"),
                "ssim": result.get("ssim"),
                "verdict": "accepted" if accepted else "rejected",
                "reason": result.get("reason"),
                "frame_code": _dumps(result.get("frame_code")),
                "aligned_sha256": aligned_sha256,
                "mask_sha256": mask_sha256,
                "created_at": utc_now(),
            },
            pk="capture_id",
        )
        state = "verified" if accepted else "rejected"
        db.execute(
            "UPDATE captures SET state=?, reason=? WHERE id=?",
            [state, None if accepted else result.get("reason"), capture_id],
        )
        session_id, idx, attempt = db.execute(
            "SELECT session_id, idx, attempt FROM captures WHERE id=?", [capture_id]
        ).fetchone()
        if accepted:
            db.execute(
                "UPDATE items SET state='verified' WHERE session_id=? AND idx=?", [session_id, idx]
            )
        kind = "PhotoVerified" if accepted else "PhotoRejected"
        log_event(
            db,
            kind,
            {k: result.get(k) for k in ("reason", "psnr_db", "ssim", "reproj_err_px")},
            session_id=session_id,
            idx=idx,
            attempt=attempt,
            ts=time.time(),
        )


def finish_session(
    db: sqlite_utils.Database, session_id: str, state: str, summary: dict[str, Any]
) -> None:
    with db.conn:
        db.execute(
            "UPDATE sessions SET state=?, reconciliation=?, updated_at=? WHERE id=?",
            [state, _dumps(summary), utc_now(), session_id],
        )
        log_event(
            db,
            "SessionFinished",
            {"state": state, "clean": summary.get("clean")},
            session_id=session_id,
        )
