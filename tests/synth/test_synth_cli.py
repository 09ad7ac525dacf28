"""``rig synth`` end to end on a small generated CheXpert-style tree."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from synth_dots import dot_grid, draw_dots, find_dots, max_match_error, project

from rig.cli import main

GOOD = [
    "CheXpert-v1.0/train/case001/study1/view1_frontal.jpg",
    "CheXpert-v1.0/train/case002/study1/view1_frontal.jpg",
    "CheXpert-v1.0/valid/case003/study2/view2_lateral.png",
]
CORRUPT = "CheXpert-v1.0/train/case004/study1/view1_frontal.jpg"


def _xray(seed: int, h: int = 160, w: int = 136) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    body = 140 * np.exp(-((xx - w / 2) ** 2 / (w * 12) + (yy - h / 2) ** 2 / (h * 20)))
    return np.clip(40 + body + rng.normal(0, 6, (h, w)), 0, 255).astype(np.uint8)


def _write_csv(path: Path, rows: list[str], columns: tuple[str, ...] = ("Path", "Sex", "Edema")):
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for i, p in enumerate(rows):
            writer.writerow(
                [p, "Female" if i % 2 else "Male", "1.0" if i % 3 else ""][: len(columns)]
            )


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "data"
    for i, rel in enumerate(GOOD):
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_xray(i)).save(target)
    bad = root / CORRUPT
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    csv_path = tmp_path / "valid.csv"
    _write_csv(csv_path, GOOD)
    return root, csv_path


def _run(args: list[str]) -> int:
    return main(["synth", *[str(a) for a in args]])


def _tree_bytes(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_writes_tree_csv_and_sidecars_keeping_grayscale(tree, tmp_path, capsys) -> None:
    root, csv_path = tree
    out = tmp_path / "out"
    code = _run(
        [
            "--csv",
            csv_path,
            "--root",
            root,
            "-t",
            "tilt",
            "-t",
            "moire",
            "--level",
            "2",
            "-o",
            out,
            "--workers",
            "1",
            "--json",
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["written"] == 3 and summary["skipped"] == []
    level_dir = out / "tilt" / "moire" / "level_2"
    with (level_dir / "valid.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["Path"] for r in rows] == [f"tilt/moire/level_2/{p}" for p in GOOD]
    assert [r["Sex"] for r in rows] == ["Male", "Female", "Male"]  # other columns kept
    for rel in GOOD:
        img = Image.open(out / "tilt/moire/level_2" / rel)
        assert img.mode == "L" and img.size == (136, 160)
        sidecar = json.loads(
            (out / "tilt/moire/level_2" / rel).with_suffix(".geometry.json").read_text()
        )
        assert sidecar["transforms"] == ["tilt", "moire"] and sidecar["level"] == 2
        assert sidecar["input_size_wh"] == [136, 160] and len(sidecar["steps"]) == 2
        assert np.asarray(sidecar["H"]).shape == (3, 3)


def test_corrupt_file_is_reported_and_skipped(tree, tmp_path, capsys) -> None:
    root, csv_path = tree
    _write_csv(csv_path, [*GOOD, CORRUPT])
    out = tmp_path / "out"
    code = _run(
        [
            "--csv",
            csv_path,
            "--root",
            root,
            "-t",
            "blur",
            "--level",
            "1",
            "-o",
            out,
            "--workers",
            "2",
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("skipped ")]
    assert len(lines) == 1 and CORRUPT in lines[0] and "image" in lines[0]
    with (out / "blur/level_1/valid.csv").open() as fh:
        assert len(list(csv.DictReader(fh))) == 3
    assert not (out / "blur/level_1" / CORRUPT).exists()


def test_sixteen_bit_input_is_rejected_with_a_reason(tree, tmp_path, capsys) -> None:
    root, csv_path = tree
    deep = "CheXpert-v1.0/train/case005/study1/view1_frontal.png"
    Image.fromarray(np.full((40, 40), 4000, np.uint16)).save(root / "deep.png")
    (root / deep).parent.mkdir(parents=True)
    (root / "deep.png").rename(root / deep)
    _write_csv(csv_path, [deep])
    code = _run(
        [
            "--csv",
            csv_path,
            "--root",
            root,
            "-t",
            "blur",
            "--level",
            "1",
            "-o",
            tmp_path / "o",
            "--workers",
            "1",
            "--json",
        ]
    )
    assert code == 1
    skipped = json.loads(capsys.readouterr().out)["skipped"]
    assert skipped[0]["path"] == deep and "8-bit" in skipped[0]["reason"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["-t", "sepia", "--level", "1"], "glare_matte"),  # lists the valid names
        (["-t", "blur", "--level", "5"], "level 5"),
        (["-t", "blur", "-t", "tilt", "-t", "moire", "-t", "motion", "--level", "1"], "1 to 3"),
        (["-t", "blur", "--level", "1", "--workers", "0"], "--workers"),
    ],
)
def test_usage_errors_exit_2(tree, tmp_path, capsys, args, needle) -> None:
    root, csv_path = tree
    code = _run(["--csv", csv_path, "--root", root, *args, "-o", tmp_path / "o"])
    assert code == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_csv_without_path_column_exits_2(tree, tmp_path, capsys) -> None:
    root, _ = tree
    bad_csv = tmp_path / "nopath.csv"
    _write_csv(bad_csv, GOOD, columns=("Image", "Sex", "Edema"))
    code = _run(["--csv", bad_csv, "--root", root, "-t", "blur", "--level", "1", "-o", tmp_path])
    assert code == 2
    assert "'Path'" in capsys.readouterr().err


def test_outputs_do_not_depend_on_worker_count(tree, tmp_path) -> None:
    root, csv_path = tree
    trees = []
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        args = [
            "--csv",
            csv_path,
            "--root",
            root,
            "-t",
            "random-digital",
            "-t",
            "glare_glossy",
            "-t",
            "rotation",
            "--level",
            "3",
            "-o",
            out,
            "--seed",
            "11",
            "--workers",
            str(workers),
        ]
        assert _run(args) == 0
        trees.append(_tree_bytes(out))
    assert trees[0] == trees[1]
    assert len(trees[0]) == 2 * len(GOOD) + 1  # images, sidecars, csv


def test_seed_changes_the_draws_and_repeats_exactly(tree, tmp_path) -> None:
    root, csv_path = tree
    runs = {}
    for tag, seed in (("a", 1), ("b", 1), ("c", 2)):
        out = tmp_path / tag
        args = [
            "--csv",
            csv_path,
            "--root",
            root,
            "-t",
            "tilt",
            "--level",
            "4",
            "-o",
            out,
            "--seed",
            str(seed),
            "--workers",
            "1",
        ]
        assert _run(args) == 0
        runs[tag] = _tree_bytes(out)
    assert runs["a"] == runs["b"]
    assert runs["a"] != runs["c"]


def test_sidecar_h_locates_dots_in_the_written_file(tmp_path) -> None:
    # Oracle: dots found in the PNG the CLI wrote, against the sidecar's H.
    root = tmp_path / "data"
    root.mkdir()
    w, h = 256, 224
    pts = dot_grid(w, h, step_px=40, margin_px=48, jitter=0.35)
    Image.fromarray(draw_dots(w, h, pts)).save(root / "dots.png")
    csv_path = tmp_path / "dots.csv"
    _write_csv(csv_path, ["dots.png"], columns=("Path",))
    out = tmp_path / "out"
    args = [
        "--csv",
        csv_path,
        "--root",
        root,
        "-t",
        "rotation",
        "-t",
        "tilt",
        "-t",
        "translation",
        "--level",
        "2",
        "-o",
        out,
        "--scale-to-resolution",
        "--workers",
        "1",
    ]
    assert _run(args) == 0
    folder = out / "rotation/tilt/translation/level_2"
    written = np.asarray(Image.open(folder / "dots.png"))
    sidecar = json.loads((folder / "dots.geometry.json").read_text())
    assert sidecar["scale"] == pytest.approx(256 / 2828)
    assert sidecar["output_size_wh"] == [written.shape[1], written.shape[0]]
    found = find_dots(written)
    assert len(found) == len(pts)
    assert max_match_error(project(np.asarray(sidecar["H"]), pts), found) < 0.2
