"""``rig export``: layouts, patient-level splits, only verified pairs, cards, no PHI."""

from __future__ import annotations

import csv
import hashlib
import json
import tarfile
from pathlib import Path

import pytest

from rig.cli import main
from rig.export.run import ExportOptions, export
from rig.project import Project


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_chexphoto_layout(exported_project: tuple[Project, list[str]], out_dir: Path) -> None:
    project, _ = exported_project
    card = export(project, ExportOptions(out_dir, "chexphoto"))
    rows = {split: read_csv(out_dir / f"{split}.csv") for split in ("train", "valid", "test")}
    all_rows = [r for rs in rows.values() for r in rs]
    # 2 finished sessions × 12 items, each verified once: 24 verified pairs.
    assert len(all_rows) == card["counts"]["pairs"] == 24
    for row in all_rows:
        assert (out_dir / row["Path"]).is_file() and (out_dir / row["GroundTruthPath"]).is_file()
        assert row["Path"].startswith(row["split"] + "/" + row["Patient"] + "/" + row["Study"])
        assert {"Cardiomegaly", "No Finding", "cond_room_light", "cond_distance_mm"} <= set(row)
    patients = {split: {r["Patient"] for r in rs} for split, rs in rows.items()}
    assert not (
        patients["train"] & patients["valid"]
        or patients["train"] & patients["test"]
        or patients["valid"] & patients["test"]
    )
    # Only the verified attempt of item 0 is exported, never the rejected one.
    item0 = [r for r in all_rows if r["item"] == "0"]
    assert sorted(r["attempt"] for r in item0) == ["2", "2"]


def test_folders_layout_and_unverified(
    exported_project: tuple[Project, list[str]], tmp_path: Path
) -> None:
    project, sessions = exported_project
    export(project, ExportOptions(tmp_path / "a", "folders", sessions=(sessions[0],)))
    rows = read_csv(tmp_path / "a" / "manifest.csv")
    assert len(rows) == 12
    for row in rows:
        for column in ("photo", "ground_truth", "aligned", "mask"):
            assert (tmp_path / "a" / row[column]).is_file()
    export(
        project,
        ExportOptions(tmp_path / "b", "folders", sessions=(sessions[0],), include_unverified=True),
    )
    assert len(read_csv(tmp_path / "b" / "manifest.csv")) == 14  # + the two rejected photos


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(path.relative_to(folder).as_posix().encode() + path.read_bytes())
    return h.hexdigest()


def test_webdataset_is_reproducible(
    exported_project: tuple[Project, list[str]], tmp_path: Path
) -> None:
    project, _ = exported_project
    export(project, ExportOptions(tmp_path / "w1", "webdataset", seed=3))
    export(project, ExportOptions(tmp_path / "w2", "webdataset", seed=3))
    assert _digest(tmp_path / "w1") == _digest(tmp_path / "w2")
    shards = sorted((tmp_path / "w1" / "shards").glob("*.tar"))
    names = []
    for shard in shards:
        with tarfile.open(shard) as tar:
            names += [m.name for m in tar.getmembers()]
    keys = {n.split(".")[0] for n in names}
    assert len(keys) == 24
    assert all(f"{k}.json" in names and f"{k}.jpg" in names for k in keys)


def test_split_is_stored_and_kept(
    exported_project: tuple[Project, list[str]], tmp_path: Path
) -> None:
    project, sessions = exported_project
    export(project, ExportOptions(tmp_path / "one", "folders", seed=11, sessions=(sessions[0],)))
    first = {r["patient"]: r["split"] for r in read_csv(tmp_path / "one" / "manifest.csv")}
    export(project, ExportOptions(tmp_path / "all", "folders", seed=11))
    later = {r["patient"]: r["split"] for r in read_csv(tmp_path / "all" / "manifest.csv")}
    assert {p: later[p] for p in first} == first
    assert len(later) > len(first)


def test_no_phi_in_export(exported_project: tuple[Project, list[str]], out_dir: Path) -> None:
    project, _ = exported_project
    export(project, ExportOptions(out_dir, "chexphoto"))
    for path in out_dir.rglob("*"):
        assert "RIGSAMPLE" not in path.name and "patient0" not in path.as_posix()
        if path.is_file():
            assert b"RIGSAMPLE" not in path.read_bytes()
    card = json.loads((out_dir / "dataset.json").read_text())
    assert card["counts"]["patients"] == sum(v["patients"] for v in card["split_sizes"].values())
    assert (out_dir / "dataset.md").read_text().startswith("# Dataset card")


def test_cli_errors(
    exported_project: tuple[Project, list[str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project, _ = exported_project
    p = ["-p", str(project.root)]
    assert main(["export", "-o", str(tmp_path / "x"), "--split", "train=lots", *p]) == 2
    assert main(["export", "nosuchsession", "-o", str(tmp_path / "x"), *p]) == 2
    assert main(["export", "-o", str(tmp_path / "x"), "--format", "zip", *p]) == 2
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    assert main(["export", "-o", str(tmp_path / "full"), *p]) == 2
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
    err = capsys.readouterr().err
    assert "Traceback" not in err and "train=0.8" in err and "nosuchsession" in err
    assert main(["export", "-o", str(tmp_path / "ok"), "--json", *p]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["pairs"] == 24


@pytest.mark.parametrize("fmt", ["chexphoto", "folders", "webdataset"])
def test_progress_counts_every_pair_once(
    exported_project: tuple[Project, list[str]], tmp_path: Path, fmt: str
) -> None:
    project, _ = exported_project
    seen: list[tuple[int, int]] = []
    card = export(project, ExportOptions(tmp_path / fmt, fmt), lambda d, t: seen.append((d, t)))
    n = card["counts"]["pairs"]
    assert seen[0] == (0, n) and seen[-1] == (n, n)
    assert [d for d, _ in seen] == list(range(n + 1))  # one step per pair, in order
