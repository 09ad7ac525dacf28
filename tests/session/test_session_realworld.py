"""Real radiographs end to end with default settings on a 1920x1080 screen.

A session over real-like CR (2k x 2.5k MONOCHROME1 with collimation, shown reduced
3x by the default placement), MR (float Rescale Slope), CT and ultrasound verifies
every item with the demo's phone and with a handheld camera, with at most one retake
per item (every preset: tests/bench/test_bench_conformance.py); the export
holds the displayed ground truth, the original and the mapping between them. And the
placement precedence, one level at a time, through the real commands.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import cv2
import pytest

from rig.cli import main
from rig.library.corpus import write_corpus
from rig.library.importer import import_paths
from rig.project import Project, init_project

IMAGES = ("cr_chest_2k_2k5_mono1", "mr_float_slope", "ct_abdomen", "us_palette")


@pytest.fixture(scope="module")
def realworld(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp("realworld")
    write_corpus(root / "in", names=IMAGES)
    project = init_project(root / "project")  # default rig.toml: 1920x1080, placement auto
    report = import_paths(project, [root / "in"], recursive=True)
    assert len(report.to_dict()["source_ids"]) == len(IMAGES)
    return project


def _start(project: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    code = main(["session", "start", "--headless", "--json", "-p", str(project), *args])
    out = capsys.readouterr().out
    assert code == 0, out
    result: dict[str, object] = json.loads(out)
    return result


def _attempts_and_plan(project: Project, session_id: object) -> tuple[list[int], dict[str, object]]:
    with sqlite3.connect(project.db_path) as conn:
        attempts = conn.execute(
            "SELECT count(*) FROM captures WHERE session_id=? GROUP BY idx", [session_id]
        ).fetchall()
        plan = json.loads(
            conn.execute("SELECT plan FROM sessions WHERE id=?", [session_id]).fetchone()[0]
        )
    return [n for (n,) in attempts], plan


# Every preset photographs these images in tests/bench/test_bench_conformance.py (the
# same compose -> camera -> verify path without the runner); here the whole session
# runs with the demo's phone and with the hardest pose.
def test_default_session_with_a_handheld_camera_verifies_every_item(
    realworld: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    result = _start(realworld.root, capsys, "--camera", "sim:handheld-offangle")
    assert result["verified"] == result["items"] == len(IMAGES) and result["clean"], result
    attempts, plan = _attempts_and_plan(realworld, result["id"])
    assert all(n <= 2 for n in attempts), attempts  # at most one retake per item
    assert (plan["placement"], plan["screen_width"], plan["screen_height"]) == ("auto", 1920, 1080)


def test_default_session_exports_the_displayed_truth_the_original_and_the_mapping(
    realworld: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = _start(realworld.root, capsys, "--camera", "sim:paper-lcd-iphone")
    assert session["verified"] == session["items"] == len(IMAGES) and session["clean"], session
    attempts, _ = _attempts_and_plan(realworld, session["id"])
    assert all(n <= 2 for n in attempts), attempts
    out = tmp_path / "export"
    args = ["export", str(session["id"]), "-o", str(out), "--format", "folders"]
    assert main([*args, "-p", str(realworld.root)]) == 0
    with (out / "manifest.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    reduced = [r for r in rows if r["gt_reduction"] == "3"]
    assert len(reduced) == 1, rows  # the 2000x2500 CR; the others are shown 1:1
    row = reduced[0]
    assert (row["source_width"], row["source_height"]) == ("2000", "2500")
    assert (row["gt_width"], row["gt_height"]) == ("667", "834")
    truth = cv2.imread(str(out / row["ground_truth"]), cv2.IMREAD_UNCHANGED)
    aligned = cv2.imread(str(out / row["aligned"]), cv2.IMREAD_UNCHANGED)
    original = cv2.imread(str(out / row["ground_truth_original"]), cv2.IMREAD_UNCHANGED)
    assert truth.shape == aligned.shape[:2] == (834, 667)  # the pair is what was displayed
    assert original.shape == (2500, 2000)
    for other in (r for r in rows if r is not row):
        assert other["gt_reduction"] == "1" and other["ground_truth_original"] == ""


def _jpeg_project(root: Path, toml_placement: str | None) -> Path:
    write_corpus(root / "in", names=("chest_jpeg",))  # 1245x1031: larger than the free area
    project = init_project(root / "project")
    if toml_placement is not None:
        config = project.root / "rig.toml"
        text = config.read_text().replace('placement = "auto"', f'placement = "{toml_placement}"')
        config.write_text(text)
    import_paths(project, [root / "in"])
    return project.root


def _stored_placement(project: Path, session_id: object) -> tuple[str, dict[str, object]]:
    with sqlite3.connect(project / "rig.db") as conn:
        plan = json.loads(
            conn.execute("SELECT plan FROM sessions WHERE id=?", [session_id]).fetchone()[0]
        )
        facts = conn.execute(
            "SELECT f.facts FROM items i JOIN frames f ON f.id = i.frame_id WHERE i.session_id=?",
            [session_id],
        ).fetchone()[0]
    return plan["placement"], json.loads(facts).get("display", {})


# (rig.toml, plan file, --placement) -> the placement that must be used
LEVELS = {
    "default": (None, None, None, "auto"),
    "rig.toml": ("fit", None, None, "fit"),
    "plan": ("fit", "integer", None, "integer"),
    "command line": ("1:1", "integer", "fit", "fit"),
}


@pytest.mark.parametrize("level", sorted(LEVELS))
def test_placement_precedence_through_session_start(
    level: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    toml, plan, option, expected = LEVELS[level]
    project = _jpeg_project(tmp_path, toml)
    args = ["--camera", "sim:tripod-ideal"]
    if plan is not None:
        (tmp_path / "plan.toml").write_text(f'placement = "{plan}"\n')
        args += ["--plan", str(tmp_path / "plan.toml")]
    if option is not None:
        args += ["--placement", option]
    result = _start(project, capsys, *args)
    assert result["verified"] == 1
    used, display = _stored_placement(project, result["id"])
    assert used == expected
    assert display["mode"] == ("integer" if expected == "auto" else expected)
    assert display["reduction"] == (1 if expected == "fit" else 2)


def test_compose_follows_the_same_precedence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _jpeg_project(tmp_path, "fit")
    src = str(tmp_path / "in" / "chest_jpeg.jpg")
    base = ["compose", src, "-o", str(tmp_path / "s.png"), "--screen", "1920x1080", "--json"]
    for extra, mode in (([], "integer"), (["-p", str(project)], "fit")):
        assert main([*base, *extra]) == 0
        assert json.loads(capsys.readouterr().out)["placement"]["mode"] == mode
    assert main([*base, "-p", str(project), "--placement", "integer"]) == 0
    assert json.loads(capsys.readouterr().out)["placement"]["reduction"] == 2
    assert main([*base, "--placement", "2:1"]) == 2
    assert "--placement '2:1'" in capsys.readouterr().err


def test_unknown_placement_in_rig_toml_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _jpeg_project(tmp_path, "fitt")
    assert main(["session", "list", "-p", str(project)]) != 0
    err = capsys.readouterr().err
    assert "rig.toml" in err and "placement 'fitt'" in err and len(err.strip().splitlines()) == 1
