"""``rig train restore --project P``: a project's verified pairs go straight into training."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from rig.cli import main
from rig.project import Project


def _train(project: Path, run: Path, *extra: str) -> list[str]:
    return ["train", "restore", "--project", str(project), "-o", str(run), "--epochs", "1",
            "--steps", "2", "--patch", "32", "--batch", "2", "--device", "cpu", "--json", *extra]


def test_train_from_project_exports_verified_pairs_into_the_run(
        exported_project: tuple[Project, list[str]], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    project, _sessions = exported_project
    run = tmp_path / "run"
    assert main(_train(project.root, run)) == 0, capsys.readouterr().err
    out, err = capsys.readouterr()
    assert json.loads(out)["epochs_done"] == 1
    assert "exported 24 verified pairs" in err  # 2 finished sessions x 12 items
    with (run / "data" / "manifest.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 24 and {r["split"] for r in rows} <= {"train", "valid", "test"}
    config = json.loads((run / "config.json").read_text())
    assert Path(config["data"]) == run / "data"
    # A resumed run trains on the pairs exported the first time (not a fresh export).
    assert main(_train(project.root, run, "--resume")) == 0
    assert "exported earlier" in capsys.readouterr().err


def test_train_without_data_or_project_says_which_to_give(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RIG_PROJECT", raising=False)
    assert main(["train", "restore", "-o", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--data DIR" in err and "--project P" in err
