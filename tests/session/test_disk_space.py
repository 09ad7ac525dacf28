"""Full and read-only disks, on real small file systems (tmpfs mounted by the test, as root).

A session that cannot fit is refused before its row exists; one that meets a full disk
pauses naming the path and keeps nothing half-written, and resume finishes it once there
is room; a read-only project is one line, exit 5; the upload server answers 507 and logs
no traceback.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from smallfs import needs_root, remount_read_only, tmpfs

from rig.atomic import RESERVE_BYTES, free_bytes
from rig.cli import main
from rig.devices.display import OffscreenDisplay
from rig.errors import DiskFullError, StorageError
from rig.library.importer import import_paths
from rig.project import Project, init_project
from rig.protocol.httpd import HttpServer
from rig.protocol.upload import UploadOutcome, UploadServer, make_meta, upload_photo
from rig.session import events as ev
from rig.session import service
from rig.session.diskspace import MARGIN, estimate
from rig.session.plan import CapturePlan
from rig.session.states import ItemState, SessionState
from rig.session.store import SessionStore

CAMERA = "sim:tripod-ideal?sensor.width_px=800&sensor.height_px=600"
MB = 1 << 20

@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 40 MB tmpfs of the test's own (unmounted whatever happens)."""
    with tmpfs(tmp_path / "fs", 40) as where:
        yield where


def project_on(root: Path, sample_dir: tuple[Path, Path]) -> Project:
    project = init_project(root / "project")
    import_paths(project, [sample_dir[0]], sample_dir[1], recursive=True)
    return project


def fill(path: Path, leave: int) -> None:
    """Another program fills the disk, leaving ``leave`` bytes."""
    with open(path, "wb") as f:
        f.write(b"\0" * max(0, free_bytes(path.parent) - leave))


def states(project: Project) -> list[tuple[str, str, str | None]]:
    with SessionStore.open(project) as store:
        return [(s.id, str(s.state), s.reason) for s in store.list_sessions()]


@needs_root
def test_a_session_that_cannot_fit_is_refused_before_it_exists(
    small_fs: Path, sample_dir: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    project = project_on(small_fs, sample_dir)
    per_item = estimate(CapturePlan(camera=CAMERA)).item_bytes * MARGIN
    fill(small_fs / "filler", leave=RESERVE_BYTES + int(2.5 * per_item))  # room for 2 of 6
    p = ["--camera", CAMERA, "--headless", "-p", str(project.root)]
    assert main(["session", "start", *p]) == 5
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not enough free space for this session's 6 items" in err
    assert str(project.root) in err and "--limit 2" in err and "Traceback" not in err
    assert states(project) == [] and not (project.root / "sessions").exists()


@needs_root
def test_a_full_disk_pauses_the_session_and_resume_finishes_it(
    small_fs: Path, sample_dir: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    project = project_on(small_fs, sample_dir)
    plan = CapturePlan(camera=CAMERA)
    sid = service.create(project, plan)
    filler = small_fs / "filler"
    bus = ev.EventBus()

    def another_program(event: ev.SessionEvent) -> None:
        if isinstance(event, ev.CaptureVerified) and not filler.exists():
            fill(filler, leave=RESERVE_BYTES + estimate(plan).item_bytes // 2)

    bus.subscribe(another_program)
    ctx = service.SessionContext(OffscreenDisplay(latency_ms=0), bus)
    with pytest.raises(DiskFullError) as info:
        asyncio.run(service.run(project, sid, ctx))
    message = info.value.message
    assert "not enough free space for the next item" in message and str(project.root) in message
    [(_, state, reason)] = states(project)
    assert state == str(SessionState.PAUSED) and reason == message
    leftovers = [p for p in project.root.rglob("*.tmp")] + list(project.root.rglob("*.part"))
    assert leftovers == []  # nothing half-written is kept

    # Still full: resume refuses at once, one line, exit 5, the session stays paused.
    assert main(["session", "resume", sid, "-p", str(project.root)]) == 5
    assert "the " in capsys.readouterr().err and states(project)[0][1] == str(SessionState.PAUSED)
    filler.unlink()
    assert main(["session", "resume", sid, "--json", "-p", str(project.root)]) == 0
    capsys.readouterr()
    with SessionStore.open(project) as store:
        assert store.state(sid) == SessionState.FINISHED
        assert store.count_items(sid, ItemState.VERIFIED) == 6


@needs_root
def test_a_read_only_project_is_one_line_exit_5(
    small_fs: Path, sample_dir: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    project = project_on(small_fs, sample_dir)
    remount_read_only(small_fs)
    for args in (["session", "start", "--camera", CAMERA, "--headless"], ["sources", "list"],
                 ["import", str(sample_dir[0]), "-r"]):  # fmt: skip
        assert main([*args, "-p", str(project.root)]) == 5, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "read-only file system" in err, err
        assert str(project.root) in err and "internal error" not in err


@needs_root
@pytest.mark.parametrize(("size_mb", "remount_ro", "why"), [
    (2, False, "disk full"),  # refused before a byte is written
    (40, True, "read-only file system"),  # the write itself fails (EROFS)
])
def test_upload_server_answers_507_and_keeps_no_partial_photo(
    tmp_path: Path, size_mb: int, remount_ro: bool, why: str, capfd: pytest.CaptureFixture[str]
) -> None:
    with tmpfs(tmp_path / "store", size_mb) as store:
        met: list[StorageError] = []
        key, session = os.urandom(32), os.urandom(8)
        server = UploadServer(key, session, store, lambda _r: None, on_storage_error=met.append)
        server.load_existing()
        if remount_ro:
            remount_read_only(store)
        photo = os.urandom(3 * MB)

        async def go() -> UploadOutcome:
            http = HttpServer(server.handle)
            port = await http.start("127.0.0.1", 0)
            try:
                async with aiohttp.ClientSession() as client:
                    meta = make_meta(key, session, 0, 1, photo)
                    return await upload_photo(client, f"http://127.0.0.1:{port}", meta, photo)
            finally:
                await http.close()

        assert asyncio.run(go()) == UploadOutcome.RETRY  # the phone tries again later
        assert server.rejected == {"storage": 1} and len(met) == 1
        assert str(store) in met[0].message and why in met[0].message
        assert list((store / "partial").iterdir()) == [] and list((store / "photos").iterdir()) == []
        assert "Traceback" not in capfd.readouterr().err
