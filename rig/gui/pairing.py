"""The pairing QR code on screen (the console's card, and painting it whole-module).

The tripod phone already faces the rig's monitor, so the display window shows the
QR code there (large, centred, whole modules of screen pixels — a scaled QR code
with smoothed edges scans worse); the console shows it too, with the text beneath
for phones that are paired by hand. Both disappear at the session's ``PhonePaired``.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QRect, Qt
from PyQt6.QtGui import QColor, QImage, QPainter, QPaintEvent
from PyQt6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from rig.gui.qimage import to_qimage
from rig.protocol.pairing import qr_matrix


def qr_image(payload: str) -> QImage:
    """The QR code of ``payload``, one image pixel per module (quiet zone included)."""
    return to_qimage(np.where(qr_matrix(payload), 0, 255).astype(np.uint8))


def paint_qr(painter: QPainter, qr: QImage, area: QRect) -> QRect:
    """Draw ``qr`` as large as fits in ``area`` with whole-pixel modules; return where."""
    modules = qr.width()
    module_px = max(1, min(area.width(), area.height()) // modules)
    side = modules * module_px
    target = QRect(
        area.x() + (area.width() - side) // 2, area.y() + (area.height() - side) // 2, side, side
    )
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
    painter.drawImage(target, qr)
    return target


class QrView(QWidget):
    """A square that paints a QR code as large as the widget allows."""

    def __init__(self) -> None:
        super().__init__()
        self.qr: QImage | None = None
        self.setMinimumSize(200, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def paintEvent(self, event: QPaintEvent | None) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(255, 255, 255))
        if self.qr is not None:
            paint_qr(painter, self.qr, self.rect())
        painter.end()


class PairingView(QWidget):
    """The console's pairing card: the QR code with the pairing text beneath."""

    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        self.heading = QLabel("Waiting for the phone: scan this code with the rig app.")
        self.heading.setStyleSheet("font-weight:bold")
        self.qr_view = QrView()
        self.text = QLabel("")
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setStyleSheet("font-family:monospace")
        layout.addWidget(self.heading)
        layout.addWidget(self.qr_view, stretch=1)
        layout.addWidget(self.text)
        self.payload: str | None = None

    def set_payload(self, payload: str) -> None:
        self.payload = payload
        self.qr_view.qr = qr_image(payload)
        self.text.setText(payload)
        self.qr_view.update()
