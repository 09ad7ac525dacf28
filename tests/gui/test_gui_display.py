"""The Qt display is pixel-exact and shows the pairing QR code; the console reacts to keys and events."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

pytest.importorskip("PyQt6")
pytest.importorskip("pytestqt")

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication

from rig.gui.console import OperatorConsole
from rig.gui.display_window import DisplayWindow, QtDisplay
from rig.gui.previews import checkerboard
from rig.gui.qimage import from_qimage
from rig.protocol.pairing import Pairing, parse_pairing
from rig.session import events as ev


def shown_window(qtbot, width: int, height: int) -> DisplayWindow:  # type: ignore[no-untyped-def]
    window = DisplayWindow()
    qtbot.addWidget(window)
    window.resize(width, height)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_display_shows_frame_pixel_exactly(qtbot) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    frame[::2, ::2] = 255  # a one-pixel grid any resampling would smear
    window = shown_window(qtbot, 320, 240)
    display = QtDisplay(window)
    presented = asyncio.run(display.show(frame))
    grabbed = from_qimage(window.grab().toImage())
    assert grabbed.shape == frame.shape
    assert np.array_equal(grabbed, frame)
    assert display.tap(presented) is frame
    assert display.tap(presented - 1.0) is None


def test_gray_frame_and_black_background(qtbot) -> None:  # type: ignore[no-untyped-def]
    frame = np.tile(np.arange(200, dtype=np.uint8), (100, 1))
    window = shown_window(qtbot, 260, 120)
    window.set_frame(frame)
    window.repaint()
    grabbed = from_qimage(window.grab().toImage())
    assert np.array_equal(grabbed[:100, :200, 0], frame)
    assert not grabbed[100:, :].any() and not grabbed[:, 200:].any()


class Control:
    def __init__(self, console: OperatorConsole) -> None:
        self.console, self.calls = console, []  # type: ignore[var-annotated]

    def pause(self, reason: str = "") -> None:
        self.calls.append("pause")
        self.console.on_event(ev.SessionPaused("s1", reason=reason))

    def resume(self) -> None:
        self.calls.append("resume")
        self.console.on_event(ev.SessionResumed("s1"))

    def stop(self) -> None:
        self.calls.append("stop")


def test_keyboard_pause_resume_and_stop(qtbot) -> None:  # type: ignore[no-untyped-def]
    console = OperatorConsole()
    qtbot.addWidget(console)
    control = Control(console)
    console.begin_session("s1")
    console.set_running(True)
    console.bind(control)
    console.show()
    console.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is console)  # shortcuts go there
    qtbot.keyClick(console, Qt.Key.Key_Space)
    assert console.paused and console.banner.isVisible()
    assert "PAUSED" in console.banner.text()
    qtbot.keyClick(console, Qt.Key.Key_Space)
    assert not console.paused
    qtbot.keyClick(console, Qt.Key.Key_Escape)
    assert control.calls == ["pause", "resume", "stop"]
    assert "rig session resume s1" in console.banner.text()
    assert console.header.text() == "Session s1 · stopping"


def test_banner_for_lost_phone_and_progress(qtbot) -> None:  # type: ignore[no-untyped-def]
    console = OperatorConsole()
    qtbot.addWidget(console)
    console.show()
    console.on_event(ev.CameraLost("s1", idx=7, reason="no answer for 10 s"))
    assert console.banner.isVisible() and "CAMERA LOST at item 7" in console.banner.text()
    console.on_event(ev.Progressed("s1", verified=3, total=10, rate_per_h=1200.0, eta_s=21.0))
    assert console.progress.value() == 3 and "1200 pairs/h" in console.rate.text()
    assert "rig session resume s1" in console.banner.text()
    log = console.log.toPlainText()
    assert "Lost the camera at item 7 (no answer for 10 s)" in log
    assert "CameraLost" not in log and "{" not in log  # sentences, not event dumps
    assert "color:#b00020" in console.log.document().toHtml().replace(" ", "")  # type: ignore[union-attr]


def test_checkerboard_alternates_tiles() -> None:
    a, b = np.zeros((64, 64), np.uint8), np.full((64, 64), 9, np.uint8)
    board = checkerboard(a, b, tile_px=32)
    assert board[0, 0] == 9 and board[0, 40] == 0 and board[40, 40] == 9


def _decode_qr(image: np.ndarray) -> str:
    import cv2

    text, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
    return str(text)


PAIRING = Pairing("192.0.2.7", 47000, 47001, bytes(range(8)), bytes(range(32)))


def test_display_holds_frames_behind_the_qr_code_until_the_phone_pairs(qtbot) -> None:  # type: ignore[no-untyped-def]
    window = shown_window(qtbot, 1280, 800)
    display = QtDisplay(window)
    frame = np.full((800, 1280), 77, np.uint8)

    async def scenario() -> tuple[np.ndarray, bool, np.ndarray]:
        display.hold_for_pairing(PAIRING.to_uri())
        shown = asyncio.ensure_future(display.show(frame))
        await asyncio.sleep(0)  # let show() reach the hold
        window.repaint()
        with_qr = from_qimage(window.grab().toImage())
        held = not shown.done() and display.tap() is None
        display.paired()
        await shown
        return with_qr, held, from_qimage(window.grab().toImage())

    with_qr, held, after = asyncio.run(scenario())
    assert held  # the item waits while the QR code is up
    assert parse_pairing(_decode_qr(with_qr)) == PAIRING  # large, centred and scannable
    dark = np.argwhere(with_qr[..., 0] < 128)
    (top, left), (bottom, right) = dark.min(0), dark.max(0)
    assert bottom - top > 400 and abs((left + right) / 2 - 640) < 40
    assert np.array_equal(after[..., 0], frame) and not window.pairing_shown


def test_cancelling_the_pairing_ends_the_wait_and_the_hold(qtbot) -> None:  # type: ignore[no-untyped-def]
    window = DisplayWindow()
    qtbot.addWidget(window)
    display = QtDisplay(window, paint_timeout_s=0.01)  # hidden: never painted, no need to wait
    frame = np.full((8, 8), 5, np.uint8)

    async def scenario() -> bool:
        display.hold_for_pairing(PAIRING.to_uri())
        shown = asyncio.ensure_future(display.show(np.zeros((8, 8), np.uint8)))
        await asyncio.sleep(0)
        display.cancel_pairing()
        await asyncio.gather(shown, return_exceptions=True)
        await display.show(frame)  # the next session's frames are not held
        return shown.cancelled()

    assert asyncio.run(scenario())
    assert not display.waiting_for_phone and not window.pairing_shown
    assert display.tap() is frame


def test_console_shows_the_qr_code_with_its_text(qtbot) -> None:  # type: ignore[no-untyped-def]
    console = OperatorConsole()
    qtbot.addWidget(console)
    console.resize(1200, 900)
    console.show()
    console.show_pairing(PAIRING.to_uri())
    assert console.centre.currentWidget() is console.pairing
    assert console.pairing.text.text() == PAIRING.to_uri()
    shot = from_qimage(console.pairing.qr_view.grab().toImage())
    assert parse_pairing(_decode_qr(shot)) == PAIRING
    console.hide_pairing()
    assert console.centre.currentWidget() is console.previews
