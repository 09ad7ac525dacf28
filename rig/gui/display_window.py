"""The full-screen display: pixel-exact, no smoothing, black background.

Pixel exactness (1 image pixel = 1 device pixel) is checked, not assumed: with OS
scaling Qt would resample, so the window sets each QImage's device pixel ratio to
the screen's and paints at device-independent size ``pixels / ratio`` — which maps
back to exactly one device pixel per image pixel — and warns when the ratio is not
an integer (then no exact mapping exists). A paint is not yet light on the panel,
so ``QtDisplay.show`` adds the plan's settle time on top, and the frame code in
every photo remains the final proof of what was on screen.

Before the first item of a phone session the window belongs to pairing: it shows
the QR code (rig.gui.pairing) and ``QtDisplay`` holds item frames back until the
phone has paired, so the phone never has to photograph a frame it cannot report.
"""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
from PyQt6.QtCore import QPoint, QRect, Qt
from PyQt6.QtGui import QColor, QFont, QGuiApplication, QImage, QPainter, QPaintEvent, QScreen
from PyQt6.QtWidgets import QWidget

from rig.gui.pairing import paint_qr, qr_image
from rig.gui.qimage import to_qimage

PAIRING_CAPTION = "Scan with the rig app on the tripod phone"


def scaling_warning(screen: QScreen) -> str | None:
    ratio = screen.devicePixelRatio()
    if ratio == 1.0:
        return None
    exact = float(ratio).is_integer()
    return f"the OS scales this screen by {ratio:g}; " + (
        "rig compensates (frames are painted at device pixels)"
        if exact
        else "non-integer scaling cannot be pixel-exact: set QT_ENABLE_HIGHDPI_SCALING=0 "
        "or the screen's scaling to 100 %"
    )


class DisplayWindow(QWidget):
    """Shows one screen frame at a time; records when each was painted."""

    def __init__(self, screen: QScreen | None = None) -> None:
        super().__init__()
        self.setWindowTitle("rig display")
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setCursor(Qt.CursorShape.BlankCursor)
        self._screen = screen or QGuiApplication.primaryScreen()
        self._image: QImage | None = None
        self._pairing: tuple[QImage, str] | None = None
        self._painted: asyncio.Future[float] | None = None
        self.last_paint_at: float | None = None

    @property
    def ratio(self) -> float:
        return self._screen.devicePixelRatio() if self._screen else 1.0

    def set_frame(self, frame: np.ndarray) -> None:
        image = to_qimage(frame)
        image.setDevicePixelRatio(self.ratio)
        self._image = image
        self.update()

    @property
    def pairing_shown(self) -> bool:
        return self._pairing is not None

    def show_pairing(self, payload: str) -> None:
        """Show the pairing QR code large and centred, the payload beneath, until cleared."""
        self._pairing = (qr_image(payload), payload)
        self.update()

    def clear_pairing(self) -> None:
        self._pairing = None
        self.update()

    def paintEvent(self, event: QPaintEvent | None) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(0, 0, 0))
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        if self._pairing is not None:
            self._paint_pairing(painter, *self._pairing)
        elif self._image is not None:
            painter.drawImage(QPoint(0, 0), self._image)
        painter.end()
        self.last_paint_at = time.time()
        if self._painted is not None and not self._painted.done():
            self._painted.set_result(self.last_paint_at)

    def _paint_pairing(self, painter: QPainter, qr: QImage, payload: str) -> None:
        """The QR code on a white card (its quiet zone) over 3/4 of the height, text below."""
        w, h = self.width(), self.height()
        text_h = max(24, h // 12)
        side = min(w, h - 2 * text_h) * 3 // 4
        area = QRect((w - side) // 2, max(0, (h - 2 * text_h - side) // 2), side, side)
        placed = paint_qr(painter, qr, area)
        painter.setPen(QColor(255, 255, 255))
        font = QFont(painter.font())
        font.setPixelSize(max(12, text_h // 2))
        painter.setFont(font)
        below = QRect(0, placed.bottom() + text_h // 3, w, text_h)
        painter.drawText(below, Qt.AlignmentFlag.AlignCenter, PAIRING_CAPTION)
        font.setPixelSize(max(10, text_h // 3))
        painter.setFont(font)
        painter.setPen(QColor(170, 170, 170))
        margin = w // 20
        painter.drawText(  # the payload, for pairing by hand: wrapped, never cut off
            QRect(margin, below.bottom(), w - 2 * margin, h - below.bottom()),
            Qt.AlignmentFlag.AlignHCenter
            | Qt.AlignmentFlag.AlignTop
            | Qt.TextFlag.TextWrapAnywhere,
            payload,
        )

    def next_paint(self) -> asyncio.Future[float]:
        self._painted = asyncio.get_running_loop().create_future()
        return self._painted


class QtDisplay:
    """``rig.devices.display.Display`` on a Qt window (runs on the qasync event loop).

    ``hold_for_pairing`` puts the QR code up and makes ``show`` wait until ``paired``
    (the session layer's ``PhonePaired``). ``cancel_pairing`` takes the code down; a
    ``show`` still waiting is cancelled (the GUI cancels the run itself when the operator
    stops before the phone paired, and the runner keeps the session paused).
    """

    def __init__(self, window: DisplayWindow, paint_timeout_s: float = 2.0) -> None:
        self.window = window
        self.paint_timeout_s = paint_timeout_s
        self._lock = threading.Lock()
        self._frames: list[tuple[float, np.ndarray]] = []
        self._pairing: asyncio.Future[None] | None = None

    @property
    def waiting_for_phone(self) -> bool:
        return self._pairing is not None and not self._pairing.done()

    def hold_for_pairing(self, payload: str) -> None:
        self._pairing = asyncio.get_running_loop().create_future()
        self.window.show_pairing(payload)

    def paired(self) -> None:
        """The phone has paired: take the QR code down and let frames through."""
        self._end_hold(cancel=False)

    def cancel_pairing(self) -> None:
        self._end_hold(cancel=True)

    def _end_hold(self, cancel: bool) -> None:
        # The hold is forgotten either way, so the next session's frames are not held.
        self.window.clear_pairing()
        pairing, self._pairing = self._pairing, None
        if pairing is None or pairing.done():
            return
        if cancel:
            pairing.cancel()
        else:
            pairing.set_result(None)

    async def show(self, frame: np.ndarray) -> float:
        if self._pairing is not None:
            await self._pairing
        painted = self.window.next_paint()
        self.window.set_frame(frame)
        self.window.repaint()
        try:
            presented = await asyncio.wait_for(painted, self.paint_timeout_s)
        except TimeoutError:  # a hidden window is never painted: say when we asked
            presented = time.time()
        with self._lock:
            self._frames = [*self._frames[-3:], (presented, frame)]
        return presented

    def tap(self, at: float | None = None) -> np.ndarray | None:
        at = time.time() if at is None else at
        with self._lock:
            visible = [f for t, f in self._frames if t <= at]
        return visible[-1] if visible else None
