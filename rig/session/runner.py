"""The async session runner: show → settle → capture → store → register → verify → commit.

Theory of operation
- The database is the session's memory. Every step is one transaction of the session
  store (rig.session.store) before the next begins, so a process killed at any moment
  resumes from the first item without a verified photo and loses nothing that
  reached the disk. States change only through the store's transition tables.
- Resources are opened in ``run()`` and closed when it ends (the constructor is
  inert): the database connection, the worker pool, the camera. One runner object can
  therefore be run again in the same process (resume).
- Registration of item i runs in a worker while item i+1 is shown and shot, so the
  camera, not rig, sets the pace. With a pipelining camera (a v1.2 phone, docs/protocol.md
  §6.4) even the photo's upload and storage are off the critical path: the capture returns
  once the photo is durable on the phone (``CapturedPhoto.later``), item i+1 is shown at
  once, and the arrival of item i (stored, then registered) runs in the background; a lost
  upload fails that attempt and retakes the item like a rejection. The capture row stays
  ``requested`` until the photo is stored here, so a crash loses at most the photos in
  flight, and resume asks for exactly those attempts again (the phone re-uploads them).
  A rejected photo puts its item back in the queue
  for a retake with the next attempt number (the frame code changes with it, so a
  stale photo of an old attempt can never verify a new one).
- On resume, the attempt that was in flight is adopted: its photo, if the camera side
  stored it durably (``Capturer.recover``), is registered; otherwise the *same*
  attempt is asked again (a phone that already shot it re-uploads it). Photos stored
  but not registered are registered first: nothing that reached the disk is shot again.
- Time comes from the injected ``Clock``: the settle wait, the capture deadline (the
  camera's own limits plus a margin, extended as the camera reports progress), the
  retry back-off and ``pause_limit_s``.
- ``PhoneLostError``, a deadline passed, or any other device or protocol error during
  a capture pauses the session automatically ("camera" hold) and retries the *same*
  attempt until it answers or ``pause_limit_s`` passes (then the session fails);
  ``CameraFailedError`` and rejections use a new attempt, up to ``plan.max_attempts``.
  The operator's pause is a separate hold: automatic retries never lift it.
- A disk that cannot take the next item (``rig.session.diskspace``, checked before each
  one) or a write refused on the way (``StorageError``: full, read-only) pauses the
  session with that one line naming the path, and is re-raised: nothing half-written is
  kept (rig.atomic), and ``rig session resume`` continues once there is room.
- Whatever else escapes (a bug) ends the session ``failed`` with its reason and is
  re-raised; a session interrupted (Ctrl-C, cancelled) is left ``paused``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from calibration.fiducials import FiducialLayout
from rig.devices.display import Display
from rig.errors import CameraFailedError, DeviceError, ProtocolError, RigError, StorageError
from rig.project import Project
from rig.session import events as ev
from rig.session.capture import (
    CapturedPhoto,
    Capturer,
    CaptureRequest,
    capture_before_deadline,
)
from rig.session.clock import Clock, SystemClock
from rig.session.conditions import ConditionDriver
from rig.session.diskspace import ensure_item_room
from rig.session.frames import Prefetcher, PreparedItem, prepare_item
from rig.session.holds import CAMERA, OPERATOR, Holds
from rig.session.plan import CapturePlan
from rig.session.reconcile import Reconciliation, reconcile
from rig.session.removal import remove_session
from rig.session.settle import SETTLE_KIND, SettleController, display_key, is_stale
from rig.session.states import (
    AWAITING_IMPORT,
    INTERRUPTED,
    PAUSED_BY_OPERATOR,
    STOPPED_BY_OPERATOR,
    CaptureState,
    ItemState,
    SessionState,
)
from rig.session.store import SessionStore
from rig.session.verify import RegistrationOutcome, verify_and_gate

if TYPE_CHECKING:
    from rig.quality.gate import QualityGate
    from rig.session.scoring import BackgroundScorer, ScoreResult

LOST_ERRORS = (DeviceError, ProtocolError, TimeoutError)  # CameraFailedError is handled first
_OBJECT_PATH = re.compile(r"\S*objects/[0-9a-f]{2}/[0-9a-f]{62}:?\s*")


@dataclass
class _Work:
    idx: int
    source_id: int
    attempt: int
    capture_id: int | None = None  # the capture row of an attempt adopted after a crash


class SessionRunner:
    def __init__(
        self,
        project: Project,
        session_id: str,
        plan: CapturePlan,
        capturer: Capturer,
        display: Display,
        bus: ev.EventBus | None = None,
        clock: Clock | None = None,
        conditions: ConditionDriver | None = None,
        pause_limit_s: float = 600.0,
        retry_delay_s: float = 2.0,
    ) -> None:
        # Settled already when stored (service.create); settling again is a no-op then.
        plan = plan.settled(project.config.display)
        self.project, self.session_id, self.plan = project, session_id, plan
        self.capturer, self.display = capturer, display
        self.bus = bus or ev.EventBus()
        self.clock: Clock = clock or SystemClock()
        self.conditions = conditions
        self.pause_limit_s, self.retry_delay_s = pause_limit_s, retry_delay_s
        self.layout = FiducialLayout.from_dict(plan.layout)
        self.screen_wh = plan.screen_wh
        self._holds = Holds()  # why the session is paused: operator and camera apart
        self._operator_free = asyncio.Event()
        self._operator_free.set()
        self._stop = False
        self._failure: str | None = None  # why the session cannot go on
        self._aborted = False
        self._store: SessionStore | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._render_pool: ThreadPoolExecutor | None = None  # frames ahead: never behind a check
        self._registering: set[asyncio.Future[Any]] = set()
        self._storage_failure: StorageError | None = None  # met by a background registration
        self._queue: deque[_Work] = deque()
        self._verified = 0
        self._started = 0.0
        self._gate: QualityGate | None = None  # the live quality gate (rig.quality.gate)
        self._scorer: BackgroundScorer | None = None  # --quality-gate / --classifier models
        self._settle = SettleController(plan.settle_bounds())
        self._settle_used: dict[tuple[int, int], float] = {}  # (idx, attempt) -> its settle

    # -- operator controls (GUI / keyboard) -------------------------------------------
    def pause(self, reason: str = PAUSED_BY_OPERATOR) -> None:
        """Hold the session before the next item (the capture in flight completes)."""
        self._operator_free.clear()
        self._hold(OPERATOR, reason)

    def resume(self) -> None:
        """Lift the operator's pause (a camera that is still lost keeps the session paused)."""
        self._operator_free.set()
        self._release(OPERATOR)

    def stop(self) -> None:
        """End after the capture in flight; the session stays resumable (paused)."""
        self._stop = True
        self._operator_free.set()

    @property
    def paused(self) -> bool:
        return bool(self._holds)

    def _hold(self, source: str, reason: str) -> None:
        if self._holds.hold(source, reason) and self._store is not None:
            self._store.transition(self.session_id, "pause", self._holds.reason)
            self._emit(ev.SessionPaused(self.session_id, reason=reason))

    def _release(self, source: str) -> None:
        if not self._holds.release(source) or self._store is None:
            return
        if self._holds:
            self._store.transition(self.session_id, "pause", self._holds.reason)
            self._emit(ev.SessionPaused(self.session_id, reason=self._holds.reason))
        else:
            self._store.transition(self.session_id, "resume")
            self._emit(ev.SessionResumed(self.session_id))

    # -- the run ----------------------------------------------------------------------
    async def run(self) -> Reconciliation:
        """Run to the end (or stop); return the reconciliation."""
        self._stop, self._failure, self._aborted = False, None, False  # each run starts afresh
        self._storage_failure = None
        # Group commit: the loop never waits for an fsync; "stored" and "verified" are told
        # only after ``store.durable()`` (rig.session.store).
        store = self._store = SessionStore.open(self.project, self.clock.now, group_commit=True)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="rig-session")
        # The next frames render on their own worker: registrations of earlier photos (now
        # several at once, pipelined) must never make the display wait.
        self._render_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rig-render")
        self._open_quality(store)
        self._settle = self._open_settle(store)
        started = False
        try:
            if store.state(self.session_id) == SessionState.ABORTED:
                store.transition(self.session_id, "start")  # raises: an aborted session is final
            await self.capturer.start()
            try:
                if self.conditions is not None:
                    await self.conditions.start()
                first = self._load_queue()
                store.transition(self.session_id, "start", resumed_at=first)
                started = True
                self._started = self.clock.now()
                self._emit(
                    ev.SessionStarted(self.session_id, items=self._total(), resumed_at=first)
                )
                if OPERATOR in self._holds:  # paused before the run began
                    store.transition(self.session_id, "pause", self._holds.reason)
                    self._emit(ev.SessionPaused(self.session_id, reason=self._holds.reason))
                await self._recover_in_flight()
                await self._register_leftovers()
                while self._queue and not self._stop:
                    await self._loop()
                    if self._registering:  # retakes found by the last registrations
                        await asyncio.gather(*self._registering)
                await self._drain_scorer()
                return self._finish()
            finally:
                if self.conditions is not None:
                    await self.conditions.stop()
                await self.capturer.stop()
        except BaseException as exc:
            interrupted = isinstance(exc, asyncio.CancelledError | KeyboardInterrupt)
            await self._settle_registrations(cancel=interrupted)
            self._end_abnormally(exc, started)
            raise
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._render_pool.shutdown(wait=True, cancel_futures=True)
            self._close_scorer()
            self._store = None
            store.close()

    # -- quality gate and background scoring (docs/quality.md) -------------------------
    def _open_quality(self, store: SessionStore) -> None:
        from rig.quality.gate import session_gate
        from rig.quality.project_grades import session_tone_curve
        from rig.session.scoring import BackgroundScorer, learned_gate_for, scorers_for

        config = self.project.config.quality
        curve = session_tone_curve(store.db, self.session_id)
        self._gate = session_gate(config, self.plan.min_grade, curve, bool(self.plan.sweeps),
                                  learned_gate_for(self.plan.quality_gate, self.plan.camera))
        scorers = scorers_for(self.plan.quality_gate, self.plan.classifier)
        if scorers:
            loop = asyncio.get_running_loop()

            def deliver(result: ScoreResult) -> None:  # on the worker thread
                loop.call_soon_threadsafe(self._scored, result)

            self._scorer = BackgroundScorer(scorers, deliver)
            self._scorer.start()

    async def _drain_scorer(self) -> None:
        """Score what is still queued; its results are stored before the session ends."""
        scorer, self._scorer = self._scorer, None
        if scorer is not None:
            # Each result was handed to this loop before stop() returned: they run first.
            await asyncio.get_running_loop().run_in_executor(None, scorer.stop)

    def _close_scorer(self) -> None:
        if self._scorer is not None:
            self._scorer.stop()  # scores what is queued; results land after the loop ends
            self._scorer = None

    def _scored(self, result: ScoreResult) -> None:
        """A background score, on the event loop: stored, then shown."""
        from rig.quality.store import save_capture_score

        if self._store is None:  # the run ended; the database is closed
            return
        save_capture_score(self._store.db, result.capture_id, result.kind, result.run,
                           result.scores, result.error)
        self._emit(ev.CaptureScored(self.session_id, idx=result.idx, attempt=result.attempt,
                                    model=result.kind, scores=result.scores, error=result.error))

    def _score_later(self, capture_id: int, idx: int, attempt: int, aligned: str) -> None:
        from rig.library.frames import decode_png
        from rig.session.scoring import ScoreJob

        if self._scorer is None:
            return
        objects = self.project.objects

        def load() -> Any:
            import cv2

            image = decode_png(objects.get(aligned))
            return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)

        self._scorer.submit(ScoreJob(capture_id, idx, attempt, load))

    # -- adaptive settle (rig.session.settle) -----------------------------------------
    def _open_settle(self, store: SessionStore) -> SettleController:
        """The settle controller, starting where the last run on this display left off."""
        learnt = store.latest_calibration(SETTLE_KIND, self._display_key())
        start = float(learnt["settle_ms"]) if learnt else None
        self._settle_used.clear()
        return SettleController(self.plan.settle_bounds(), start)

    def _display_key(self) -> str:
        return display_key(type(self.display).__name__, self.screen_wh)

    def _learn_settle(self, prepared: PreparedItem, outcome: RegistrationOutcome) -> None:
        """A verdict teaches the settle (judged by the settle its own shot used): a photo of
        another frame raises it, a run of good ones lowers it (rig.session.settle)."""
        used = self._settle_used.pop((prepared.idx, prepared.attempt), None)
        if used is None:  # registered after a restart: its settle is not known
            return
        expected = prepared.screen.code.to_dict()
        stale = not outcome.accepted and is_stale(outcome.frame_code, expected, outcome.reason)
        before = self._settle.settle_ms
        if self._settle.record(used, stale) != before:
            self.store.save_calibration(
                self.session_id, SETTLE_KIND, self._settle.to_dict(self._display_key())
            )

    async def _settle_registrations(self, cancel: bool) -> None:
        """Registrations in the background finish (their verdicts are kept) or, when the run
        is interrupted, are dropped: the stored photos are registered on resume."""
        tasks = list(self._registering)
        for task in tasks if cancel else []:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _end_abnormally(self, exc: BaseException, started: bool) -> None:
        """Never leave a session ``running``: failed with its reason, or paused if interrupted."""
        store = self._store
        if store is None or store.state(self.session_id) == SessionState.ABORTED:
            return
        if not started:
            if store.state(self.session_id) == SessionState.PLANNED:
                remove_session(self.project, store, self.session_id)  # it never ran: no trace
            return
        if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt):
            store.transition(self.session_id, "pause", INTERRUPTED)
            return
        if isinstance(exc, StorageError):  # resumable once the disk has room (or is writable)
            # The database shares the disk: if it cannot record the pause, the error says why.
            with contextlib.suppress(Exception):
                store.transition(self.session_id, "pause", exc.message)
                self._emit(ev.SessionPaused(self.session_id, reason=exc.message))
            return
        reason = exc.message if isinstance(exc, RigError) else f"{type(exc).__name__}: {exc}"
        rec = reconcile(store, self.session_id, self.project.objects)
        store.transition(self.session_id, "fail", reason, rec.to_dict())
        self._emit(
            ev.SessionFinished(
                self.session_id, state=SessionState.FAILED, reason=reason, reconciliation=rec
            )
        )

    def _emit(self, event: ev.SessionEvent) -> None:
        self.bus.emit(event)

    @property
    def store(self) -> SessionStore:
        assert self._store is not None, "run() first"
        return self._store

    def _total(self) -> int:
        return self.store.count_items(self.session_id)

    def _load_queue(self) -> int:
        """Queue every item without a verified photo; return the first one's index."""
        store, sid = self.store, self.session_id
        self._verified = store.count_items(sid, ItemState.VERIFIED)
        self._queue.clear()
        for item in store.items(sid):
            if item.state in (ItemState.PENDING, ItemState.SHOWN):
                self._queue.append(
                    _Work(item.idx, item.source_id, store.next_attempt(sid, item.idx))
                )
        return self._queue[0].idx if self._queue else self._total()

    async def _recover_in_flight(self) -> None:
        """Adopt the attempts a crash left ``requested``: their photo, else ask them again."""
        store, sid = self.store, self.session_id
        for cap in store.captures(sid, [CaptureState.REQUESTED]):
            latest = cap.attempt == store.next_attempt(sid, cap.idx) - 1
            if not latest or store.item_state(sid, cap.idx) == ItemState.VERIFIED:
                store.fail_capture(cap.id, "interrupted; a later attempt took over")
                continue
            photo = await self.capturer.recover(cap.idx, cap.attempt)
            if photo is not None:
                await self._store_photo(cap.id, cap.idx, cap.attempt, photo, self.clock.now())
                continue
            work = next((w for w in self._queue if w.idx == cap.idx), None)
            if work is None:
                store.fail_capture(cap.id, "interrupted")
            else:
                work.attempt, work.capture_id = cap.attempt, cap.id

    async def _register_leftovers(self) -> None:
        """Photos stored before a crash but never registered: register them now."""
        loop = asyncio.get_running_loop()
        for cap in self.store.captures(self.session_id, [CaptureState.STORED]):
            if self.store.item_state(self.session_id, cap.idx) == ItemState.VERIFIED:
                continue
            job = self._job(cap.idx, cap.attempt, cap.source_id)
            prepared = await loop.run_in_executor(self._pool, job)
            assert cap.photo_sha256 is not None
            await self._register(cap.id, prepared, self.project.objects.get(cap.photo_sha256))
        verified = {w.idx for w in self._queue if self._item_state(w.idx) == ItemState.VERIFIED}
        self._queue = deque(w for w in self._queue if w.idx not in verified)

    def _retake(self, idx: int, source_id: int) -> None:
        """Queue item ``idx`` again at the front, once, unless it is already verified."""
        if self._item_state(idx) == ItemState.VERIFIED or any(w.idx == idx for w in self._queue):
            return
        self._queue.appendleft(_Work(idx, source_id, self.store.next_attempt(self.session_id, idx)))

    def _item_state(self, idx: int) -> ItemState:
        return self.store.item_state(self.session_id, idx)

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
        assert self._render_pool is not None
        prefetch = Prefetcher(self._render_pool)
        try:
            await self._drain(prefetch)
        finally:
            prefetch.cancel()

    async def _drain(self, prefetch: Prefetcher) -> None:
        while self._queue and not self._stop:
            await self._operator_free.wait()
            if self._stop or self._check_aborted():
                break
            if self._storage_failure is not None:
                raise self._storage_failure
            ensure_item_room(self.project, self.plan)  # pause before a photo meets a full disk
            work = self._queue.popleft()
            if work.capture_id is None:
                work.attempt = max(work.attempt, self.store.next_attempt(self.session_id, work.idx))
            upcoming = list(self._queue)[: prefetch.depth]
            prefetch.retain({(w.idx, w.attempt) for w in [work, *upcoming]})
            for ahead in upcoming:
                prefetch.want(
                    (ahead.idx, ahead.attempt), self._job(ahead.idx, ahead.attempt, ahead.source_id)
                )
            try:
                prepared = await prefetch.get(
                    (work.idx, work.attempt), self._job(work.idx, work.attempt, work.source_id)
                )
            except RigError as exc:  # this source cannot be shown; the others still can
                self._give_up(work, f"source {work.source_id}: {_OBJECT_PATH.sub('', exc.message)}")
                continue
            await self._capture_item(work, prepared)

    def _check_aborted(self) -> bool:
        """``rig session abort`` from another process ends this run at the next item."""
        if self.store.state(self.session_id) == SessionState.ABORTED:
            self._aborted = self._stop = True
        return self._aborted

    async def _capture_item(self, work: _Work, prepared: PreparedItem) -> None:
        if work.attempt > self.plan.max_attempts:
            self._give_up(work, f"no verified photo after {self.plan.max_attempts} attempts")
            return
        conditions = await self.conditions.for_item(work.idx) if self.conditions else {}
        shown_at = await self.display.show(prepared.screen.canvas)
        self._emit(
            ev.ItemShown(
                self.session_id, idx=work.idx, attempt=work.attempt, source_id=work.source_id
            )
        )
        settle_ms = self._settle.settle_ms  # the panel's response, proven by the frame codes
        self._settle_used[(work.idx, work.attempt)] = settle_ms
        # The capture row is committed while the panel settles: off the critical path.
        settled = asyncio.ensure_future(self.clock.sleep(settle_ms / 1000.0))
        capture_id = work.capture_id
        if capture_id is None:
            try:
                capture_id = self.store.request_capture(
                    self.session_id,
                    work.idx,
                    work.attempt,
                    conditions,
                    shown_at,
                    prepared.truth.frame_id,
                    settle_ms,
                )
            except BaseException:
                settled.cancel()
                raise
        await settled
        self._emit(ev.CaptureRequested(self.session_id, idx=work.idx, attempt=work.attempt))
        tag = {"session": self.session_id, "index": work.idx, "attempt": work.attempt}
        request = CaptureRequest(
            self.session_id, work.idx, work.attempt, prepared.screen.canvas, shown_at, tag
        )
        photo = await self._shoot(request, capture_id, work)
        if photo is None:
            return
        if photo.later is not None:  # durable on the phone; stored and checked in the background
            self._background(self._arrive(capture_id, work, prepared, photo.later))
            return
        received_at = self.clock.now()
        if photo.pending is not None:  # kept on the phone (CheXpeditor): rig import-photos files it
            self.store.pend_capture(capture_id, photo.pending, photo.device)
            self._emit(
                ev.CapturePending(
                    self.session_id, idx=work.idx, attempt=work.attempt, name=photo.pending
                )
            )
            return
        if photo.path is None:  # only in memory so far: store it before anything else happens
            await self._store_photo(capture_id, work.idx, work.attempt, photo, received_at)
            job = self._register(capture_id, prepared, photo.jpeg)
        else:  # already durable where the capturer put it: file it in the background
            job = self._store_then_register(capture_id, work, prepared, photo, received_at)
        self._background(job)

    def _background(self, job: Any) -> None:
        """Run ``job`` (store / register a photo) beside the next captures; awaited at the end."""
        task = asyncio.ensure_future(job)
        self._registering.add(task)
        task.add_done_callback(self._registering.discard)
        task.add_done_callback(self._note_storage_failure)

    async def _arrive(
        self, capture_id: int, work: _Work, prepared: PreparedItem, later: Any
    ) -> None:
        """A photo held on the phone (docs/protocol.md §6.4): stored once it arrived, then
        registered; lost on the way, the attempt fails and the item is retaken."""
        try:
            photo: CapturedPhoto = await later
        except StorageError:
            raise
        except (CameraFailedError, *LOST_ERRORS) as exc:
            reason = exc.message if isinstance(exc, RigError) else str(exc)
            self.store.fail_capture(capture_id, reason)
            self._emit(
                ev.CaptureFailed(self.session_id, idx=work.idx, attempt=work.attempt, reason=reason)
            )
            self._retake(work.idx, work.source_id)
            return
        await self._store_then_register(capture_id, work, prepared, photo, self.clock.now())

    def _note_storage_failure(self, task: asyncio.Future[Any]) -> None:
        """A disk that refused a background write pauses the session before the next item."""
        exc = None if task.cancelled() else task.exception()
        if isinstance(exc, StorageError) and self._storage_failure is None:
            self._storage_failure = exc

    async def _store_photo(
        self, capture_id: int, idx: int, attempt: int, photo: CapturedPhoto, received_at: float
    ) -> None:
        if photo.path is not None:
            loop = asyncio.get_running_loop()
            adopt = partial(self.project.objects.adopt, photo.path, photo.jpeg)
            sha = await loop.run_in_executor(self._pool, adopt)
        else:
            sha = self.project.objects.put(photo.jpeg)
        self.store.store_photo(capture_id, sha, photo.device)
        await self.store.durable()
        self._emit(
            ev.CaptureStored(
                self.session_id, idx=idx, attempt=attempt, sha256=sha, received_at=received_at
            )
        )

    async def _store_then_register(
        self,
        capture_id: int,
        work: _Work,
        prepared: PreparedItem,
        photo: CapturedPhoto,
        received_at: float,
    ) -> None:
        await self._store_photo(capture_id, work.idx, work.attempt, photo, received_at)
        await self._register(capture_id, prepared, photo.jpeg)

    async def _shoot(
        self, request: CaptureRequest, capture_id: int, work: _Work
    ) -> CapturedPhoto | None:
        """The photo of this attempt; the same attempt is retried while the camera is lost."""
        lost_since: float | None = None
        while True:
            try:
                photo = await capture_before_deadline(
                    self.capturer, request, self.clock, self.plan.capture_timeout_s
                )
            except CameraFailedError as exc:
                self._release(CAMERA)
                self.store.fail_capture(capture_id, exc.message)
                self._emit(
                    ev.CaptureFailed(
                        self.session_id, idx=work.idx, attempt=work.attempt, reason=exc.message
                    )
                )
                self._retake(work.idx, work.source_id)
                return None
            except LOST_ERRORS as exc:
                reason = exc.message if isinstance(exc, RigError) else str(exc)
                lost_since = self.clock.now() if lost_since is None else lost_since
                self._emit(ev.CameraLost(self.session_id, idx=work.idx, reason=reason))
                if self.clock.now() - lost_since >= self.pause_limit_s or self._stop:
                    self._release(CAMERA)
                    self.store.fail_capture(capture_id, f"camera lost: {reason}")
                    if not self._stop:
                        self._failure = (
                            f"camera lost for {self.pause_limit_s:g} s at item {work.idx}: {reason}"
                        )
                    self._stop = True
                    return None
                self._hold(CAMERA, f"camera lost: {reason}; retrying")
                await self.clock.sleep(self.retry_delay_s)
                await self._operator_free.wait()  # an operator pause holds the retry too
                continue
            self._release(CAMERA)
            return photo

    async def _register(self, capture_id: int, prepared: PreparedItem, jpeg: bytes) -> None:
        from rig.quality.store import pair_id, save_verdict

        loop = asyncio.get_running_loop()
        outcome: RegistrationOutcome
        outcome, verdict = await loop.run_in_executor(
            self._pool, partial(verify_and_gate, prepared, jpeg, self.layout, self._gate)
        )
        objects = self.project.objects
        # Written (and fsynced) on a worker: the loop is shooting the next items meanwhile.
        aligned = mask = None
        if outcome.aligned_png is not None:
            aligned = await loop.run_in_executor(self._pool, objects.put, outcome.aligned_png)
        if outcome.mask_png is not None:
            mask = await loop.run_in_executor(self._pool, objects.put, outcome.mask_png)
        self.store.record_registration(capture_id, outcome, aligned, mask)
        self._learn_settle(prepared, outcome)
        idx, attempt = prepared.idx, prepared.attempt
        if verdict is not None and self._gate is not None:  # graded: kept for training
            photo = pair_id(self.session_id, idx, attempt)
            save_verdict(self.store.db, capture_id, photo, verdict, self._gate.config)
        await self.store.durable()  # the verdict survives power loss before anyone hears of it
        if outcome.accepted:
            if aligned is not None:
                self._score_later(capture_id, idx, attempt, aligned)
            self._verified += 1
            self._emit(
                ev.CaptureVerified(
                    self.session_id,
                    idx=idx,
                    attempt=attempt,
                    psnr_db=outcome.psnr_db,
                    ssim=outcome.ssim,
                    reproj_err_px=outcome.reproj_err_px,
                    aligned_sha256=aligned,
                )
            )
            self._progress()
        else:
            self._emit(
                ev.CaptureRejected(
                    self.session_id, idx=idx, attempt=attempt, reason=str(outcome.reason)
                )
            )
            self._retake(idx, prepared.truth.source_id)

    def _give_up(self, work: _Work, reason: str) -> None:
        if work.capture_id is not None:  # an adopted attempt that could not be asked again
            self.store.fail_capture(work.capture_id, reason)
        self.store.give_up_item(self.session_id, work.idx, reason)
        self._emit(ev.ItemFailed(self.session_id, idx=work.idx, reason=reason))

    def _progress(self) -> None:
        total = self._total()
        elapsed = max(self.clock.now() - self._started, 1e-6)
        rate = self._verified / elapsed * 3600
        eta = (total - self._verified) / (rate / 3600) if rate > 0 else None
        self._emit(
            ev.Progressed(
                self.session_id, verified=self._verified, total=total, rate_per_h=rate, eta_s=eta
            )
        )

    def _finish(self) -> Reconciliation:
        self._check_aborted()  # an abort may land after the last item
        rec = reconcile(self.store, self.session_id, self.project.objects)
        state, reason = self._end_state(rec)
        if not self._aborted:
            event = {
                SessionState.FINISHED: "finish",
                SessionState.FAILED: "fail",
                SessionState.PAUSED: "pause",
            }[state]
            self.store.transition(self.session_id, event, reason, rec.to_dict())
        self._emit(
            ev.SessionFinished(self.session_id, state=state, reason=reason, reconciliation=rec)
        )
        return rec

    def _end_state(self, rec: Reconciliation) -> tuple[SessionState, str | None]:
        if self._aborted:
            return SessionState.ABORTED, "aborted by operator"
        if self._failure is not None:
            return SessionState.FAILED, self._failure
        if rec.pending_import:
            return SessionState.PAUSED, AWAITING_IMPORT
        if self._stop and rec.pending:
            return SessionState.PAUSED, STOPPED_BY_OPERATOR
        if rec.clean:
            return SessionState.FINISHED, None
        return SessionState.FAILED, rec.describe()
