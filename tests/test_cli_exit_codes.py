"""The exit-code table (rig.errors.EXIT_CODES, README "Exit codes"), one real command per code.

Every failure is one line on stderr, ``rig: error: ...``, never a traceback.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from smallfs import needs_root, remount_read_only, tmpfs

from rig.cli import main
from rig.errors import EXIT_CODES
from rig.library.importer import import_paths
from rig.library.samples import SampleSpec, write_samples
from rig.project import Project, init_project

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("samples")
    write_samples(root / "in", n_images=2, seed=3, spec=SampleSpec(rows=200, columns=160))
    return root / "in"


@pytest.fixture
def project(tmp_path: Path, samples: Path) -> Project:
    project = init_project(tmp_path / "project")
    import_paths(project, [samples], None, recursive=True)
    return project


def one_error_line(err: str, *needles: str) -> None:
    lines = [line for line in err.splitlines() if line.startswith("rig: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_the_table_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    documented = {int(m) for m in re.findall(r"^\| (\d+) \|", section, re.M)}
    assert documented == set(EXIT_CODES) == {0, 1, 2, 3, 4, 5, 70, 130}


def test_0_done_and_1_partly_done(
    project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "in"
    (folder / "deeper").mkdir(parents=True)
    cv2.imwrite(str(folder / "ok.png"), np.full((64, 48), 120, np.uint8))
    (folder / "notes.dcm").write_text("a text file, named like a DICOM file\n")
    p = ["-p", str(project.root)]
    assert main(["import", str(folder / "ok.png"), *p]) == 0
    capsys.readouterr()
    assert main(["import", str(folder), *p]) == 1  # a file skipped: partly done
    err = capsys.readouterr().err
    skipped = [line for line in err.splitlines() if "skipped" in line and "notes.dcm" in line]
    assert len(skipped) == 1 and skipped[0].count("notes.dcm") == 1, err  # the path once
    assert "not a DICOM file" in skipped[0]
    assert "1 sub-folders skipped; use -r" in err


def test_2_usage(
    project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    p = ["-p", str(project.root)]
    assert main(["session", "start", "--limit", "0", "--headless", *p]) == 2
    one_error_line(capsys.readouterr().err, "limit must be >= 1")
    assert main(["session", "start", "--camera", "sim?preset=zzz", "--headless", *p]) == 2
    one_error_line(capsys.readouterr().err, "zzz")
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    assert main(["init", str(a_file)]) == 2
    one_error_line(capsys.readouterr().err, "a_file", "is a file")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RIG_PROJECT", raising=False)
    assert main(["sources", "list"]) == 2  # no project here
    one_error_line(capsys.readouterr().err, "no project")


def test_3_rejected_input(
    project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"\0" * 300)
    assert main(["render", str(bad), "-o", str(tmp_path / "x.png")]) == 3  # corrupt file
    one_error_line(capsys.readouterr().err, "bad.dcm")
    labels = tmp_path / "labels.csv"
    labels.write_text("Path,Cardiomegaly\nin/a.png,2\n\"unterminated,1\n")
    code = main(["import", str(bad), "--labels", str(labels), "-p", str(project.root)])
    assert code == 3  # a corrupt label CSV is rejected, not "partly done"
    one_error_line(capsys.readouterr().err, "labels.csv")
    # A photo that does not register: a flat grey "photo" of a frame with fiducials.
    frame, photo = tmp_path / "frame.png", tmp_path / "photo.png"
    noise = np.random.default_rng(0).integers(0, 255, (300, 200), np.uint8)
    cv2.imwrite(str(tmp_path / "src.png"), noise)
    assert main(["compose", str(tmp_path / "src.png"), "-o", str(frame),
                 "--screen", "1920x1080"]) == 0  # fmt: skip
    cv2.imwrite(str(photo), np.full((1080, 1920), 128, np.uint8))
    capsys.readouterr()
    assert main(["register-photo", str(photo), "--frame", str(frame),
                 "-o", str(tmp_path / "aligned.png")]) == 3  # fmt: skip
    assert not (tmp_path / "aligned.png").exists()


def test_4_device(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["session", "start", "--camera", "usb:99", "--headless", "-p", str(project.root)])
    assert code == 4
    one_error_line(capsys.readouterr().err, "usb")
    assert main(["session", "list", "--json", "-p", str(project.root)]) == 0
    assert capsys.readouterr().out.strip() in ("[]", '{\n  "sessions": []\n}')  # no leftover


@needs_root
def test_5_read_only_project(
    tmp_path: Path, samples: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with tmpfs(tmp_path / "fs", 20) as fs:
        project = init_project(fs / "project")
        remount_read_only(fs)
        assert main(["import", str(samples), "-r", "-p", str(project.root)]) == 5
        one_error_line(capsys.readouterr().err, str(project.root), "read-only file system")
        assert main(["init", str(fs / "other")]) == 5
        one_error_line(capsys.readouterr().err, "other", "read-only file system")


def test_70_internal_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """A bug (here: a command of this test's own that divides by zero) is exit 70, one line."""
    from rig.cli import app

    @app.command("zz-test-bug", hidden=True)
    def _bug() -> None:
        print(1 / 0)

    try:
        assert main(["zz-test-bug"]) == 70
        one_error_line(capsys.readouterr().err, "internal error: ZeroDivisionError", "--debug")
    finally:
        app.registered_commands[:] = [c for c in app.registered_commands
                                      if c.name != "zz-test-bug"]  # fmt: skip


def test_130_ctrl_c_pauses_the_session(project: Project) -> None:
    """Ctrl-C while a session waits for its phone: exit 130, the session left resumable."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rig", "session", "start", "--camera", "phone", "--headless",
         "-p", str(project.root)],
        stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert proc.stderr is not None
    try:
        for line in proc.stderr:  # the runner is up once it offers the pairing
            if "rig1://" in line:
                break
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    finally:
        proc.kill()
        proc.wait()
    assert main(["session", "list", "--json", "-p", str(project.root)]) == 0


def test_restore_warns_about_a_photo_that_is_not_registered(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`rig restore` names an input that is none of the project's aligned photos."""
    from rig.cli.ml_cmds import _not_registered

    p = ["-p", str(project.root)]
    camera = "sim:tripod-ideal?sensor.width_px=1600&sensor.height_px=1200"
    assert main(["session", "start", "--camera", camera, "--headless", "--json", *p]) == 0
    assert main(["export", "-o", str(tmp_path / "out"), "--format", "folders", "--json", *p]) == 0
    aligned = sorted((tmp_path / "out" / "aligned").glob("*.png"))
    raw = sorted((tmp_path / "out" / "photos").iterdir())
    assert aligned and raw
    assert _not_registered([*aligned, *raw], project.root) == raw
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RIG_PROJECT", raising=False)
    assert _not_registered(raw, None) == []  # no project: nothing to check against
