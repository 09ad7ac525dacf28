"""The console run by the app (offscreen): real sessions, real failures, real database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("PyQt6")
pytest.importorskip("pytestqt")
pytest.importorskip("qasync")

from rig.cli import main
from rig.errors import UsageError
from rig.gui import catalog
from rig.gui.app import GuiApp, parse_window_size
from rig.gui.plan_form import PlanFields, camera_with_preset
from rig.library.importer import import_paths
from rig.library.samples import SampleSpec, write_samples
from rig.project import Project, init_project
from rig.session.plan import select_sources
from rig.session.states import STOPPED_BY_OPERATOR
from rig.session.store import SessionStore

WINDOW = (1280, 800)  # the smallest common size the default fiducial layout fits


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("samples")
    labels = write_samples(root / "in", n_images=4, seed=5, spec=SampleSpec(rows=240, columns=200))
    return root / "in", labels


@pytest.fixture
def project(tmp_path: Path, samples: tuple[Path, Path]) -> Project:
    project = init_project(tmp_path / "project")
    import_paths(project, [samples[0]], samples[1], recursive=True)
    return project


@pytest.fixture
def app(qtbot, project: Project) -> GuiApp:  # type: ignore[no-untyped-def]
    gui = GuiApp(project, window_size=WINDOW)
    qtbot.addWidget(gui.console)
    qtbot.addWidget(gui.window)
    gui.show()
    return gui


def fields(**kw: object) -> PlanFields:
    base: dict[str, object] = {"camera": "sim", "sources": "all", "placement": "1:1", "limit": 3}
    return PlanFields(**{**base, **kw})  # type: ignore[arg-type]


def state_of(project: Project, session_id: str) -> str:
    with SessionStore.open(project) as store:
        return str(store.state(session_id))


def session_count(project: Project) -> int:
    with SessionStore.open(project) as store:
        return len(store.list_sessions())


def test_a_session_from_the_console_keeps_all_previews_on_one_item(app: GuiApp) -> None:
    rec = asyncio.run(app.start(fields(camera="sim?preset=none")))
    assert rec is not None and rec.clean and rec.verified == 3
    console = app.console
    sid = console.session_id
    assert sid is not None and console.header.text() == f"Session {sid} · finished · 3 / 3 verified"
    assert console.banner.isVisible() and f"rig export {sid}" in console.banner.text()
    assert console.start_button.isEnabled() and not console.stop_button.isEnabled()
    # The previews show the last verdict, and all three come from that item and attempt.
    idx, attempt = console.previews.shown or (-1, -1)
    db = app.project.db()
    try:
        photo_sha, aligned_sha, truth_sha = db.execute(
            "SELECT c.photo_sha256, r.aligned_sha256, f.object_sha256 FROM captures c "
            "JOIN registrations r ON r.capture_id = c.id JOIN items i "
            "ON i.session_id = c.session_id AND i.idx = c.idx JOIN frames f ON f.id = i.frame_id "
            "WHERE c.session_id = ? AND c.idx = ? AND c.attempt = ?",
            [sid, idx, attempt],
        ).fetchone()
    finally:
        db.close()

    def decode(sha: str) -> np.ndarray:
        return cv2.imdecode(np.frombuffer(app.project.objects.get(sha), np.uint8), -1)

    assert np.array_equal(console.previews.photo_view.image, decode(photo_sha))
    assert np.array_equal(console.previews.truth_view.image, decode(truth_sha))
    aligned, truth = decode(aligned_sha), decode(truth_sha)
    assert np.array_equal(console.previews.overlay_view.image, _board(aligned, truth))
    log = console.log.toPlainText()
    assert f"Session {sid} started with 3 items." in log and "The phone paired from" in log
    assert log.count("The phone paired from 127.0.0.1:") == 1  # PhonePaired, told once
    assert "{" not in log and "kind" not in log
    assert [r.state for r in console.sessions.rows if r.id == sid] == ["finished"]
    assert not app.display.waiting_for_phone and not app.console.pairing_shown


def _board(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from rig.gui.previews import checkerboard

    return checkerboard(a, b)


def test_a_camera_that_does_not_open_is_a_banner_and_leaves_no_session(app: GuiApp) -> None:
    assert asyncio.run(app.start(fields(camera="usb:99"))) is None
    console = app.console
    sid = console.session_id
    assert sid is not None
    assert console.banner.isVisible() and "COULD NOT START" in console.banner.text()
    assert "/dev/video99" in console.banner.text() and "nothing was stored" in console.banner.text()
    assert "COULD NOT START" in console.log.toPlainText()
    assert console.start_button.isEnabled()  # offered again, with the banner saying why
    assert catalog.session_record(app.project, sid) is None  # it never ran: no trace
    assert session_count(app.project) == 0 and console.sessions.rows == []


def test_bad_choices_are_refused_before_anything_is_stored(app: GuiApp) -> None:
    for bad, words in (
        (fields(sources="label:Nothing=1"), "selects no source"),
        (fields(sources="ids:99"), "no source with id 99"),
        (fields(placement="stretch"), "stretch"),
    ):
        assert asyncio.run(app.start(bad)) is None
        assert (
            words in app.console.banner.text() and "nothing was stored" in app.console.banner.text()
        )
        assert app.console.start_button.isEnabled()
    db = app.project.db()
    try:
        assert db.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0
    finally:
        db.close()


def test_an_image_that_does_not_fit_is_a_banner(tmp_path: Path, qtbot) -> None:  # type: ignore[no-untyped-def]
    project = init_project(tmp_path / "big")
    labels = write_samples(
        tmp_path / "in", n_images=1, seed=1, spec=SampleSpec(rows=900, columns=720)
    )
    import_paths(project, [tmp_path / "in"], labels, recursive=True)
    gui = GuiApp(project, window_size=WINDOW)
    qtbot.addWidget(gui.console)
    qtbot.addWidget(gui.window)
    gui.show()
    rec = asyncio.run(gui.start(fields(limit=None)))
    assert rec is not None and not rec.clean and rec.verified == 0
    text = gui.console.banner.text()
    assert gui.console.banner.isVisible() and "failed" in text and "does not fit" in text
    assert "use placement 'auto'" in text  # the way out is named
    assert gui.console.start_button.isEnabled() and "does not fit" in gui.console.log.toPlainText()
    sid = gui.console.session_id
    assert sid is not None and state_of(project, sid) == "failed"


def test_sessions_panel_resumes_and_aborts(app: GuiApp, qtbot) -> None:  # type: ignore[no-untyped-def]
    from rig.session import service

    sid = service.create(app.project, app.plan_from(fields(camera="sim?preset=none", limit=2)))
    other = service.create(app.project, app.plan_from(fields(camera="sim?preset=none", limit=2)))
    app.refresh()
    panel = app.console.sessions
    panel.select(sid)
    assert panel.resume_button.isEnabled()
    rec = asyncio.run(app.run_session(sid))
    assert rec is not None and rec.verified == 2
    panel.select(sid)
    assert not panel.resume_button.isEnabled() and not panel.abort_button.isEnabled()
    panel.select(other)
    panel.abort_button.click()
    assert state_of(app.project, other) == "planned"  # the first click only asks
    assert panel.abort_button.text() == f"Confirm abort {other}"
    panel.abort_button.click()
    assert state_of(app.project, other) == "aborted"
    panel.select(other)
    assert not panel.resume_button.isEnabled()
    assert "aborted" in app.console.banner.text()


def test_pickers_list_what_exists(project: Project) -> None:
    db = project.db()
    try:
        choices = catalog.source_choices(db)
        for choice in choices:  # every count is what the plan's own query selects
            n = len(select_sources(db, choice.value))
            assert choice.label.endswith(f"— {n} image" + ("" if n == 1 else "s"))
    finally:
        db.close()
    assert [c.value for c in choices][:1] == ["all"] and any(
        c.value.startswith("label:") for c in choices
    )
    found = [
        {"url": "usb:/dev/video0", "name": "HD Webcam", "capture_node": True},
        {"url": "usb:/dev/video1", "name": "HD Webcam", "capture_node": False},
        {"url": "gphoto:?port=usb:001,004", "model": "Canon EOS 80D"},
    ]
    cameras = [c.value for c in catalog.camera_choices(found, catalog.preset_names())]
    assert cameras[:4] == ["sim", "phone", "usb:/dev/video0", "gphoto:?port=usb:001,004"]
    assert "usb:/dev/video1" not in cameras and "sim:tripod-ideal" in cameras
    assert "1:1" in catalog.placements() and "fit" in catalog.placements()


def test_plan_form_values(app: GuiApp) -> None:
    form = app.console.plan_form
    form.camera.setCurrentIndex(1)
    form.camera.activated.emit(1)
    assert form.fields().camera == "phone" and not form.preset.isEnabled()
    form.camera.setEditText("sim")
    form.preset.setCurrentText("dim-room")
    assert form.fields().camera == "sim?preset=dim-room"
    assert (
        camera_with_preset("sim?faults=loss=0.1", "dim-room")
        == "sim?faults=loss=0.1&preset=dim-room"
    )
    assert camera_with_preset("sim?preset=x", "dim-room") == "sim?preset=x"
    assert camera_with_preset("usb:0", "dim-room") == "usb:0"


def test_window_size_is_checked(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_window_size("1280x800") == (1280, 800)
    for bad in ("big", "1280", "10x10"):
        with pytest.raises(UsageError):
            parse_window_size(bad)
    assert main(["gui", "--windowed", "huge"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "rig: error: --windowed 'huge': write WIDTHxHEIGHT in pixels, e.g. 1280x800"


async def _until(condition: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    """Yield to the loop until ``condition`` holds (the session runs on this loop)."""
    try:
        async with asyncio.timeout(timeout_s):
            while not condition():
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def test_stop_while_waiting_for_the_phone_and_closing_the_console(app: GuiApp) -> None:
    async def scenario() -> object:
        task = asyncio.ensure_future(app.start(fields(camera="phone")))
        await _until(lambda: app.display.waiting_for_phone, "the QR code")
        assert app.window.pairing_shown and app.console.pairing_shown
        assert "waiting for the phone to pair" in app.console.header.text()
        app.console.close()  # closing the console stops the session safely
        return await task

    assert asyncio.run(scenario()) is None
    sid = app.console.session_id
    assert sid is not None and state_of(app.project, sid) == "paused"
    record = catalog.session_record(app.project, sid)
    assert record is not None and record.reason == STOPPED_BY_OPERATOR
    assert "STOPPED before the phone paired" in app.console.banner.text()
    assert f"rig session resume {sid}" in app.console.banner.text()
    assert not app.window.pairing_shown and not app.display.waiting_for_phone
    with SessionStore.open(app.project) as store:
        assert store.captures(sid) == []  # nothing was shot
    row = next(r for r in app.console.sessions.rows if r.id == sid)
    assert catalog.can_resume(row) and catalog.can_abort(row)
