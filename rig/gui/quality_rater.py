"""``rig quality rate``: a small window that shows one photo at a time; keys 1-4 grade it.

The window only draws and forwards keys; ``rig.quality.rating_session`` decides what
comes next and stores every grade as it is given. It shows nothing that could bias the
rater: no figures, no automatic grade, no other rater's grade.
"""

from __future__ import annotations

import sys

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QKeyEvent, QPixmap, QResizeEvent
from PyQt6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

from rig.gui.qimage import to_qimage
from rig.quality.rating_session import RatingSession

KEYS = {Qt.Key.Key_1: 1, Qt.Key.Key_2: 2, Qt.Key.Key_3: 3, Qt.Key.Key_4: 4}
HELP = "1 unusable · 2 poor · 3 acceptable · 4 good · Esc to stop (resume any time)"


class QualityRater(QWidget):
    """Photo + one status line; 1-4 rate the photo, Esc closes."""

    def __init__(self, session: RatingSession) -> None:
        super().__init__()
        self.session = session
        self.setWindowTitle(f"rig quality rate — {session.rater}")
        self.photo = QLabel()
        self.photo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.photo.setMinimumSize(320, 240)
        self.status = QLabel()
        layout = QVBoxLayout(self)
        layout.addWidget(self.photo, stretch=1)
        layout.addWidget(self.status)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._pixmap: QPixmap | None = None
        self.show_current()

    def show_current(self) -> None:
        s = self.session
        if s.current is None:
            self._pixmap = None
            self.photo.setText("All photos rated. Thank you.")
            self.status.setText(f"{s.done} of {s.total} rated · Esc to close")
            return
        self._pixmap = QPixmap.fromImage(to_qimage(s.image()))
        self._fit()
        self.status.setText(f"photo {s.done + 1} of {s.total} · {HELP}")

    def _fit(self) -> None:
        if self._pixmap is not None:
            self.photo.setPixmap(self._pixmap.scaled(
                self.photo.size(), Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation))

    def resizeEvent(self, event: QResizeEvent | None) -> None:
        super().resizeEvent(event)
        self._fit()

    def keyPressEvent(self, event: QKeyEvent | None) -> None:
        if event is None:
            return
        key = Qt.Key(event.key())
        if key == Qt.Key.Key_Escape:
            self.close()
        elif key in KEYS and self.session.current is not None:
            self.session.rate(KEYS[key])
            self.show_current()
        else:
            super().keyPressEvent(event)


def run_rater(session: RatingSession) -> int:
    """Show the window until it is closed; the exit code of the Qt loop."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    window = QualityRater(session)
    window.resize(1000, 800)
    window.show()
    return int(app.exec())
