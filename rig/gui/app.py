"""``rig gui``: the display window on the rig's screen and the operator console, on one loop.

qasync runs asyncio on Qt's event loop, so the session runner, the protocol
sockets and the widgets share one thread and events reach the console directly.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import qasync
from PyQt6.QtWidgets import QApplication

from rig.gui.console import OperatorConsole
from rig.gui.display_window import DisplayWindow, QtDisplay, scaling_warning
from rig.imaging import codec
from rig.project import Project
from rig.session import events as ev
from rig.session import service
from rig.session.plan import CapturePlan
from rig.session.reconcile import Reconciliation


class GuiApp:
    def __init__(self, project: Project, screen_index: int = -1, windowed: bool = False) -> None:
        self.project = project
        existing = QApplication.instance()
        self.qt: QApplication = (
            existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
        )
        screens = self.qt.screens()
        screen = (
            screens[screen_index] if -len(screens) <= screen_index < len(screens) else screens[-1]
        )
        self.window = DisplayWindow(screen)
        self.console = OperatorConsole(project.root, project.objects.get)
        self.console.start_button.clicked.connect(self._start_clicked)
        self.windowed = windowed
        self.screen = screen
        self._task: asyncio.Future[Any] | None = None
        warning = scaling_warning(screen)
        if warning:
            self.console.show_banner(f"DISPLAY SCALING: {warning}", "warn")

    def show(self) -> None:
        self.window.setGeometry(self.screen.geometry())
        if self.windowed:
            self.window.show()
        else:
            self.window.showFullScreen()
        self.console.show()

    def _start_clicked(self) -> None:
        plan = CapturePlan(
            sources=self.console.sources.text() or "all",
            camera=self.console.camera.text() or "sim",
            screen_width=self.screen.size().width(),
            screen_height=self.screen.size().height(),
            conditions=self.console.condition_values(),
        )
        self._task = asyncio.ensure_future(self.run_plan(plan))

    async def run_plan(self, plan: CapturePlan) -> Reconciliation:
        session_id = service.create(self.project, plan)
        return await self.run_session(session_id)

    async def run_session(self, session_id: str) -> Reconciliation:
        bus = ev.EventBus()
        bus.subscribe(self.console.on_event)
        bus.subscribe(self._truth_for_console)
        ctx = service.SessionContext(
            QtDisplay(self.window),
            bus,
            on_pairing=lambda uri, _r: self.console.log.appendPlainText(f"pair: {uri}"),
        )
        runner = service.make_runner(self.project, session_id, ctx)
        self.console.bind(runner)
        self.console.start_button.setEnabled(False)
        try:
            return await runner.run()
        finally:
            self.console.start_button.setEnabled(True)

    def _truth_for_console(self, event: ev.SessionEvent) -> None:
        if isinstance(event, ev.ItemShown):
            from rig.library.frames import ensure_frame

            truth = ensure_frame(self.project, event.source_id).pixels
            self.console.set_truth(codec.to_bgr(truth, codec.RGB))


def run_gui(project_root: Path, screen_index: int, windowed: bool, resume: str | None) -> int:
    from rig.project import open_project

    app = GuiApp(open_project(project_root), screen_index, windowed)
    loop = qasync.QEventLoop(app.qt)
    asyncio.set_event_loop(loop)
    app.show()
    with loop:
        if resume:
            loop.create_task(app.run_session(resume))
        loop.run_forever()
    return 0
