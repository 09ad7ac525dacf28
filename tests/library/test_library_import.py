"""``rig import``: de-identified sources, labels, dedupe, and bad input reported and skipped."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
from PIL import Image, PngImagePlugin
from pydicom.data import get_testdata_file

from rig.cli import main
from rig.library.importer import import_paths
from rig.project import Project


def sources(project: Project) -> list[dict]:
    db = project.db()
    try:
        return list(db.query("SELECT * FROM sources ORDER BY id"))
    finally:
        db.close()


def test_import_samples_with_labels(project: Project, samples: tuple[Path, Path]) -> None:
    images, labels = samples
    report = import_paths(project, [images], labels_csv=labels, recursive=True)
    assert report.skipped == []
    rows = sources(project)
    assert len(rows) == 6
    assert len({r["patient_id"] for r in rows}) == 3  # two studies per patient
    assert len({r["study_id"] for r in rows}) == 6
    assert all(r["modality"] == "DX" and r["bits_stored"] == 12 for r in rows)
    db = project.db()
    n_labels = db.execute("SELECT count(DISTINCT source_id) FROM labels").fetchone()[0]
    assert n_labels == 6
    expected = {row["Path"]: row for row in _csv_rows(labels)}
    for row in db.query(
        "SELECT l.value, s.id FROM labels l JOIN sources s ON s.id = l.source_id "
        "WHERE l.name = 'Cardiomegaly'"
    ):
        assert row["value"] in (0.0, 1.0, -1.0)  # the samples mark borderline cases uncertain
    assert (
        sum(r["Cardiomegaly"] == "1" for r in expected.values())
        == db.execute(
            "SELECT count(*) FROM labels WHERE name='Cardiomegaly' AND value=1"
        ).fetchone()[0]
    )


def _csv_rows(path: Path) -> list[dict[str, str]]:
    import csv

    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_reimport_is_a_no_op(project: Project, samples: tuple[Path, Path]) -> None:
    images, _ = samples
    import_paths(project, [images], recursive=True)
    before = sources(project)
    objects_before = sorted(p.name for p in (project.root / "objects").rglob("*"))
    report = import_paths(project, [images], recursive=True)
    assert report.duplicates == 6 and not report.imported
    assert sources(project) == before
    assert sorted(p.name for p in (project.root / "objects").rglob("*")) == objects_before


def test_no_phi_anywhere_under_the_project(
    project: Project, samples: tuple[Path, Path], scan_tree_for
) -> None:
    images, labels = samples
    ct = Path(get_testdata_file("CT_small.dcm"))  # PatientName CompressedSamples^CT1
    ds = pydicom.dcmread(ct)
    assert "CompressedSamples" in str(ds.PatientName)
    import_paths(project, [images, ct], labels_csv=labels, recursive=True)
    needles = [
        b"RIGSAMPLE",
        b"Fictitious General Hospital",
        b"CompressedSamples",
        str(ds.PatientID).encode(),
        b"ACC0001",
        b"patient00001",
    ]
    project.db().close()
    assert scan_tree_for(project.root, needles) == []
    # The de-identified copy still renders and still says who it is, pseudonymously.
    obj = project.root / "objects"
    copies = [
        pydicom.dcmread(p)
        for p in obj.rglob("*")
        if p.is_file() and p.read_bytes()[128:132] == b"DICM"
    ]
    assert copies and all(c.PatientIdentityRemoved == "YES" for c in copies)
    assert all(str(c.PatientID).startswith("P-") for c in copies)


def test_multiframe_gives_one_source_per_frame(project: Project) -> None:
    path = Path(get_testdata_file("SC_rgb_rle_2frame.dcm"))
    import_paths(project, [path])
    rows = sources(project)
    assert [(r["frame"], r["n_frames"]) for r in rows] == [(0, 2), (1, 2)]


def test_raster_metadata_is_dropped(project: Project, tmp_path: Path, scan_tree_for) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "Patient: JANE^DOE-SECRET")
    gray16 = np.arange(64 * 48, dtype=np.uint16).reshape(48, 64) * 13
    Image.fromarray(gray16).save(tmp_path / "a.png", pnginfo=info)
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[..., 0] = 255
    cv2.imwrite(str(tmp_path / "b.png"), rgb)
    report = import_paths(project, [tmp_path / "a.png", tmp_path / "b.png"])
    assert report.skipped == []
    rows = sources(project)
    assert [(r["bits_stored"], r["samples_per_pixel"]) for r in rows] == [(16, 1), (8, 3)]
    assert scan_tree_for(project.root, [b"JANE^DOE-SECRET"]) == []


def _bad_inputs(folder: Path) -> dict[str, str]:
    good = Path(get_testdata_file("MR_small.dcm"))
    data = good.read_bytes()
    (folder / "truncated.dcm").write_bytes(data[: len(data) - 4000])
    (folder / "garbage.dcm").write_bytes(b"\x00" * 128 + b"DICM" + bytes(range(256)) * 8)
    (folder / "notes.txt").write_text("not an image")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (folder / "empty.dcm").write_bytes(b"")
    shutil.copy(good, folder / "good.dcm")
    return {
        "truncated.dcm": "truncat",
        "garbage.dcm": "",
        "notes.txt": "not an image",
        "broken.png": "corrupt",
        "empty.dcm": "empty",
    }


def test_bad_files_are_reported_and_skipped(project: Project, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    expected = _bad_inputs(folder)
    report = import_paths(project, [folder])
    skipped = {Path(p).name: reason for p, reason in report.skipped}
    assert set(skipped) == set(expected)
    for name, fragment in expected.items():
        assert fragment.lower() in skipped[name].lower(), skipped[name]
        assert "\n" not in skipped[name]
    assert len(sources(project)) == 1  # the good file still made it


def test_cli_import_exit_codes_and_json(
    project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    _bad_inputs(folder)
    code = main(["import", str(folder), "--json", "-p", str(project.root)])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert out["imported_sources"] == 1 and len(out["skipped"]) == 5
    assert main(["import", str(folder / "good.dcm"), "-p", str(project.root)]) == 0
    assert main(["import", str(tmp_path / "missing"), "-p", str(project.root)]) == 2
    err = capsys.readouterr().err
    assert "missing: no such file or folder" in err and "Traceback" not in err
    assert main(["sources", "list", "--json", "-p", str(project.root)]) == 0
    listed = json.loads(capsys.readouterr().out)["sources"]
    assert [s["modality"] for s in listed] == ["MR"]
