"""``rig import --burned-in``: burned-in identifiers never reach a frame, a photo or an export.

Images are real DICOM files and PNGs as scanners write them (RGB and palette-colour
ultrasound, RLE-compressed, a MONOCHROME1 CR, a cine loop, text in an overlay
plane). The oracle is Debian's tesseract CLI reading whole pages (tests/library/
ocroracle.py); it is first shown to read every identifier in the originals.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import ocroracle as oracle
import pydicom
import pytest
from pydicom.uid import RLELossless

from rig.cli import main
from rig.export.card import burned_in_summary, privacy_statement
from rig.imaging.render import RenderOptions, render_path
from rig.library import textsamples as T
from rig.library.burnedin import box_mask
from rig.library.frames import ensure_frame
from rig.library.importer import import_paths
from rig.library.ocr import find_tessdata
from rig.library.sources import burned_in_of
from rig.project import Project, init_project

pytestmark = [
    pytest.mark.skipif(find_tessdata() is None, reason="tesseract-ocr-eng is not installed"),
    oracle.needs_tesseract,
]
CAMERA = "sim:tripod-ideal?sensor.width_px=1600&sensor.height_px=1200"


@dataclass(frozen=True)
class Case:
    name: str
    needles: tuple[str, ...]


CASES = (
    Case("us_rgb.dcm", T.US_NEEDLES),
    Case("us_palette_rle.dcm", T.US_NEEDLES),
    Case("cr_mono1.dcm", T.CR_NEEDLES),
    Case("us.png", T.US_NEEDLES),
)


def write_inputs(folder: Path) -> Path:
    """The files scanners make, plus a clean US and a DX that declares no burned-in text."""
    folder.mkdir(parents=True)
    T.us_rgb_dicom(folder / "us_rgb.dcm", T.us_rgb(seed=0))
    palette = T.us_palette_dicom(folder / "palette.dcm", T.us_rgb(seed=1))
    ds = pydicom.dcmread(palette)
    ds.compress(RLELossless)  # masking must rewrite compressed pixel data as native
    ds.save_as(folder / "us_palette_rle.dcm", enforce_file_format=True)
    palette.unlink()
    T.cr_dicom(folder / "cr_mono1.dcm", T.burn_mono(T.cr_monochrome1(800, 640), T.CR_BURNS, True))
    T.png(folder / "us.png", T.us_rgb(seed=2))
    T.us_rgb_dicom(folder / "clean_us.dcm", T.us_rgb(burns=(), seed=3))
    T.cr_dicom(folder / "dx_no.dcm", T.cr_monochrome1(200, 160), burned_in="NO")
    ds = pydicom.dcmread(folder / "dx_no.dcm")
    ds.Modality = "DX"
    ds.save_as(folder / "dx_no.dcm", enforce_file_format=True)
    return folder


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_inputs(tmp_path_factory.mktemp("burned") / "in")


@pytest.fixture(scope="module")
def masked(
    inputs: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Project, dict[str, int]]:
    """A project that imported ``inputs`` with the default (mask); source id by file name."""
    project = init_project(tmp_path_factory.mktemp("masked") / "project")
    ids = {}
    for path in sorted(inputs.iterdir()):
        report = import_paths(project, [path])
        assert not report.skipped, report.skipped
        ids[path.name] = report.to_dict()["source_ids"][0]
    return project, ids


def test_the_oracle_reads_every_identifier_in_the_originals(inputs: Path) -> None:
    for case in CASES:
        shown = render_path(inputs / case.name, RenderOptions()).pixels
        assert oracle.legible(shown, case.needles) == set(case.needles), case.name


def test_no_identifier_is_legible_in_the_stored_frames(masked) -> None:  # type: ignore[no-untyped-def]
    project, ids = masked
    for case in CASES:
        shown = ensure_frame(project, ids[case.name]).pixels
        assert oracle.legible(shown, case.needles) == set(), case.name


def test_masks_show_the_displayed_black_and_are_recorded(masked, inputs: Path) -> None:  # type: ignore[no-untyped-def]
    project, ids = masked
    db = project.db()
    checks = burned_in_of(db)
    db.close()
    for case in CASES:
        check = checks[ids[case.name]]
        assert check["status"] == "masked" and check["engine"].startswith("tesseract")
        boxes = [tuple(b) for b in check["regions"]]
        shown = ensure_frame(project, ids[case.name]).pixels
        original = render_path(inputs / case.name, RenderOptions()).pixels
        inside = box_mask(shown.shape, boxes)
        luma = shown if shown.ndim == 2 else shown.astype(int).sum(axis=-1)
        # the displayed black: the darkest value of the frame (white text became black,
        # MONOCHROME1 and palette included), and nothing outside the boxes changed
        assert (luma[inside] == luma.min()).all(), case.name
        assert luma.min() == 0, case.name
        assert np.array_equal(shown[~inside], original[~inside]), case.name
    assert checks[ids["clean_us.dcm"]]["status"] == "clear"
    assert checks[ids["clean_us.dcm"]]["regions"] == []
    assert checks[ids["dx_no.dcm"]] | {"checked_at": None} == {
        "mode": "mask",
        "at_risk": False,
        "reason": "BurnedInAnnotation NO",
        "status": "not_at_risk",
        "regions": [],
        "engine": None,
        "checked_at": None,
    }
    stored = pydicom.dcmread(
        project.objects.verified_path(_object(project, ids["us_palette_rle.dcm"]))
    )
    assert stored.PhotometricInterpretation == "PALETTE COLOR"  # still a palette image
    assert "rig: burned-in text masked (OCR)" in stored.DeidentificationMethod


def _object(project: Project, source_id: int) -> str:
    db = project.db()
    try:
        row = db.execute(
            "SELECT f.object_sha256 FROM sources s JOIN files f ON f.sha256 = s.file_sha256 "
            "WHERE s.id = ?",
            [source_id],
        ).fetchone()
    finally:
        db.close()
    return str(row[0])


def test_sources_list_shows_the_check(masked, capsys) -> None:  # type: ignore[no-untyped-def]
    project, ids = masked
    assert main(["sources", "list", "--json", "-p", str(project.root)]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)["sources"]}
    assert rows[ids["us_rgb.dcm"]]["burned_in"]["status"] == "masked"
    assert len(rows[ids["us_rgb.dcm"]]["burned_in"]["regions"]) >= 8
    assert rows[ids["clean_us.dcm"]]["burned_in"]["status"] == "clear"

    from rig.cli.common import console

    with console.capture() as captured:
        assert main(["sources", "list", "-p", str(project.root)]) == 0
    table = captured.get()
    assert "masked" in table and "clear" in table


@pytest.mark.slow
def test_an_export_shows_no_identifier_and_its_card_says_what_was_masked(  # type: ignore[no-untyped-def]
    inputs: Path, tmp_path: Path, capsys
) -> None:
    """A real session with the simulated camera, then `rig export`; one source imported
    with --burned-in keep is the control that shows the oracle reads exports."""
    project = init_project(tmp_path / "project")
    p = ["-p", str(project.root)]
    names = ["us_rgb.dcm", "us_palette_rle.dcm", "cr_mono1.dcm", "us.png"]
    assert main(["import", *[str(inputs / n) for n in names], *p]) == 0
    kept = T.us_rgb_dicom(tmp_path / "kept.dcm", T.us_rgb(seed=4))
    assert main(["import", str(kept), "--burned-in", "keep", "--i-accept-burned-in-text", *p]) == 0
    capsys.readouterr()
    assert main(["session", "start", "--camera", CAMERA, "--headless", "--json", *p]) == 0
    assert json.loads(capsys.readouterr().out)["verified"] == 5
    assert main(["export", "-o", str(tmp_path / "out"), "--json", *p]) == 0
    out = tmp_path / "out"
    needles = tuple(sorted(set(T.US_NEEDLES + T.CR_NEEDLES)))
    kept_stem = _item_of_source(project, 5)
    legible_kept: set[str] = set()
    for path in sorted(out.rglob("*")):
        if path.suffix not in (".png", ".jpg"):
            continue
        found = oracle.legible(oracle.load(path), needles, upscale=path.suffix == ".png")
        if kept_stem in path.name:
            legible_kept |= found
        else:
            assert found == set(), f"{path.name}: {sorted(found)} legible"
    assert legible_kept >= {"BAPTIST", "142825", "Philips"}  # the control: exports can show text
    card = json.loads((out / "dataset.json").read_text())
    text = card["burned_in_text"]
    assert text["totals"] | {"regions": 0} == {
        "sources": 5,
        "masked": 4,
        "clear": 0,
        "kept": 1,
        "not_at_risk": 0,
        "unchecked": 0,
        "regions": 0,
    }
    assert text["by_modality"]["US"]["masked"] == 2 and text["by_modality"]["CR"]["masked"] == 1
    assert text["modes"] == {"keep": 1, "mask": 4}
    assert "No patient identifiers" not in card["privacy"]
    assert "1 sources were imported with --burned-in keep and were NOT checked" in card["privacy"]
    assert "| US | 3 | 2 |" in (out / "dataset.md").read_text()


def _item_of_source(project: Project, source_id: int) -> str:
    """The export file stem piece of the item showing ``source_id`` (e.g. '-00004-')."""
    db = project.db()
    try:
        idx = db.execute("SELECT idx FROM items WHERE source_id = ?", [source_id]).fetchone()[0]
    finally:
        db.close()
    return f"-{idx:05d}-"


def test_exclude_drops_images_with_text(inputs: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    project = init_project(tmp_path / "project")
    code = main(
        ["import", str(inputs), "--burned-in", "exclude", "--json", "-p", str(project.root)]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert sorted(Path(p).name for p in report["excluded"]) == sorted(c.name for c in CASES)
    assert report["imported_files"] == 2  # the clean US and the DX that says NO
    assert report["burned_in"]["sources"] == {"clear": 1, "not_at_risk": 1}


def test_keep_needs_an_explicit_flag_and_is_written_into_the_card(  # type: ignore[no-untyped-def]
    inputs: Path, tmp_path: Path, capsys
) -> None:
    project = init_project(tmp_path / "project")
    p = ["-p", str(project.root)]
    assert main(["import", str(inputs / "us_rgb.dcm"), "--burned-in", "keep", *p]) == 2
    assert "--i-accept-burned-in-text" in capsys.readouterr().err
    assert main(["import", str(inputs / "us_rgb.dcm"), "--i-accept-burned-in-text", *p]) == 2
    assert main(["import", str(inputs / "us_rgb.dcm"), "--burned-in", "blur", *p]) == 2
    assert (
        main(["import", str(inputs), "--burned-in", "keep", "--i-accept-burned-in-text", *p]) == 0
    )
    db = project.db()
    try:
        statuses = sorted(c["status"] for c in burned_in_of(db).values())
        summary = burned_in_summary(db, set(burned_in_of(db)))
    finally:
        db.close()
    assert statuses == ["kept"] * 5 + ["not_at_risk"]
    statement = privacy_statement(summary)
    assert "0 of 6 sources were read by OCR" in statement
    assert "5 sources were imported with --burned-in keep and were NOT checked" in statement


def test_without_tesseract_images_at_risk_are_skipped_with_the_fix(
    inputs: Path, tmp_path: Path
) -> None:
    project = init_project(tmp_path / "project")
    env = {**os.environ, "TESSDATA_PREFIX": str(tmp_path / "no-tessdata")}
    run = subprocess.run(
        [sys.executable, "-m", "rig", "import", str(inputs), "--json", "-p", str(project.root)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert run.returncode == 1, run.stderr
    report = json.loads(run.stdout)
    assert report["imported_files"] == 1  # only the DX whose BurnedInAnnotation says NO
    assert len(report["skipped"]) == 5
    for skipped in report["skipped"]:
        assert "apt-get install tesseract-ocr tesseract-ocr-eng" in skipped["reason"]
        assert "\n" not in skipped["reason"]


def test_a_cine_loop_is_masked_in_every_frame(tmp_path: Path) -> None:
    frames = [T.us_rgb(seed=s) for s in range(3)]  # the same text over moving speckle
    path = T.us_cine_dicom(tmp_path / "cine.dcm", frames)
    project = init_project(tmp_path / "project")
    report = import_paths(project, [path])
    ids = report.to_dict()["source_ids"]
    assert len(ids) == 3 and report.text_status == {"masked": 3}
    for source_id in ids:
        shown = ensure_frame(project, source_id).pixels
        assert oracle.legible(shown, T.US_NEEDLES) == set()


def test_text_in_an_overlay_plane_is_cleared(tmp_path: Path) -> None:
    dark_background = 4095 - T.cr_monochrome1(480, 400).astype(np.float32)  # for MONOCHROME2
    stored = np.round(dark_background * 0.5 + 800).astype(np.uint16)
    name = (T.Burn("RICHARDS^ANN", "top-left", 22, ((255, 255, 255), None)),)
    path = T.dx_with_overlay_dicom(tmp_path / "dx.dcm", stored, T.text_bits(stored.shape, name))
    with_overlay = render_path(path, RenderOptions(burn_overlays=True)).pixels
    assert oracle.legible(with_overlay, ("RICHARDS",)) == {"RICHARDS"}
    project = init_project(tmp_path / "project")
    (source_id,) = import_paths(project, [path]).to_dict()["source_ids"]
    stored_path = project.objects.verified_path(_object(project, source_id))
    for overlays in (False, True):
        shown = render_path(stored_path, RenderOptions(burn_overlays=overlays)).pixels
        assert oracle.legible(shown, ("RICHARDS", "ANN")) == set()
