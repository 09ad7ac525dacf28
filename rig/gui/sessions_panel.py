"""The sessions panel: every session of the project, to resume or abort.

Abort asks twice without a modal dialog (the button turns into "Confirm abort …"
for the selected session), so a stray click at the tripod cannot give up a session
and keyboard-driven tests need no dialog handling.
"""

from __future__ import annotations

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)  # fmt: skip

from rig.gui.catalog import can_abort, can_resume
from rig.session.store import SessionListing

COLUMNS = ("session", "state", "camera", "verified", "created")


class SessionsPanel(QWidget):
    resume_requested = pyqtSignal(str)
    abort_requested = pyqtSignal(str)
    refresh_requested = pyqtSignal()

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[SessionListing] = []
        self.busy = False  # a session is running: nothing else may start
        self._confirming: str | None = None
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)  # type: ignore[union-attr]
        self.table.horizontalHeader().setStretchLastSection(True)  # type: ignore[union-attr]
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.resume_button = QPushButton("&Resume")
        self.abort_button = QPushButton("&Abort…")
        self.refresh_button = QPushButton("Refresh")
        self.resume_button.clicked.connect(self._resume)
        self.abort_button.clicked.connect(self._abort)
        self.refresh_button.clicked.connect(self.refresh_requested.emit)
        buttons = QHBoxLayout()
        for button in (self.resume_button, self.abort_button, self.refresh_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self._update_buttons()

    def set_rows(self, rows: list[SessionListing]) -> None:
        selected = self.selected()
        self.rows = rows
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            state = f"{row.state}: {row.reason}" if row.reason else str(row.state)
            cells = (row.id, state, row.camera, f"{row.verified} / {row.items}",
                     row.created_at[:19].replace("T", " "))  # fmt: skip
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))
            if selected is not None and row.id == selected.id:
                self.table.selectRow(r)
        self.table.resizeColumnsToContents()
        self._confirming = None
        self._update_buttons()

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        self._update_buttons()

    def select(self, session_id: str) -> None:
        for r, row in enumerate(self.rows):
            if row.id == session_id:
                self.table.selectRow(r)

    def selected(self) -> SessionListing | None:
        picked = self.table.selectionModel().selectedRows()  # type: ignore[union-attr]
        return self.rows[picked[0].row()] if picked and picked[0].row() < len(self.rows) else None

    def _resume(self) -> None:
        row = self.selected()
        if row is not None and can_resume(row) and not self.busy:
            self.resume_requested.emit(row.id)

    def _abort(self) -> None:
        row = self.selected()
        if row is None or not can_abort(row) or self.busy:
            return
        if self._confirming != row.id:
            self._confirming = row.id
            self.abort_button.setText(f"Confirm abort {row.id}")
            return
        self._confirming = None
        self.abort_requested.emit(row.id)
        self._update_buttons()

    def _update_buttons(self) -> None:
        row = self.selected()
        if row is None or row.id != self._confirming:
            self._confirming = None
            self.abort_button.setText("&Abort…")
        self.resume_button.setEnabled(row is not None and can_resume(row) and not self.busy)
        self.abort_button.setEnabled(row is not None and can_abort(row) and not self.busy)
