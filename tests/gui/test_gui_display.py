"""The Qt display is pixel-exact, and the console reacts to the keyboard and to events."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

pytest.importorskip("PyQt6")
pytest.importorskip("pytestqt")

from PyQt6.QtCore import Qt

from rig.gui.console import OperatorConsole, checkerboard
from rig.gui.display_window import DisplayWindow, QtDisplay
from rig.gui.qimage import from_qimage
from rig.session import events as ev


def test_display_shows_frame_pixel_exactly(qtbot) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    frame[::2, ::2] = 255  # a one-pixel grid any resampling would smear
    window = DisplayWindow()
    qtbot.addWidget(window)
    window.resize(320, 240)
    window.show()
    qtbot.waitExposed(window)
    display = QtDisplay(window)
    presented = asyncio.run(display.show(frame))
    grabbed = from_qimage(window.grab().toImage())
    assert grabbed.shape == frame.shape
    assert np.array_equal(grabbed, frame)
    assert display.tap(presented) is frame
    assert display.tap(presented - 1.0) is None


def test_gray_frame_and_black_background(qtbot) -> None:  # type: ignore[no-untyped-def]
    frame = np.tile(np.arange(200, dtype=np.uint8), (100, 1))
    window = DisplayWindow()
    qtbot.addWidget(window)
    window.resize(260, 120)
    window.show()
    qtbot.waitExposed(window)
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
    console.bind(control)
    console.show()
    qtbot.keyClick(console, Qt.Key.Key_Space)
    assert console.paused and console.banner.isVisible()
    assert "PAUSED" in console.banner.text()
    qtbot.keyClick(console, Qt.Key.Key_Space)
    assert not console.paused
    qtbot.keyClick(console, Qt.Key.Key_Escape)
    assert control.calls == ["pause", "resume", "stop"]


def test_banner_for_lost_phone_and_progress(qtbot) -> None:  # type: ignore[no-untyped-def]
    console = OperatorConsole()
    qtbot.addWidget(console)
    console.show()
    console.on_event(ev.CameraLost("s1", idx=7, reason="no answer for 10 s"))
    assert console.banner.isVisible() and "PHONE LOST at item 7" in console.banner.text()
    console.on_event(ev.Progressed("s1", verified=3, total=10, rate_per_h=1200.0, eta_s=21.0))
    assert console.progress.value() == 3 and "1200 pairs/h" in console.rate.text()
    assert "CameraLost" in console.log.toPlainText()


def test_checkerboard_alternates_tiles() -> None:
    a, b = np.zeros((64, 64), np.uint8), np.full((64, 64), 9, np.uint8)
    board = checkerboard(a, b, tile_px=32)
    assert board[0, 0] == 9 and board[0, 40] == 0 and board[40, 40] == 9
