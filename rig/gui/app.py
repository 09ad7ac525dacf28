"""``rig gui``: the display window on the rig's screen and the operator console, on one loop.

qasync runs asyncio on Qt's event loop, so the session runner, the protocol
sockets and the widgets share one thread and events reach the console directly.
A session is started or resumed here and nowhere else in the GUI, so this is where
every failure (bad choices, a camera that will not open, an image that does not
fit, an unexpected error) becomes a banner and a log line before Start is offered
again — the task never dies silently.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import qasync
from PyQt6.QtWidgets import QApplication

from rig.errors import RigError, UsageError
from rig.gui import catalog
from rig.gui.console import OperatorConsole
from rig.gui.display_window import DisplayWindow, QtDisplay, scaling_warning
from rig.gui.plan_form import PlanFields
from rig.project import Project
from rig.session import events as ev
from rig.session import service
from rig.session.narration import Line, next_step
from rig.session.plan import CapturePlan
from rig.session.reconcile import Reconciliation
from rig.session.runner import SessionRunner
from rig.session.states import PAUSED_BY_OPERATOR, STOPPED_BY_OPERATOR, SessionState
from rig.session.store import SessionStore

MIN_WINDOW = (320, 240)
STATE_CHANGES = (ev.SessionStarted, ev.SessionPaused, ev.SessionResumed, ev.SessionFinished)


def parse_window_size(text: str) -> tuple[int, int]:
    """``--windowed 1280x800`` → (1280, 800), in device pixels (the frames' size)."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if match is None:
        raise UsageError(f"--windowed '{text}': write WIDTHxHEIGHT in pixels, e.g. 1280x800")
    width, height = int(match[1]), int(match[2])
    if width < MIN_WINDOW[0] or height < MIN_WINDOW[1]:
        raise UsageError(
            f"--windowed {width}x{height}: at least {MIN_WINDOW[0]}x{MIN_WINDOW[1]} "
            "(the fiducial border needs room)"
        )
    return width, height


class GuiApp:
    def __init__(
        self,
        project: Project,
        screen_index: int = -1,
        window_size: tuple[int, int] | None = None,
    ) -> None:
        self.project = project
        existing = QApplication.instance()
        self.qt: QApplication = (
            existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
        )
        screens = self.qt.screens()
        index_ok = -len(screens) <= screen_index < len(screens)
        self.screen = screens[screen_index] if index_ok else screens[-1]
        self.window_size = window_size
        self.window = DisplayWindow(self.screen)
        self.display = QtDisplay(self.window)
        self.console = OperatorConsole(project.root, project.objects.get, self._item_objects)
        self.console.start_button.clicked.connect(self._start_clicked)
        self.console.sessions.resume_requested.connect(self._resume_clicked)
        self.console.sessions.abort_requested.connect(self.abort)
        self.console.sessions.refresh_requested.connect(self.refresh)
        self.console.closed.connect(self.quit)
        self.runner: SessionRunner | None = None
        self.run_task: asyncio.Future[Reconciliation] | None = None  # the runner's run()
        self.stopped_unpaired = False  # Stop cancelled run_task while waiting for the phone
        self.task: asyncio.Future[Any] | None = None  # what Start / Resume began
        self.refresh()
        warning = scaling_warning(self.screen)
        if warning:
            self.console.show_banner(f"DISPLAY SCALING: {warning}", "warn")

    # -- windows ----------------------------------------------------------------------
    def show(self) -> None:
        area = self.screen.availableGeometry()
        if self.window_size is None:
            self.window.setGeometry(self.screen.geometry())
            self.window.showFullScreen()
        else:  # a real window of the asked size, at the right edge of the chosen screen
            ratio = self.screen.devicePixelRatio()
            w, h = (round(v / ratio) for v in self.window_size)
            self.window.setFixedSize(w, h)
            self.window.move(max(area.x(), area.right() + 1 - w), area.y())
            self.window.show()
            self.console.resize(max(800, area.width() - w), min(area.height(), 900))
        self.console.move(area.topLeft())
        self.console.show()

    def screen_pixels(self) -> tuple[int, int]:
        """The display's size in device pixels: what every screen frame must measure."""
        if self.window_size is not None:
            return self.window_size
        ratio = self.screen.devicePixelRatio()
        size = self.screen.size()
        return round(size.width() * ratio), round(size.height() * ratio)

    def refresh(self) -> None:
        """Fill the pickers and the sessions panel from what exists now."""
        db = self.project.db()
        try:
            sources = catalog.source_choices(db)
        finally:
            db.close()
        presets = catalog.preset_names()
        cameras = catalog.camera_choices(catalog.attached_cameras(), presets)
        self.console.plan_form.set_choices(
            cameras, presets, sources, catalog.placements(), CapturePlan().placement,
            default_preset="paper-lcd-iphone",
        )  # fmt: skip
        self.refresh_sessions()

    def refresh_sessions(self) -> None:
        self.console.sessions.set_rows(catalog.list_sessions(self.project))

    def _item_objects(self, session_id: str, idx: int, attempt: int) -> catalog.ItemObjects:
        db = self.project.db()
        try:
            return catalog.item_objects(db, session_id, idx, attempt)
        finally:
            db.close()

    # -- starting, resuming, aborting -------------------------------------------------
    def _start_clicked(self) -> None:
        if self.busy:
            return
        self.task = asyncio.ensure_future(self.start(self.console.plan_form.fields()))

    def _resume_clicked(self, session_id: str) -> None:
        if not self.busy:
            self.task = asyncio.ensure_future(self.run_session(session_id))

    @property
    def busy(self) -> bool:
        return self.runner is not None or (self.task is not None and not self.task.done())

    def plan_from(self, fields: PlanFields) -> CapturePlan:
        if fields.placement not in catalog.placements():
            raise UsageError(
                f"placement '{fields.placement}': use one of {', '.join(catalog.placements())}"
            )
        width, height = self.screen_pixels()
        plan = CapturePlan(
            sources=fields.sources, camera=fields.camera, placement=fields.placement,
            limit=fields.limit, screen_width=width, screen_height=height,
            conditions=fields.conditions,
        )  # fmt: skip
        plan.validate("console")
        return plan

    async def start(self, fields: PlanFields) -> Reconciliation | None:
        """Create a session from the console's choices and run it; None if it could not."""
        self.console.set_running(True)
        try:
            session_id = service.create(self.project, self.plan_from(fields))
        except RigError as exc:
            self.console.fail(
                f"COULD NOT START: {exc.message}", "change that choice and press Start again "
                "(nothing was stored)",
            )  # fmt: skip
            self.console.set_running(False)
            return None
        except Exception as exc:  # a bug must still reach the operator, not vanish in a task
            self.console.fail(f"INTERNAL ERROR while creating the session: {exc!r}",
                              "report it with 'rig --debug session start …' output")  # fmt: skip
            self.console.set_running(False)
            return None
        self.refresh_sessions()
        return await self.run_session(session_id)

    async def run_session(self, session_id: str) -> Reconciliation | None:
        """Run (or resume) a stored session to its end; failures become banners.

        The runner itself leaves no running session behind: it fails the session with the
        reason (and says so in ``SessionFinished``), pauses it when its run is cancelled,
        and removes a session it could not even start. Stop before the phone paired
        cancels the run (nothing is on screen, so nothing can be half-shot).
        """
        self.console.set_running(True)
        self.console.begin_session(session_id)
        bus = ev.EventBus()
        bus.subscribe(self._show_event)
        ctx = service.SessionContext(
            self.display,
            bus,
            on_pairing=lambda uri, _record: self._pairing_shown(uri),
            on_warning=lambda text: self.console.log_line(Line("warn", text)),
        )
        self.stopped_unpaired = False
        try:
            self.runner = service.make_runner(self.project, session_id, ctx)
            self.console.bind(self)
            self.run_task = asyncio.ensure_future(self.runner.run())
            return await self.run_task
        except asyncio.CancelledError:
            if not self.stopped_unpaired:
                raise  # the app itself is being cancelled
            self._stopped_before_pairing(session_id)
        except Exception as exc:
            told = any(isinstance(e, ev.SessionFinished) for e in bus.history)
            self._failed(session_id, exc, told)
        finally:
            self._session_over()
        return None

    def _stopped_before_pairing(self, session_id: str) -> None:
        """The run was cancelled at the operator's Stop: the session waits, paused, for resume."""
        record = catalog.session_record(self.project, session_id)
        if record is None:  # cancelled before it started: the runner left nothing behind
            self.console.set_state("not stored")
            self.console.show_banner("STOPPED before the phone paired; nothing was stored.", "warn")
            return
        if record.state == SessionState.PAUSED:  # the runner says 'interrupted'; be precise
            with SessionStore.open(self.project) as store:
                store.transition(session_id, "pause", STOPPED_BY_OPERATOR)
        self.console.set_state(f"{record.state}: {STOPPED_BY_OPERATOR}")
        self.console.show_banner(
            f"STOPPED before the phone paired; nothing was shot. Next: "
            f"{next_step(session_id, record.state, STOPPED_BY_OPERATOR)}.", "warn",
        )  # fmt: skip
        self.console.log_line(Line("warn", f"Session {session_id} stopped before pairing."))

    def _failed(self, session_id: str, exc: Exception, told: bool) -> None:
        """One banner and one log line naming the reason, the session and what to do.

        ``told``: the runner already announced the failure (``SessionFinished``), which
        the console shows with its reason and next step.
        """
        reason = exc.message if isinstance(exc, RigError) else f"internal error: {exc!r}"
        record = catalog.session_record(self.project, session_id)
        if record is not None and record.state == SessionState.PLANNED:
            service.delete(self.project, session_id)  # never ran: no trace, as the runner does
            record = None
        if record is None:
            self.console.set_state("not stored")
            self.console.fail(
                f"COULD NOT START: {reason}",
                "change that choice and press Start again (nothing was stored)",
            )
        elif not told:
            self.console.set_state(str(record.state))
            self.console.fail(
                f"SESSION {session_id} {record.state.upper()}: {reason}",
                f"{next_step(session_id, record.state, record.reason)}",
            )

    def _session_over(self) -> None:
        self.display.cancel_pairing()
        self.console.hide_pairing()
        self.runner = None
        self.run_task = None
        self.refresh()
        self.console.set_running(False)  # only now: the banner saying why is already up

    def abort(self, session_id: str) -> None:
        if self.busy:
            return
        try:
            service.abort(self.project, session_id)
        except RigError as exc:
            self.console.fail(f"CANNOT ABORT {session_id}: {exc.message}", "refresh the list")
            self.refresh_sessions()
            return
        self.console.log_line(Line("warn", f"Session {session_id} aborted by the operator."))
        self.console.show_banner(
            f"Session {session_id} aborted: it stays in the database but will not be resumed.",
            "warn",
        )
        self.refresh_sessions()

    def quit(self) -> None:
        """Closing the console ends the app, after a safe stop of a running session."""
        self.stop()
        self.window.close()
        if self.task is not None and not self.task.done():
            self.task.add_done_callback(lambda _task: self.qt.quit())
        else:
            self.qt.quit()

    # -- the runner's controls, as the console sees them ------------------------------
    def pause(self, reason: str = PAUSED_BY_OPERATOR) -> None:
        if self.runner is not None:
            self._control(lambda runner: runner.pause(reason), "pause")

    def resume(self) -> None:
        if self.runner is not None:
            self._control(lambda runner: runner.resume(), "resume")

    def _control(self, act: Callable[[SessionRunner], None], what: str) -> None:
        """A key pressed at a moment the session cannot take it (it has not started yet)."""
        assert self.runner is not None
        try:
            act(self.runner)
        except RigError as exc:
            self.console.show_banner(f"CANNOT {what.upper()} now: {exc.message}", "warn")

    def stop(self) -> None:
        if self.runner is None:
            return
        self.runner.stop()
        if self.display.waiting_for_phone and self.run_task is not None:
            self.stopped_unpaired = True
            self.run_task.cancel()  # nothing is on screen yet: end the wait, not a capture

    # -- pairing ----------------------------------------------------------------------
    def _pairing_shown(self, payload: str) -> None:
        """The endpoint listens: show its QR code on the rig's screen until ``PhonePaired``."""
        self.display.hold_for_pairing(payload)
        self.console.show_pairing(payload)
        self.console.log_line(Line("info", f"Waiting for the phone to pair: {payload}"))

    def _show_event(self, event: ev.SessionEvent) -> None:
        """The bus drops a listener that raises; a view bug must not blind the console."""
        try:
            self.console.on_event(event)
            self._on_event(event)
        except Exception as exc:
            self.console.log_line(
                Line("error", f"The console could not show {event.kind}: {exc!r}.")
            )

    def _on_event(self, event: ev.SessionEvent) -> None:
        if isinstance(event, ev.PhonePaired):
            self.display.paired()
            self.console.hide_pairing()
        elif isinstance(event, STATE_CHANGES):
            self.refresh_sessions()


def run_gui(
    project_root: Path,
    screen_index: int,
    window_size: tuple[int, int] | None,
    resume: str | None,
) -> int:
    from rig.project import open_project

    app = GuiApp(open_project(project_root), screen_index, window_size)
    loop = qasync.QEventLoop(app.qt)
    asyncio.set_event_loop(loop)
    app.show()
    with loop:
        if resume:
            app.task = loop.create_task(app.run_session(resume))
        loop.run_forever()
    return 0
