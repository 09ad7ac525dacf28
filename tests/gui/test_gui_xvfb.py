"""``rig gui`` on a real X server (Xvfb, Qt's xcb plugin), driven by keyboard and mouse.

Each test starts the real command as a user would, clicks and types through XTEST
(xdotool), and reads the screen back (xwd): the screenshots are checked and kept
(set RIG_GUI_SHOTS=docs/img to refresh the README's pictures from them).
"""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest
from xserver import Window, XDisplay, colour_box, missing_tools, wait_until, xvfb

from rig.library.importer import import_paths
from rig.library.samples import SampleSpec, write_samples
from rig.project import Project, init_project

pytestmark = [
    pytest.mark.skipif(
        bool(missing_tools()),
        reason=f"needs {', '.join(missing_tools())} (scripts/test installs them)",
    ),
    pytest.mark.skipif(importlib.util.find_spec("PyQt6") is None, reason="needs PyQt6"),
]

RIG = [sys.executable, "-m", "rig"]
SCREEN = (2400, 1000)  # room for the console and a 1280x800 display window side by side
WINDOW = "1280x800"
START_GREEN = (0x1B, 0x87, 0x3F)  # rig.gui.console: the Start button
DOC_SHOTS = ("console.png", "display.png", "pairing.png", "failure.png")  # README pictures
BANNER = {"error": (0xB0, 0x00, 0x20), "warn": (0xF9, 0xA8, 0x25), "ok": (0x2E, 0x7D, 0x32)}


@pytest.fixture(scope="module")
def x() -> Iterator[XDisplay]:
    with xvfb(*SCREEN) as display:
        yield display


@pytest.fixture
def project(tmp_path: Path) -> Project:
    project = init_project(tmp_path / "project")
    labels = write_samples(
        tmp_path / "in", n_images=4, seed=7, spec=SampleSpec(rows=240, columns=200)
    )
    import_paths(project, [tmp_path / "in"], labels, recursive=True)
    return project


@contextmanager
def rig_gui(
    x: XDisplay, project: Project, logs: Path
) -> Iterator[tuple[subprocess.Popen[bytes], Window, Window]]:
    """``rig gui --windowed`` on the X server; yields once the console is painted and focused."""
    proc = subprocess.Popen(
        [*RIG, "-p", str(project.root), "gui", "--windowed", WINDOW],
        env=x.env(), stdout=(logs / "gui.out").open("wb"), stderr=(logs / "gui.err").open("wb"),
    )  # fmt: skip
    try:
        console, display = x.window("operator console"), x.window("^rig display$")
        wait_until(lambda: start_button(x, console), "the console to be painted", proc=proc)
        x.xdotool("windowfocus", "--sync", console.id)
        yield proc, console, display
        assert proc.poll() is None, f"rig gui died: {(logs / 'gui.err').read_text()[-2000:]}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def start_button(x: XDisplay, console: Window) -> tuple[int, int] | None:
    """Screen position of the centre of the (enabled, green) Start button, if visible."""
    box = colour_box(console.crop(x.screenshot()), START_GREEN, tol=2)
    return (
        None
        if box is None
        else (console.x + (box[0] + box[2]) // 2, console.y + (box[1] + box[3]) // 2)
    )


def screen_when(
    x: XDisplay,
    window: Window,
    check: Callable[[np.ndarray], object],
    what: str,
    proc: subprocess.Popen[bytes],
    timeout_s: float = 30.0,
) -> np.ndarray:
    """Take screenshots until ``check(window's part)`` holds; return that whole screenshot."""

    def probe() -> np.ndarray | None:
        shot = x.screenshot()
        return shot if check(window.crop(shot)) else None

    return wait_until(probe, what, timeout_s, proc)  # type: ignore[return-value]


def banner(image: np.ndarray, level: str) -> bool:
    """A banner is a strip of its colour across the top of the console."""
    box = colour_box(image[:120], BANNER[level], tol=2, min_px=2000)
    return box is not None and box[2] - box[0] > image.shape[1] * 0.8


def query(project: Project, sql: str, *args: object) -> list[tuple]:  # type: ignore[type-arg]
    with sqlite3.connect(project.db_path) as db:
        return db.execute(sql, args).fetchall()


def session_state(project: Project) -> str | None:
    rows = query(project, "SELECT state FROM sessions ORDER BY created_at DESC LIMIT 1")
    return rows[0][0] if rows else None


def keep(name: str, image: np.ndarray, tmp_path: Path) -> Path:
    """Save a screenshot (RGB) for the test's record, and for docs/img when asked."""
    path = tmp_path / name
    assert cv2.imwrite(str(path), image[..., ::-1])
    if (shots := os.environ.get("RIG_GUI_SHOTS")) and name in DOC_SHOTS:
        out = (
            image
            if image.shape[1] <= 1200
            else cv2.resize(image, (960, 600), interpolation=cv2.INTER_AREA)
        )
        cv2.imwrite(str(Path(shots) / f"gui_{name}"), out[..., ::-1])
    return path


def decode_qr(image: np.ndarray) -> str:
    from rig.protocol.pairing import decode_qr_pixels  # what `rig phone-sim QR.png` decodes with

    text = decode_qr_pixels(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
    return str(text)


def fill(x: XDisplay, mnemonic: str, text: str) -> None:
    """Alt+mnemonic focuses a picker (its label's buddy); replace its text."""
    x.keys(f"alt+{mnemonic}", "ctrl+a")
    x.type(text)


def test_three_item_session_by_mouse_and_keyboard(
    x: XDisplay, project: Project, tmp_path: Path
) -> None:
    with rig_gui(x, project, tmp_path) as (proc, console, display):
        fill(x, "l", "3")  # Limit: 3 items; camera 'sim' and sources 'all' are the defaults
        button = start_button(x, console)
        assert button is not None
        x.click(*button)
        wait_until(
            lambda: session_state(project) == "running" or None, "the session to run", proc=proc
        )
        x.keys("space")  # pause
        wait_until(lambda: session_state(project) == "paused" or None, "the pause", proc=proc)
        paused = screen_when(x, console, lambda c: banner(c, "warn"), "the PAUSED banner", proc)
        keep("paused.png", console.crop(paused), tmp_path)
        x.keys("space")  # resume
        wait_until(lambda: session_state(project) == "finished" or None, "the session to finish",
                   timeout_s=90, proc=proc)  # fmt: skip
        done = screen_when(
            x, console, lambda c: banner(c, "ok") and _preview_shown(project, c),
            "the finished banner and the preview of the last verdict", proc,
        )  # fmt: skip
    shown_console, shown_display = console.crop(done), display.crop(done)
    keep("console.png", shown_console, tmp_path)
    keep("display.png", shown_display, tmp_path)
    assert query(project, "SELECT count(*) FROM items WHERE state='verified'") == [(3,)]
    assert shown_console.std() > 20 and len(np.unique(shown_console.reshape(-1, 3), axis=0)) > 50
    # The real X server shows exactly the frame rig composed for the last item, pixel for pixel.
    expected = _last_shown_frame(project)
    assert shown_display.shape[:2] == expected.shape[:2] == (800, 1280)
    assert np.array_equal(cv2.cvtColor(shown_display, cv2.COLOR_RGB2GRAY), expected)


def test_a_camera_that_does_not_exist_shows_a_banner(
    x: XDisplay, project: Project, tmp_path: Path
) -> None:
    with rig_gui(x, project, tmp_path) as (proc, console, _display):
        fill(x, "c", "usb:99")
        x.keys("ctrl+Return")
        shot = console.crop(screen_when(
            x, console, lambda c: colour_box(c, START_GREEN, tol=2) and banner(c, "error"),
            "the error banner, and Start offered again", proc,
        ))  # fmt: skip
        keep("failure.png", shot, tmp_path)
    assert query(project, "SELECT count(*) FROM sessions") == [(0,)]  # it never ran: no trace


def test_the_phone_pairs_by_the_qr_code_on_the_display(
    x: XDisplay, project: Project, tmp_path: Path
) -> None:
    with rig_gui(x, project, tmp_path) as (proc, console, display):
        fill(x, "c", "phone")
        fill(x, "l", "2")
        x.keys("ctrl+Return")
        shot = screen_when(x, display, decode_qr, "the pairing QR code on the display", proc)
        payload = decode_qr(display.crop(shot))
        assert payload.startswith("rig1://") and decode_qr(console.crop(shot)) == payload
        assert query(project, "SELECT count(*) FROM captures") == [(0,)]  # nothing before pairing
        qr_png = keep("pairing.png", display.crop(shot), tmp_path)
        phone = subprocess.Popen(
            [*RIG, "phone-sim", str(qr_png), "--store", str(tmp_path / "phone"), "--idle-exit-s", "20"],
            stdout=(tmp_path / "phone.out").open("wb"), stderr=(tmp_path / "phone.err").open("wb"),
        )  # fmt: skip
        try:
            wait_until(lambda: session_state(project) == "finished" or None, "the paired session",
                       timeout_s=90, proc=proc)  # fmt: skip
            after = display.crop(x.screenshot())
        finally:
            phone.terminate()
            phone.wait(timeout=20)
    assert decode_qr(after) == ""  # the QR code is gone once the phone paired
    assert query(project, "SELECT count(*) FROM items WHERE state='verified'") == [(2,)]


def _preview_shown(project: Project, console: np.ndarray) -> bool:
    """The ground truth of the last verdict's item appears (scaled) in the console."""
    idx, _attempt = query(
        project,
        "SELECT idx, attempt FROM events WHERE kind='CaptureVerified' ORDER BY id DESC LIMIT 1",
    )[0]
    (sha,) = query(
        project,
        "SELECT f.object_sha256 FROM items i JOIN frames f ON f.id = i.frame_id WHERE i.idx = ?",
        idx,
    )[0]
    truth = cv2.imdecode(np.frombuffer(project.objects.get(sha), np.uint8), cv2.IMREAD_GRAYSCALE)
    gray = cv2.cvtColor(console, cv2.COLOR_RGB2GRAY)
    gray = cv2.resize(gray, (gray.shape[1] // 2, gray.shape[0] // 2), interpolation=cv2.INTER_AREA)
    for height in range(50, gray.shape[0] * 3 // 4, 2):  # the view's size is the layout's
        width = round(truth.shape[1] * height / truth.shape[0])
        template = cv2.resize(truth, (width, height), interpolation=cv2.INTER_AREA)
        if cv2.matchTemplate(gray, template, cv2.TM_CCOEFF_NORMED).max() > 0.97:
            return True
    return False


def _last_shown_frame(project: Project) -> np.ndarray:
    """The screen frame rig composed for the last item it showed (what must be on the panel)."""
    import json

    from calibration.fiducials import FiducialLayout
    from rig.session.frames import prepare_item

    sid, idx, attempt = query(
        project,
        "SELECT session_id, idx, attempt FROM events WHERE kind='ItemShown' ORDER BY id DESC LIMIT 1",
    )[0]
    (plan,) = query(project, "SELECT plan FROM sessions WHERE id=?", sid)[0]
    (source,) = query(
        project, "SELECT source_id FROM items WHERE session_id=? AND idx=?", sid, idx
    )[0]
    p = json.loads(plan)
    item = prepare_item(project, sid, idx, attempt, source, FiducialLayout.from_dict(p["layout"]),
                        (p["screen_width"], p["screen_height"]), p["placement"])  # fmt: skip
    canvas = item.screen.canvas
    return canvas if canvas.ndim == 2 else cv2.cvtColor(canvas, cv2.COLOR_BGR2GRAY)
