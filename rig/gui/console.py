"""The operator console: what runs, what went wrong and what to do, in plain words.

It renders session events (rig.session.events) and calls the runner's pause /
resume / stop; it never talks to devices itself. Always visible: the session id and
state. Every failure is a banner with the reason and the next step (naming the
session); the log tells each event as one sentence (rig.session.narration), warnings
and errors coloured — the raw events stay in rig.db. Keyboard-driven for a
technician at a tripod: Ctrl+Enter starts, Space pauses or resumes, Esc stops safely
(the item in flight is finished or left for resume, never half-stored).
"""

from __future__ import annotations

import html
import shutil
import time
from pathlib import Path
from typing import Protocol

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QCloseEvent, QKeySequence, QShortcut, QTextCursor
from PyQt6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)  # fmt: skip

from rig.gui.pairing import PairingView
from rig.gui.plan_form import PlanForm
from rig.gui.previews import Loader, Lookup, PreviewPanel
from rig.gui.sessions_panel import SessionsPanel
from rig.session import events as ev
from rig.session.narration import Line, format_duration, narrate, next_step, resume_command
from rig.session.states import PAUSED_BY_OPERATOR, SessionState

BANNER_STYLES = {
    "error": "background:#b00020;color:white",
    "warn": "background:#f9a825;color:black",
    "ok": "background:#2e7d32;color:white",
}
LOG_COLOURS = {"info": None, "ok": "#2e7d32", "warn": "#b26a00", "error": "#b00020"}
DISK_LOW_BYTES = 2 << 30
WAITING_FOR_PHONE = "waiting for the phone to pair"


class SessionControl(Protocol):
    def pause(self, reason: str = ...) -> None: ...
    def resume(self) -> None: ...
    def stop(self) -> None: ...


class OperatorConsole(QMainWindow):
    closed = pyqtSignal()  # the operator closed the console: the app stops safely and quits

    def __init__(
        self,
        project_root: Path | None = None,
        load_object: Loader | None = None,
        lookup: Lookup | None = None,
    ) -> None:
        super().__init__()
        self.setWindowTitle("rig — operator console")
        self.project_root = project_root
        self.control: SessionControl | None = None
        self.paused = False
        self.session_id: str | None = None
        self.state = "idle"
        self.counts = ""
        self.last_problem: str | None = None  # the latest item that failed, for the end banner
        self._build(load_object, lookup)
        self._keys()
        self.set_running(False)

    # -- layout -----------------------------------------------------------------------
    def _build(self, load_object: Loader | None, lookup: Lookup | None) -> None:
        root = QWidget()
        outer = QVBoxLayout(root)
        self.banner = QLabel("")
        self.banner.setVisible(False)
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.header = QLabel("")
        self.header.setStyleSheet("font-size:15px;font-weight:bold;padding:4px")
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        outer.addWidget(self.banner)
        outer.addWidget(self.header)
        body = QSplitter(Qt.Orientation.Vertical)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self._controls())
        self.previews = PreviewPanel(lookup, load_object)
        self.pairing = PairingView()
        self.centre = QStackedWidget()
        self.centre.addWidget(self.previews)
        self.centre.addWidget(self.pairing)
        top.addWidget(self.centre)
        top.setStretchFactor(1, 1)
        bottom = QSplitter(Qt.Orientation.Horizontal)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        self.sessions = SessionsPanel()
        bottom.addWidget(self.log)
        bottom.addWidget(self.sessions)
        bottom.setStretchFactor(0, 3)
        bottom.setStretchFactor(1, 2)
        body.addWidget(top)
        body.addWidget(bottom)
        body.setStretchFactor(0, 3)
        body.setStretchFactor(1, 2)
        outer.addWidget(body, stretch=1)
        self.setCentralWidget(root)
        self._show_header()

    def _controls(self) -> QWidget:
        box = QWidget()
        column = QVBoxLayout(box)
        self.plan_form = PlanForm()
        column.addWidget(self.plan_form)
        buttons = QHBoxLayout()
        self.start_button = QPushButton("S&tart (Ctrl+Enter)")
        self.start_button.setStyleSheet(  # flat (a border drops the native gradient)
            "QPushButton:enabled{background:#1b873f;color:white;font-weight:bold;padding:6px;"
            "border:1px solid #0f5c2a;border-radius:3px}"
        )
        self.pause_button = QPushButton("Pause (Space)")
        self.stop_button = QPushButton("Stop (Esc)")
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(self.stop)
        for b in (self.start_button, self.pause_button, self.stop_button):
            buttons.addWidget(b)
        column.addLayout(buttons)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m verified")
        self.rate = QLabel("–")
        column.addWidget(self.progress)
        column.addWidget(self.rate)
        column.addStretch(1)
        return box

    def _keys(self) -> None:
        """Window-wide keys; text fields keep Space for typing (they override shortcuts)."""
        for keys, action in (
            ("Ctrl+Return", self.start_button.click),
            ("Ctrl+Enter", self.start_button.click),
            ("Space", self.toggle_pause),
            ("Esc", self.stop),
        ):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.activated.connect(action)

    def closeEvent(self, event: QCloseEvent | None) -> None:
        self.closed.emit()
        super().closeEvent(event)

    # -- operator input ---------------------------------------------------------------
    def bind(self, control: SessionControl | None) -> None:
        self.control = control

    def toggle_pause(self) -> None:
        if self.control is None:
            return
        if self.paused:
            self.control.resume()
        else:
            self.control.pause(PAUSED_BY_OPERATOR)

    def stop(self) -> None:
        if self.control is None or self.session_id is None:
            return
        self.control.stop()
        self.set_state("stopping")
        self.show_banner(
            f"STOPPING — the photo in flight is finished or left for resume. "
            f"Continue later with '{resume_command(self.session_id)}' or Resume in the "
            "sessions panel.",
            "warn",
        )

    def set_running(self, running: bool) -> None:
        """While a session runs: Start and the sessions panel are off, Pause and Stop on."""
        self.start_button.setEnabled(not running)
        self.plan_form.setEnabled(not running)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        self.sessions.set_busy(running)
        if not running:
            self.bind(None)
            self.paused = False
            self.pause_button.setText("Pause (Space)")

    # -- what the operator sees ------------------------------------------------------------
    def show_banner(self, text: str, level: str = "error") -> None:
        self.banner.setText(text)
        self.banner.setStyleSheet(BANNER_STYLES[level] + ";padding:8px;font-weight:bold")
        self.banner.setVisible(True)

    def hide_banner(self) -> None:
        self.banner.setVisible(False)

    def log_line(self, line: Line) -> None:
        stamp = time.strftime("%H:%M:%S")
        colour = LOG_COLOURS[line.level]
        text = html.escape(f"{stamp}  {line.text}")
        bar = self.log.verticalScrollBar()
        following = bar is None or bar.value() >= bar.maximum() - 2  # not reading back
        self.log.appendHtml(f'<span style="color:{colour}">{text}</span>' if colour else text)
        if following:
            self.log.moveCursor(QTextCursor.MoveOperation.End)
            self.log.ensureCursorVisible()

    def begin_session(self, session_id: str) -> None:
        self.session_id = session_id
        self.counts = ""
        self.last_problem = None
        self.paused = False
        self.progress.reset()
        self.rate.setText("–")
        self.previews.clear()
        self.hide_banner()
        self.set_state("starting")
        self.sessions.select(session_id)

    def set_state(self, state: str) -> None:
        self.state = state
        self._show_header()

    def fail(self, reason: str, advice: str) -> None:
        """A failure outside the event stream (could not start, camera, bad input)."""
        self.show_banner(f"{reason.rstrip('.')}. Next: {advice}", "error")
        self.log_line(Line("error", f"{reason.rstrip('.')}. Next: {advice}"))

    @property
    def pairing_shown(self) -> bool:
        return self.centre.currentWidget() is self.pairing

    def show_pairing(self, payload: str) -> None:
        self.pairing.set_payload(payload)
        self.centre.setCurrentWidget(self.pairing)
        self.set_state(WAITING_FOR_PHONE)

    def hide_pairing(self) -> None:
        self.centre.setCurrentWidget(self.previews)
        if self.state == WAITING_FOR_PHONE:
            self.set_state("running")

    def _show_header(self) -> None:
        if self.session_id is None:
            self.header.setText("No session — choose camera and sources, then Start.")
            return
        parts = [f"Session {self.session_id}", self.state]
        if self.counts:
            parts.append(self.counts)
        self.header.setText(" · ".join(parts))

    # -- events -----------------------------------------------------------------------
    def on_event(self, event: ev.SessionEvent) -> None:
        self.log_line(narrate(event))
        handler = getattr(self, f"_on_{event.kind}", None)
        if handler is not None:
            handler(event)
        self.previews.on_event(event)
        self._check_disk()

    def _on_SessionStarted(self, event: ev.SessionStarted) -> None:
        self.progress.setMaximum(max(event.items, 1))
        self.progress.setValue(0)
        self.set_state(WAITING_FOR_PHONE if self.pairing_shown else "running")

    def _on_SessionPaused(self, event: ev.SessionPaused) -> None:
        self.paused = True
        self.pause_button.setText("Resume (Space)")
        self.set_state("paused")
        self.show_banner(f"PAUSED — {event.reason}. Press Space to resume.", "warn")

    def _on_SessionResumed(self, _event: ev.SessionResumed) -> None:
        self.paused = False
        self.pause_button.setText("Pause (Space)")
        self.set_state("running")
        self.hide_banner()

    def _on_CameraLost(self, event: ev.CameraLost) -> None:
        self.show_banner(
            f"CAMERA LOST at item {event.idx}: {event.reason.rstrip('.')}. Check the phone app "
            f"(or the camera's cable) and the Wi-Fi; rig keeps retrying. To give up for now: "
            f"Esc, then later '{resume_command(event.session_id)}'."
        )

    def _on_CaptureFailed(self, event: ev.CaptureFailed) -> None:
        self.show_banner(
            f"CAMERA FAILED at item {event.idx}: {event.reason.rstrip('.')}. rig retakes it; "
            f"if it keeps failing, Esc, check the camera ('rig devices list'), then "
            f"'{resume_command(event.session_id)}'."
        )

    def _on_CaptureRejected(self, event: ev.CaptureRejected) -> None:
        if "moved" in event.reason:
            self.show_banner(f"RIG MOVED: {event.reason}. Recalibrating.", "warn")

    def _on_Progressed(self, event: ev.Progressed) -> None:
        self.progress.setMaximum(max(event.total, 1))
        self.progress.setValue(event.verified)
        self.counts = f"{event.verified} / {event.total} verified"
        self._show_header()
        eta = format_duration(event.eta_s) if event.eta_s is not None else "–"
        self.rate.setText(f"{event.rate_per_h:.0f} pairs/h · ETA {eta}")

    def _on_ItemShown(self, event: ev.ItemShown) -> None:
        self.progress.setFormat(f"%v / %m verified · showing item {event.idx}")

    def _on_CaptureVerified(self, _event: ev.CaptureVerified) -> None:
        if not self.paused and self.banner.isVisible() and self.state == "running":
            self.hide_banner()  # a verified photo means the problem shown has passed

    def _on_ItemFailed(self, event: ev.ItemFailed) -> None:
        self.last_problem = f"item {event.idx}: {event.reason.rstrip('.')}"

    def _on_SessionFinished(self, event: ev.SessionFinished) -> None:
        rec = event.reconciliation
        self.counts = f"{rec.verified} / {rec.items} verified"
        self.set_state(event.state)
        line = narrate(event)
        told, _, step = line.text.partition(" Next: ")
        step = step or f"{next_step(event.session_id, event.state, event.reason)}."
        if event.state == SessionState.FAILED and self.last_problem:
            told = f"{told} Last problem: {self.last_problem}."  # what to fix, before the step
        self.show_banner(f"{told} Next: {step}", line.level if line.level != "info" else "ok")

    def _check_disk(self) -> None:
        if self.project_root is None:
            return
        free = shutil.disk_usage(self.project_root).free
        if free < DISK_LOW_BYTES:
            self.show_banner(
                f"DISK NEARLY FULL: {free / 2**30:.1f} GiB left under {self.project_root}. "
                "Next: free space or pause (Space) before photos cannot be stored.",
                "warn",
            )
