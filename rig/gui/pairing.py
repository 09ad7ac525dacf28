"""The pairing QR code on screen, and noticing when the phone has paired.

The tripod phone already faces the rig's monitor, so the display window shows the
QR code there (large, centred, whole modules of screen pixels — a scaled QR code
with smoothed edges scans worse); the console shows it too, with the text beneath
for phones that are paired by hand. Both disappear once the phone says HELLO.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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


def watch_pairing(capturer: object, on_paired: Callable[[str], None]) -> bool:
    """Call ``on_paired(peer)`` when a phone pairs with the capturer's protocol endpoint.

    The session layer emits no event for a phone's HELLO, so this listens to the
    endpoint's own protocol events (rig.protocol.events.PeerHello) through its link.
    A resumed endpoint that already knows its phone counts as paired at once.
    Returns False when the capturer is not a protocol endpoint (no pairing needed).
    """
    from rig.protocol.events import PeerHello

    endpoint = getattr(capturer, "endpoint", None)
    link = getattr(endpoint, "link", None)
    machine = getattr(endpoint, "machine", None)
    if link is None or machine is None:
        return False
    if machine.peer is not None:
        on_paired(_peer_text(machine.peer))
        return True
    forward: Callable[[Any], None] = link.on_event

    def on_event(event: Any) -> None:
        forward(event)
        if isinstance(event, PeerHello):
            on_paired(_peer_text(machine.peer))

    link.on_event = on_event
    return True


def _peer_text(peer: Any) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)
