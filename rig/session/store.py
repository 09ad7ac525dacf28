"""The session store: the only code that writes sessions, items, captures and registrations.

Every method is one logical step in one SQLite transaction (``BEGIN IMMEDIATE`` …
``COMMIT``): the state change, looked up in ``rig.session.states`` (an illegal one
raises ``TransitionError`` and writes nothing), and the event row that records it.
A process killed between two calls therefore leaves a consistent database that
``rig session resume`` continues from. Reads used by the runner, summaries,
replays and re-registration live here too, so no other module knows the tables.

Durability: opened with ``group_commit`` (a running session), commits are synchronous=NORMAL
— atomic, ordered, and kept by a killed process, but not fsynced one by one on the event
loop (8–12 ms each on a loaded disk, several per item). ``await durable()`` fdatasyncs the
write-ahead log on a worker thread for every commit made before it (``rig.groupcommit``):
the runner awaits it before it tells the operator that a photo is stored or verified, so
power loss can take only steps nobody was told about (the photos in flight, which resume
asks for again). Opened otherwise (CLI commands, tests), every commit is synchronous=FULL.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils

from rig.atomic import fsync_dir
from rig.errors import UsageError
from rig.groupcommit import GroupCommit
from rig.session.plan import CapturePlan
from rig.session.states import (
    CAPTURE_EVENT_KINDS,
    SESSION_EVENT_KINDS,
    CaptureState,
    ItemState,
    SessionState,
    next_capture_state,
    next_item_state,
    next_session_state,
)
from rig.store.db import utc_now

if TYPE_CHECKING:
    from rig.project import Project
    from rig.session.verify import RegistrationOutcome

SESSION_TABLES = ("sessions", "items", "captures", "registrations")


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _loads(text: str | None) -> Any:
    return json.loads(text) if text else {}


def new_session_id() -> str:
    """Short random id (no dates or names: ids appear in exported filenames)."""
    return "s" + secrets.token_hex(5)


@dataclass(frozen=True)
class SessionRecord:
    id: str
    state: SessionState
    reason: str | None
    plan: CapturePlan
    camera: str
    pairing: dict[str, Any]
    conditions: dict[str, Any]
    reconciliation: dict[str, Any] | None
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class ItemRecord:
    idx: int
    source_id: int
    frame_id: int | None
    state: ItemState
    reason: str | None


@dataclass(frozen=True)
class CaptureRecord:
    id: int
    session_id: str
    idx: int
    attempt: int
    state: CaptureState
    source_id: int
    photo_sha256: str | None
    reason: str | None
    conditions: dict[str, Any]
    device: dict[str, Any]


@dataclass(frozen=True)
class SessionListing:
    id: str
    state: SessionState
    reason: str | None
    camera: str
    items: int
    verified: int
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return {k: str(v) if k == "state" else v for k, v in self.__dict__.items()}


def _capture_record(r: Sequence[Any]) -> CaptureRecord:
    return CaptureRecord(
        r[0], r[1], r[2], r[3], CaptureState(r[4]), r[5], r[6], r[7], _loads(r[8]), _loads(r[9])
    )


class SessionStore:
    """``with SessionStore.open(project) as store: …``; ``clock`` stamps the event rows."""

    def __init__(
        self, db: sqlite_utils.Database, clock: Callable[[], float] = time.time,
        wal_path: str | None = None,
    ) -> None:  # fmt: skip
        self.db = db
        self.conn: sqlite3.Connection = db.conn
        self.clock = clock
        self._wal = wal_path  # group commit: fdatasync this file for durability
        self._wal_group: GroupCommit[None] = GroupCommit(self._sync_wal)
        self._wal_dir_synced = False

    @classmethod
    def open(
        cls, project: Project, clock: Callable[[], float] = time.time, group_commit: bool = False
    ) -> SessionStore:
        if not group_commit:
            return cls(project.db(), clock)
        return cls(project.db(durable=False), clock, f"{project.db_path}-wal")

    async def durable(self) -> None:
        """Every commit so far survives power loss (one WAL fdatasync per batch of callers)."""
        if self._wal is not None:
            await self._wal_group.commit(None)

    def _sync_wal(self, _: list[None]) -> None:
        assert self._wal is not None
        try:
            fd = os.open(self._wal, os.O_RDONLY)
        except FileNotFoundError:  # checkpointed and removed: everything is in the database
            fd = os.open(self._wal.removesuffix("-wal"), os.O_RDONLY)
        try:
            # fdatasync through our own descriptor flushes the file's pages whoever wrote
            # them; a checkpoint that reuses the log has synced what it copied itself.
            getattr(os, "fdatasync", os.fsync)(fd)
        finally:
            os.close(fd)
        if not self._wal_dir_synced:  # the log file's own directory entry, once
            fsync_dir(Path(self._wal).parent)
            self._wal_dir_synced = True

    def close(self) -> None:
        if self._wal is not None:  # the session's last steps durable before it lets go
            with contextlib.suppress(OSError):
                self._sync_wal([])
        self.db.close()

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        # The connection is in autocommit mode (isolation_level=None), where `with conn:`
        # opens no transaction: one step is made atomic explicitly.
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def _log(
        self,
        kind: str,
        session_id: str,
        data: dict[str, Any] | None = None,
        idx: int | None = None,
        attempt: int | None = None,
    ) -> None:
        self.conn.execute(
            "INSERT INTO events (session_id, ts, kind, idx, attempt, data) VALUES (?,?,?,?,?,?)",
            [session_id, self.clock(), kind, idx, attempt, _dumps(data or {})],
        )

    def _one(self, sql: str, params: Sequence[Any]) -> Any:
        row = self.conn.execute(sql, list(params)).fetchone()
        return None if row is None else row[0]

    # -- sessions ---------------------------------------------------------------------
    def create_session(
        self,
        plan: CapturePlan,
        items: Sequence[tuple[int, int | None]],  # (source_id, frame_id) in display order
        pairing: dict[str, Any] | None = None,
    ) -> str:
        session_id, now = new_session_id(), utc_now()
        with self._tx() as c:
            c.execute(
                "INSERT INTO sessions (id, state, reason, plan, camera, layout, conditions, "
                "pairing, reconciliation, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [
                    session_id,
                    SessionState.PLANNED,
                    None,
                    _dumps(plan.to_dict()),
                    plan.camera,
                    _dumps(plan.layout),
                    _dumps(plan.conditions),
                    _dumps(pairing or {}),
                    None,
                    now,
                    now,
                ],
            )
            c.executemany(
                "INSERT INTO items (session_id, idx, source_id, frame_id, repeat, state) "
                "VALUES (?,?,?,?,0,?)",
                [(session_id, i, s, f, ItemState.PENDING) for i, (s, f) in enumerate(items)],
            )
            self._log("SessionCreated", session_id, {"items": len(items), "camera": plan.camera})
        return session_id

    def session(self, session_id: str) -> SessionRecord:
        row = self.conn.execute(
            "SELECT id, state, reason, plan, camera, pairing, conditions, reconciliation, "
            "created_at, updated_at FROM sessions WHERE id=?",
            [session_id],
        ).fetchone()
        if row is None:
            raise UsageError(f"no such session: {session_id}; see 'rig session list'")
        rec = json.loads(row[7]) if row[7] else None
        return SessionRecord(
            row[0],
            SessionState(row[1]),
            row[2],
            CapturePlan.from_dict(_loads(row[3]), f"session {session_id}: plan"),
            row[4],
            _loads(row[5]),
            _loads(row[6]),
            rec,
            row[8],
            row[9],
        )

    def state(self, session_id: str) -> SessionState:
        state = self._one("SELECT state FROM sessions WHERE id=?", [session_id])
        if state is None:
            raise UsageError(f"no such session: {session_id}; see 'rig session list'")
        return SessionState(state)

    def transition(
        self,
        session_id: str,
        event: str,
        reason: str | None = None,
        reconciliation: dict[str, Any] | None = None,
        **data: Any,
    ) -> SessionState:
        """Apply ``event`` (start, pause, resume, finish, fail, abort); return the new state."""
        with self._tx() as c:
            old = self.state(session_id)
            new = next_session_state(old, event)
            c.execute(
                "UPDATE sessions SET state=?, reason=?, updated_at=?, "
                "reconciliation=COALESCE(?, reconciliation) WHERE id=?",
                [
                    new,
                    reason,
                    utc_now(),
                    None if reconciliation is None else _dumps(reconciliation),
                    session_id,
                ],
            )
            self._log(
                SESSION_EVENT_KINDS[event],
                session_id,
                {"from": str(old), "state": str(new), "reason": reason, **data},
            )
        return new

    def set_pairing(self, session_id: str, pairing: dict[str, Any]) -> None:
        """Keep the protocol endpoint's ports and key, so a resumed desktop is the same peer."""
        with self._tx() as c:
            c.execute("UPDATE sessions SET pairing=? WHERE id=?", [_dumps(pairing), session_id])

    def list_sessions(self) -> list[SessionListing]:
        rows = self.conn.execute(
            "SELECT s.id, s.state, s.reason, s.camera, s.created_at, "
            "(SELECT count(*) FROM items i WHERE i.session_id=s.id), "
            "(SELECT count(*) FROM items i WHERE i.session_id=s.id AND i.state='verified') "
            "FROM sessions s ORDER BY s.created_at"
        ).fetchall()
        return [
            SessionListing(r[0], SessionState(r[1]), r[2], r[3], r[5], r[6], r[4]) for r in rows
        ]

    def delete_session(self, session_id: str) -> set[str]:
        """Remove the session and every row of it; return the objects its rows named."""
        named = {
            sha
            for row in self.conn.execute(
                "SELECT c.photo_sha256, r.aligned_sha256, r.mask_sha256 FROM captures c "
                "LEFT JOIN registrations r ON r.capture_id = c.id WHERE c.session_id=?",
                [session_id],
            )
            for sha in row
            if sha
        }
        with self._tx() as c:
            self.state(session_id)
            # Every table keyed on a capture (registrations, quality grades, …) goes first.
            for table, column in self._capture_children():
                c.execute(
                    f"DELETE FROM {table} WHERE {column} IN "
                    "(SELECT id FROM captures WHERE session_id=?)",
                    [session_id],
                )
            for table in ("captures", "items", "calibrations", "events"):
                c.execute(f"DELETE FROM {table} WHERE session_id=?", [session_id])
            c.execute("DELETE FROM sessions WHERE id=?", [session_id])
        return named

    def _capture_children(self) -> list[tuple[str, str]]:
        """(table, column) of every foreign key that points at ``captures``."""
        return [
            (fk.table, str(fk.column))
            for table in self.db.tables
            for fk in table.foreign_keys
            if fk.other_table == "captures"
        ]

    def referenced_objects(self, candidates: set[str]) -> set[str]:
        """Which of ``candidates`` some row of any table still names (any *sha256 column)."""
        found: set[str] = set()
        for table in self.db.table_names():
            for column in self.db[table].columns_dict:
                if column.endswith("sha256") and candidates - found:
                    marks = ",".join("?" * len(candidates))
                    found |= {
                        r[0]
                        for r in self.conn.execute(
                            f"SELECT DISTINCT {column} FROM {table} WHERE {column} IN ({marks})",
                            sorted(candidates),
                        )
                    }
        return found

    # -- items ----------------------------------------------------------------------------
    def items(self, session_id: str) -> list[ItemRecord]:
        rows = self.conn.execute(
            "SELECT idx, source_id, frame_id, state, reason FROM items WHERE session_id=? "
            "ORDER BY idx",
            [session_id],
        )
        return [ItemRecord(r[0], r[1], r[2], ItemState(r[3]), r[4]) for r in rows]

    def item_state(self, session_id: str, idx: int) -> ItemState:
        return ItemState(
            self._one("SELECT state FROM items WHERE session_id=? AND idx=?", [session_id, idx])
        )

    def count_items(self, session_id: str, state: ItemState | None = None) -> int:
        if state is None:
            return int(self._one("SELECT count(*) FROM items WHERE session_id=?", [session_id]))
        return int(
            self._one(
                "SELECT count(*) FROM items WHERE session_id=? AND state=?", [session_id, state]
            )
        )

    def next_attempt(self, session_id: str, idx: int) -> int:
        """One more than any attempt ever requested for ``idx`` (attempts are never reused)."""
        last = self._one(
            "SELECT COALESCE(MAX(attempt), 0) FROM captures WHERE session_id=? AND idx=?",
            [session_id, idx],
        )
        return int(last) + 1

    def _item_event(self, session_id: str, idx: int, event: str, reason: str | None) -> None:
        new = next_item_state(self.item_state(session_id, idx), event)
        self.conn.execute(
            "UPDATE items SET state=?, reason=? WHERE session_id=? AND idx=?",
            [new, reason, session_id, idx],
        )

    def give_up_item(self, session_id: str, idx: int, reason: str) -> None:
        with self._tx():
            self._item_event(session_id, idx, "give_up", reason)
            self._log("ItemFailed", session_id, {"reason": reason}, idx=idx)

    # -- captures -------------------------------------------------------------------------
    def captures(
        self, session_id: str, states: Sequence[CaptureState] = (), idx: int | None = None
    ) -> list[CaptureRecord]:
        sql = (
            "SELECT c.id, c.session_id, c.idx, c.attempt, c.state, i.source_id, c.photo_sha256, "
            "c.reason, "
            "c.conditions, c.device FROM captures c JOIN items i "
            "ON i.session_id = c.session_id AND i.idx = c.idx WHERE c.session_id=?"
        )
        params: list[Any] = [session_id]
        if states:
            sql += f" AND c.state IN ({','.join('?' * len(states))})"
            params += list(states)
        if idx is not None:
            sql += " AND c.idx=?"
            params.append(idx)
        rows = self.conn.execute(sql + " ORDER BY c.idx, c.attempt", params)
        return [_capture_record(r) for r in rows]

    def _capture_event(self, capture_id: int, event: str) -> tuple[str, int, int, CaptureState]:
        sid, idx, attempt, state = self.conn.execute(
            "SELECT session_id, idx, attempt, state FROM captures WHERE id=?", [capture_id]
        ).fetchone()
        new = next_capture_state(CaptureState(state), event)
        self.conn.execute("UPDATE captures SET state=? WHERE id=?", [new, capture_id])
        return sid, idx, attempt, new

    def request_capture(
        self,
        session_id: str,
        idx: int,
        attempt: int,
        conditions: dict[str, Any] | None = None,
        shown_at: float | None = None,
        frame_id: int | None = None,
        settle_ms: float | None = None,
    ) -> int:
        """Item ``idx`` is on screen and attempt ``attempt`` is about to be asked for.

        Written before the camera is asked, so a crash leaves a trace of the attempt in flight
        (the runner writes it while the panel settles: ``settle_ms``, kept in the event row,
        is how long after ``shown_at`` the camera is asked).
        """
        next_capture_state(None, "request")
        with self._tx() as c:
            self._log("ItemShown", session_id, {"shown_at": shown_at}, idx, attempt)
            self._item_event(session_id, idx, "show", None)
            c.execute(
                "UPDATE items SET frame_id=COALESCE(?, frame_id), conditions=? "
                "WHERE session_id=? AND idx=?",
                [frame_id, _dumps(conditions or {}), session_id, idx],
            )
            row_id = c.execute(
                "INSERT INTO captures (session_id, idx, attempt, state, requested_at, conditions) "
                "VALUES (?,?,?,?,?,?)",
                [
                    session_id,
                    idx,
                    attempt,
                    CaptureState.REQUESTED,
                    utc_now(),
                    _dumps(conditions or {}),
                ],
            ).lastrowid
            logged = conditions if settle_ms is None else {**(conditions or {}), "settle_ms": settle_ms}
            self._log(CAPTURE_EVENT_KINDS["request"], session_id, logged, idx, attempt)
        return int(row_id or 0)

    def _capture_step(
        self, capture_id: int, event: str, columns: dict[str, Any], data: dict[str, Any]
    ) -> None:
        """One capture transition with the columns it sets and its event row."""
        with self._tx() as c:
            sid, idx, attempt, _ = self._capture_event(capture_id, event)
            sets = ", ".join(f"{name}=?" for name in columns)
            c.execute(f"UPDATE captures SET {sets} WHERE id=?", [*columns.values(), capture_id])
            self._log(CAPTURE_EVENT_KINDS[event], sid, data, idx, attempt)

    def store_photo(
        self, capture_id: int, photo_sha256: str, device: dict[str, Any] | None = None
    ) -> None:
        columns = {
            "photo_sha256": photo_sha256,
            "stored_at": utc_now(),
            "device": _dumps(device or {}),
        }
        self._capture_step(capture_id, "store", columns, {"sha256": photo_sha256})

    def pend_capture(
        self, capture_id: int, name: str, device: dict[str, Any] | None = None
    ) -> None:
        """The camera took the photo but keeps it (CheXpeditor app): imported later by name."""
        device_json = _dumps({**(device or {}), "pending_name": name})
        self._capture_step(capture_id, "pend", {"device": device_json}, {"name": name})

    def fail_capture(self, capture_id: int, reason: str) -> None:
        self._capture_step(capture_id, "fail", {"reason": reason}, {"reason": reason})

    def record_registration(
        self,
        capture_id: int,
        outcome: RegistrationOutcome,
        aligned_sha256: str | None = None,
        mask_sha256: str | None = None,
    ) -> None:
        """Store a registration verdict; an accepted one verifies the item, a rejected one
        takes a verified item back to shown (one transaction)."""
        accepted = outcome.accepted
        with self._tx() as c:
            was = CaptureState(self._one("SELECT state FROM captures WHERE id=?", [capture_id]))
            sid, idx, attempt, _ = self._capture_event(
                capture_id, "accept" if accepted else "reject"
            )
            c.execute(
                "INSERT OR REPLACE INTO registrations (capture_id, mapping, reproj_err_px, "
                "residual_px, psnr_db, ssim, verdict, reason, frame_code, aligned_sha256, "
                "mask_sha256, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    capture_id,
                    _dumps(outcome.mapping),
                    outcome.reproj_err_px,
                    outcome.residual_px,
                    outcome.psnr_db,
                    outcome.ssim,
                    "accepted" if accepted else "rejected",
                    outcome.reason,
                    _dumps(outcome.frame_code),
                    aligned_sha256,
                    mask_sha256,
                    utc_now(),
                ],
            )
            c.execute(
                "UPDATE captures SET reason=? WHERE id=?",
                [None if accepted else outcome.reason, capture_id],
            )
            if accepted and self.item_state(sid, idx) != ItemState.VERIFIED:
                self._item_event(sid, idx, "verify", None)
            elif not accepted and was == CaptureState.VERIFIED:
                self._item_event(sid, idx, "reopen", outcome.reason)
            metrics = {
                "reason": outcome.reason,
                "psnr_db": outcome.psnr_db,
                "ssim": outcome.ssim,
                "reproj_err_px": outcome.reproj_err_px,
            }
            kind = CAPTURE_EVENT_KINDS["accept" if accepted else "reject"]
            self._log(kind, sid, metrics, idx, attempt)

    def save_calibration(self, session_id: str, kind: str, data: dict[str, Any]) -> None:
        """One calibration of the session (e.g. kind ``settle``: what the display needs)."""
        with self._tx() as c:
            c.execute(
                "INSERT INTO calibrations (session_id, kind, data, created_at) VALUES (?,?,?,?)",
                [session_id, kind, _dumps(data), utc_now()],
            )

    def latest_calibration(self, kind: str, display: str) -> dict[str, Any] | None:
        """The newest calibration of ``kind`` for ``display``, from any session."""
        rows = self.conn.execute(
            "SELECT data FROM calibrations WHERE kind=? ORDER BY id DESC", [kind]
        )
        for (data,) in rows:
            found = json.loads(data)
            if isinstance(found, dict) and found.get("display") == display:
                return found
        return None

    # -- reads for reconciliation, summaries and replays ----------------------------------
    def shown_items(self, session_id: str) -> set[int]:
        rows = self.conn.execute(
            "SELECT DISTINCT idx FROM events WHERE session_id=? AND kind='ItemShown'", [session_id]
        )
        return {r[0] for r in rows}

    def retakes(self, session_id: str) -> int:
        return int(
            self._one(
                "SELECT count(*) FROM captures WHERE session_id=? AND attempt > 1", [session_id]
            )
        )

    def rejection_reasons(self, session_id: str) -> dict[str, int]:
        rows = self.conn.execute(
            "SELECT reason, count(*) FROM captures WHERE session_id=? "
            "AND state IN ('rejected', 'failed') GROUP BY reason ORDER BY count(*) DESC",
            [session_id],
        )
        return {str(r[0]): int(r[1]) for r in rows}

    def event_span(self, session_id: str) -> tuple[float | None, float | None]:
        first, last = self.conn.execute(
            "SELECT min(ts), max(ts) FROM events WHERE session_id=?", [session_id]
        ).fetchone()
        return first, last

    def steps_per_item(self, session_id: str, kinds: Sequence[str]) -> dict[int, list[str]]:
        """The kinds of the event rows of each item, in order (for replay comparisons)."""
        steps: dict[int, list[str]] = {}
        rows = self.conn.execute(
            f"SELECT idx, kind FROM events WHERE session_id=? AND idx IS NOT NULL "
            f"AND kind IN ({','.join('?' * len(kinds))}) ORDER BY id",
            [session_id, *kinds],
        )
        for idx, kind in rows:
            steps.setdefault(idx, []).append(kind)
        return steps
