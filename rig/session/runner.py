"""The async session runner: show → settle → capture → store → register → verify → commit.

Theory of operation
- The database is the session's memory. Every step is committed (rig.session.records)
  before the next begins, so a process killed at any moment resumes from the first
  item without a verified photo, and loses at most the capture in flight.
- Registration of item i runs in a worker while item i+1 is shown and shot, so the
  camera, not rig, sets the pace. A rejected photo puts its item back in the queue
  for a retake with the next attempt number (the frame code changes with it, so a
  stale photo of an old attempt can never verify a new one).
- On resume, photos that were stored but not yet registered are registered first:
  nothing that reached the disk is shot again.
- ``PhoneLostError`` pauses the session and retries the *same* attempt (the protocol
  makes that idempotent: a phone that already shot it re-uploads rather than
  re-shooting); ``CameraFailedError`` and rejections use a new attempt, up to
  ``plan.max_attempts``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from calibration.fiducials import FiducialLayout
from rig.devices.display import Display
from rig.project import Project
from rig.session import events as ev
from rig.session import records
from rig.session.capture import CameraFailedError, Capturer, CaptureRequest, PhoneLostError
from rig.session.conditions import ConditionDriver
from rig.session.frames import Prefetcher, PreparedItem, prepare_item
from rig.session.plan import CapturePlan
from rig.session.reconcile import reconcile
from rig.session.verify import register_prepared


@dataclass
class _Work:
    idx: int
    source_id: int
    attempt: int


class SessionRunner:
    def __init__(
        self,
        project: Project,
        session_id: str,
        plan: CapturePlan,
        capturer: Capturer,
        display: Display,
        bus: ev.EventBus | None = None,
        clock: Callable[[], float] = time.time,
        conditions: ConditionDriver | None = None,
        pause_limit_s: float = 600.0,
    ) -> None:
        self.project, self.session_id, self.plan = project, session_id, plan
        self.capturer, self.display = capturer, display
        self.bus = bus or ev.EventBus()
        self.clock = clock
        self.conditions = conditions
        self.pause_limit_s = pause_limit_s
        self.layout = FiducialLayout.from_dict(plan.layout)
        self.screen_wh = (plan.screen_width, plan.screen_height)
        self._resume = asyncio.Event()
        self._resume.set()
        self._stop = False
        self._db = project.db()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="rig-session")
        self._registering: set[asyncio.Future[Any]] = set()
        self._queue: deque[_Work] = deque()
        self._verified = 0
        self._started = 0.0

    # -- operator controls (GUI / keyboard) -------------------------------------------
    def pause(self, reason: str = "paused by operator") -> None:
        if self._resume.is_set():
            self._resume.clear()
            records.set_state(self._db, self.session_id, "paused", reason=reason)
            self.bus.emit(ev.SessionPaused(self.session_id, reason=reason))

    def resume(self) -> None:
        if not self._resume.is_set():
            records.set_state(self._db, self.session_id, "running")
            self.bus.emit(ev.SessionResumed(self.session_id))
            self._resume.set()

    def stop(self) -> None:
        self._stop = True
        self._resume.set()

    # -- the run ------------------------------------------------------------------
    async def run(self) -> dict[str, Any]:
        """Run to the end (or stop); return the reconciliation."""
        self._started = self.clock()
        try:
            await self.capturer.start()
            if self.conditions is not None:
                await self.conditions.start()
            first = self._load_queue()
            records.set_state(self._db, self.session_id, "running")
            self.bus.emit(ev.SessionStarted(self.session_id, items=self._total(), resumed_at=first))
            await self._recover_uploads()
            await self._register_leftovers()
            await self._loop()
            if self._registering:
                await asyncio.gather(*self._registering)
            while self._queue and not self._stop:  # retakes found by the last registrations
                await self._loop()
                if self._registering:
                    await asyncio.gather(*self._registering)
        finally:
            if self.conditions is not None:
                await self.conditions.stop()
            await self.capturer.stop()
            self._pool.shutdown(wait=True)
        return self._finish()

    def _total(self) -> int:
        return int(
            self._db.execute(
                "SELECT count(*) FROM items WHERE session_id=?", [self.session_id]
            ).fetchone()[0]
        )

    def _load_queue(self) -> int:
        rows = self._db.execute(
            "SELECT i.idx, i.source_id, COALESCE(MAX(c.attempt), 0) FROM items i "
            "LEFT JOIN captures c ON c.session_id = i.session_id AND c.idx = i.idx "
            "WHERE i.session_id = ? AND i.state NOT IN ('verified', 'failed') "
            "GROUP BY i.idx ORDER BY i.idx",
            [self.session_id],
        ).fetchall()
        self._verified = int(
            self._db.execute(
                "SELECT count(*) FROM items WHERE session_id=? AND state='verified'",
                [self.session_id],
            ).fetchone()[0]
        )
        for idx, source_id, last_attempt in rows:
            self._queue.append(_Work(idx, source_id, last_attempt + 1))
        return rows[0][0] if rows else self._total()

    async def _recover_uploads(self) -> None:
        """Photos the camera side stored durably for attempts the crash left 'requested'."""
        recover = getattr(self.capturer, "recover", None)
        if recover is None:
            return
        rows = self._db.execute(
            "SELECT c.id, c.idx, c.attempt FROM captures c JOIN items i "
            "ON i.session_id = c.session_id AND i.idx = c.idx WHERE c.session_id = ? "
            "AND c.state = 'requested' AND i.state != 'verified'",
            [self.session_id],
        ).fetchall()
        for capture_id, idx, attempt in rows:
            photo = recover(idx, attempt)
            if photo is not None:
                await self._store(capture_id, _Work(idx, 0, attempt), photo, self.clock())

    async def _register_leftovers(self) -> None:
        """Photos stored before a crash but never registered: register them now."""
        rows = self._db.execute(
            "SELECT c.id, c.idx, c.attempt, c.photo_sha256, i.source_id FROM captures c "
            "JOIN items i ON i.session_id = c.session_id AND i.idx = c.idx "
            "WHERE c.session_id = ? AND c.state = 'stored' AND i.state != 'verified'",
            [self.session_id],
        ).fetchall()
        for capture_id, idx, attempt, sha, source_id in rows:
            prepared = await asyncio.get_running_loop().run_in_executor(
                self._pool, self._job(idx, attempt, source_id)
            )
            jpeg = self.project.objects.get(sha)
            await self._register(capture_id, prepared, jpeg)
        if rows:
            verified = {r[1] for r in rows if self._item_state(r[1]) == "verified"}
            self._queue = deque(w for w in self._queue if w.idx not in verified)

    def _retake(self, idx: int, source_id: int) -> None:
        """Queue item ``idx`` again at the front, once, unless it is already verified."""
        if self._item_state(idx) == "verified" or any(w.idx == idx for w in self._queue):
            return
        self._queue.appendleft(_Work(idx, source_id, self._next_attempt(idx)))

    def _next_attempt(self, idx: int) -> int:
        """One more than any attempt ever requested for ``idx`` (attempts are never reused)."""
        row = self._db.execute(
            "SELECT COALESCE(MAX(attempt), 0) FROM captures WHERE session_id=? AND idx=?",
            [self.session_id, idx],
        ).fetchone()
        return int(row[0]) + 1

    def _item_state(self, idx: int) -> str:
        return str(
            self._db.execute(
                "SELECT state FROM items WHERE session_id=? AND idx=?", [self.session_id, idx]
            ).fetchone()[0]
        )

    def _job(self, idx: int, attempt: int, source_id: int) -> Callable[[], PreparedItem]:
        return partial(
            prepare_item,
            self.project,
            self.session_id,
            idx,
            attempt,
            source_id,
            self.layout,
            self.screen_wh,
            self.plan.placement,
        )

    async def _loop(self) -> None:
        prefetch = Prefetcher(self._pool)
        try:
            await self._drain(prefetch)
        finally:
            prefetch.cancel()

    async def _drain(self, prefetch: Prefetcher) -> None:
        while self._queue and not self._stop:
            await self._resume.wait()
            if self._stop:
                break
            work = self._queue.popleft()
            work.attempt = max(work.attempt, self._next_attempt(work.idx))
            upcoming = list(self._queue)[: prefetch.depth]
            prefetch.retain({(w.idx, w.attempt) for w in [work, *upcoming]})
            for ahead in upcoming:
                prefetch.want(
                    (ahead.idx, ahead.attempt), self._job(ahead.idx, ahead.attempt, ahead.source_id)
                )
            prepared = await prefetch.get(
                (work.idx, work.attempt), self._job(work.idx, work.attempt, work.source_id)
            )
            await self._capture_item(work, prepared)

    async def _capture_item(self, work: _Work, prepared: PreparedItem) -> None:
        if work.attempt > self.plan.max_attempts:
            self._give_up(work, "no verified photo after the maximum number of attempts")
            return
        conditions = await self.conditions.for_item(work.idx) if self.conditions else {}
        shown_at = await self.display.show(prepared.screen.canvas)
        self.bus.emit(
            ev.ItemShown(
                self.session_id, idx=work.idx, attempt=work.attempt, source_id=work.source_id
            )
        )
        await asyncio.sleep(self.plan.settle_ms / 1000.0)  # panel settle time, then shoot
        capture_id = records.request_capture(
            self._db,
            self.session_id,
            work.idx,
            work.attempt,
            conditions,
            shown_at=shown_at,
            frame_id=prepared.truth.frame_id,
        )
        self.bus.emit(ev.CaptureRequested(self.session_id, idx=work.idx, attempt=work.attempt))
        request = CaptureRequest(
            self.session_id,
            work.idx,
            work.attempt,
            prepared.screen.canvas,
            shown_at,
            {"session": self.session_id, "index": work.idx, "attempt": work.attempt},
        )
        photo = await self._shoot(request, capture_id, work)
        if photo is None:
            return
        received_at = self.clock()
        if photo.pending is not None:  # kept on the phone (CheXpeditor): rig import-photos files it
            records.pend_capture(self._db, capture_id, photo.pending, photo.device)
            self.bus.emit(
                ev.PhotoPending(
                    self.session_id, idx=work.idx, attempt=work.attempt, name=photo.pending
                )
            )
            return
        if photo.path is None:
            # Only in memory so far: store it before anything else happens.
            await self._store(capture_id, work, photo, received_at)
            job = self._register(capture_id, prepared, photo.jpeg)
        else:
            # Already durable where the capturer put it (the protocol's upload store, which a
            # resumed endpoint finds again): file it in the background and move on.
            job = self._store_then_register(capture_id, work, prepared, photo, received_at)
        task = asyncio.ensure_future(job)
        self._registering.add(task)
        task.add_done_callback(self._registering.discard)

    async def _store(self, capture_id: int, work: _Work, photo: Any, received_at: float) -> None:
        loop = asyncio.get_running_loop()
        if photo.path is not None:
            sha = await loop.run_in_executor(
                self._pool, self.project.objects.adopt, photo.path, photo.jpeg
            )
        else:
            sha = self.project.objects.put(photo.jpeg)
        records.store_photo(self._db, capture_id, sha, photo.device)
        self.bus.emit(
            ev.PhotoStored(
                self.session_id,
                idx=work.idx,
                attempt=work.attempt,
                sha256=sha,
                received_at=received_at,
            )
        )

    async def _store_then_register(
        self, capture_id: int, work: _Work, prepared: PreparedItem, photo: Any, received_at: float
    ) -> None:
        await self._store(capture_id, work, photo, received_at)
        await self._register(capture_id, prepared, photo.jpeg)

    async def _shoot(self, request: CaptureRequest, capture_id: int, work: _Work) -> Any:
        lost_since: float | None = None
        while True:
            try:
                return await asyncio.wait_for(
                    self.capturer.capture(request), self.plan.capture_timeout_s
                )
            except (PhoneLostError, TimeoutError) as exc:
                reason = getattr(exc, "message", None) or "no photo within the capture timeout"
                lost_since = lost_since or self.clock()
                self.bus.emit(ev.PhoneLost(self.session_id, idx=work.idx, reason=reason))
                if self.clock() - lost_since > self.pause_limit_s or self._stop:
                    records.fail_capture(self._db, capture_id, f"phone lost: {reason}")
                    self._stop = True
                    return None
                self.pause(f"phone lost: {reason}; retrying")
                self.resume()  # headless: keep trying the same attempt until the limit
            except CameraFailedError as exc:
                records.fail_capture(self._db, capture_id, exc.message)
                self.bus.emit(
                    ev.CaptureFailed(
                        self.session_id, idx=work.idx, attempt=work.attempt, reason=exc.message
                    )
                )
                self._retake(work.idx, work.source_id)
                return None

    async def _register(self, capture_id: int, prepared: PreparedItem, jpeg: bytes) -> None:
        loop = asyncio.get_running_loop()
        outcome = await loop.run_in_executor(
            self._pool, partial(register_prepared, prepared, jpeg, self.layout)
        )
        accepted, result, aligned, mask = outcome
        aligned_sha = self.project.objects.put(aligned) if aligned is not None else None
        mask_sha = self.project.objects.put(mask) if mask is not None else None
        records.record_registration(self._db, capture_id, accepted, result, aligned_sha, mask_sha)
        idx, attempt = prepared.idx, prepared.attempt
        if accepted:
            self._verified += 1
            self.bus.emit(
                ev.PhotoVerified(
                    self.session_id,
                    idx=idx,
                    attempt=attempt,
                    psnr_db=result.get("psnr_db"),
                    ssim=result.get("ssim"),
                    reproj_err_px=result.get("reproj_err_px"),
                    aligned_sha256=aligned_sha,
                )
            )
            self._progress()
        else:
            self.bus.emit(
                ev.PhotoRejected(
                    self.session_id, idx=idx, attempt=attempt, reason=str(result.get("reason"))
                )
            )
            self._retake(idx, prepared.truth.source_id)

    def _give_up(self, work: _Work, reason: str) -> None:
        with self._db.conn:
            self._db.execute(
                "UPDATE items SET state='failed' WHERE session_id=? AND idx=?",
                [self.session_id, work.idx],
            )
        self.bus.emit(
            ev.CaptureFailed(self.session_id, idx=work.idx, attempt=work.attempt - 1, reason=reason)
        )

    def _progress(self) -> None:
        total = self._total()
        elapsed = max(self.clock() - self._started, 1e-6)
        rate = self._verified / elapsed * 3600
        eta = (total - self._verified) / (rate / 3600) if rate > 0 else None
        self.bus.emit(
            ev.Progressed(
                self.session_id, verified=self._verified, total=total, rate_per_h=rate, eta_s=eta
            )
        )

    def _finish(self) -> dict[str, Any]:
        summary = reconcile(self._db, self.session_id, self.project.objects)
        state = (
            "awaiting-import"
            if summary.get("pending_import")
            else (
                "stopped"
                if self._stop and summary["pending"]
                else ("finished" if summary["clean"] else "failed")
            )
        )
        records.finish_session(self._db, self.session_id, state, summary)
        self.bus.emit(ev.SessionFinished(self.session_id, state=state, reconciliation=summary))
        self._db.close()
        return summary
