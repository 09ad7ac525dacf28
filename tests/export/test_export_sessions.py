"""Which sessions an export holds by default, empty splits, and split fractions on the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from export_records import record_session

from rig.cli import main
from rig.export.run import ExportOptions, export
from rig.library.importer import import_paths
from rig.library.samples import SampleSpec, write_samples
from rig.project import Project, init_project


@pytest.fixture(scope="module")
def mixed_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, dict[str, str]]:
    """A finished (resumed) capture session, a QA replay of it, a failed and a running one."""
    root = tmp_path_factory.mktemp("mixed")
    labels = write_samples(root / "in", n_images=8, seed=9, spec=SampleSpec(rows=64, columns=56))
    project = init_project(root / "project")
    ids = import_paths(project, [root / "in"], labels_csv=labels, recursive=True).to_dict()[
        "source_ids"
    ]
    finished = record_session(project, ids[:4], 1)
    sessions = {
        "finished": finished,
        "replay": record_session(project, ids[:4], 2, replay_of=finished),
        "failed": record_session(project, ids[4:], 3, ending="failed"),
        "running": record_session(project, ids[4:], 4, ending="running"),
    }
    return project, sessions


def _sessions_in(folder: Path) -> set[str]:
    with (folder / "manifest.csv").open() as handle:
        return {row["session"] for row in csv.DictReader(handle)}


def test_default_export_holds_finished_capture_sessions_only(
    mixed_project: tuple[Project, dict[str, str]], tmp_path: Path
) -> None:
    project, sessions = mixed_project
    card = export(project, ExportOptions(tmp_path / "d", "folders"))
    assert _sessions_in(tmp_path / "d") == {sessions["finished"]}
    skipped = " ".join(card["skipped_sessions"])
    for kind in ("replay", "failed", "running"):
        assert sessions[kind] in skipped
    assert any("left out 3 session(s)" in w for w in card["warnings"])


def test_include_replays_and_named_sessions(
    mixed_project: tuple[Project, dict[str, str]], tmp_path: Path
) -> None:
    project, sessions = mixed_project
    export(project, ExportOptions(tmp_path / "r", "folders", include_replays=True))
    assert _sessions_in(tmp_path / "r") == {sessions["finished"], sessions["replay"]}
    p = ["-p", str(project.root)]
    named = f"{sessions['failed']},{sessions['replay']}"
    assert (
        main(["export", "-o", str(tmp_path / "n"), "--format", "folders", "--sessions", named, *p])
        == 0
    )
    assert _sessions_in(tmp_path / "n") == {sessions["failed"], sessions["replay"]}


def test_empty_split_gets_a_header_only_csv_and_a_warning(
    mixed_project: tuple[Project, dict[str, str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project, _ = mixed_project
    # Fewer patients with verified pairs in the finished session (4 items) than 5
    # splits: some split must stay empty, and its CSV is still written.
    out = tmp_path / "c"
    split = "train=0.2,valid=0.2,test=0.2,extra=0.2,more=0.2"
    code = main(["export", "-o", str(out), "--split", split, "--json", "-p", str(project.root)])
    assert code == 0
    card = json.loads(capsys.readouterr().out)
    empty = [s for s, v in card["split_sizes"].items() if v["pairs"] == 0]
    assert 1 <= card["counts"]["patients"] <= 4
    assert len(empty) == 5 - card["counts"]["patients"]
    assert set(card["split_sizes"]) == {"train", "valid", "test", "extra", "more"}
    with (out / f"{empty[0]}.csv").open() as handle:
        lines = handle.read().splitlines()
    with (out / "train.csv").open() as handle:
        header = handle.readline().strip()
    assert lines == [header] and header.startswith("Path,GroundTruthPath,Patient,Study")
    assert any(f"split '{empty[0]}' is empty" in w for w in card["warnings"])
    assert "Warnings" in (out / "dataset.md").read_text()


@pytest.mark.parametrize("split", ["train=0.5,valid=0.6", "train=0.8,valid=0.1"])
def test_fractions_not_adding_up_to_one_exit_2_with_one_line(
    mixed_project: tuple[Project, dict[str, str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    split: str,
) -> None:
    project, _ = mixed_project
    code = main(["export", "-o", str(tmp_path / "x"), "--split", split, "-p", str(project.root)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "add up to" in err
    assert not (tmp_path / "x").exists()


def test_nothing_finished_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path
    labels = write_samples(root / "in", n_images=2, seed=4, spec=SampleSpec(rows=48, columns=40))
    project = init_project(root / "p")
    ids = import_paths(project, [root / "in"], labels_csv=labels, recursive=True).to_dict()[
        "source_ids"
    ]
    record_session(project, ids, 1, ending="failed")
    assert main(["export", "-o", str(tmp_path / "o"), "-p", str(project.root)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no finished capture session" in err
