"""The real-like corpus looks like hospital exports, renders like DCMTK, and is reproducible."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

import rig
from rig.imaging.render import render_path
from rig.library.corpus import CORPUS, FAKE_NAME, public_files, write_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    files = write_corpus(tmp_path_factory.mktemp("corpus"), seed=3)
    return {f.name: f.path for f in files}


def test_every_entry_is_written_and_renders(corpus: dict[str, Path]) -> None:
    assert set(corpus) == set(CORPUS) and len(corpus) >= 12
    modalities = {CORPUS[name][1] for name in corpus}
    assert {"CR", "DX", "US", "CT", "MR", "JPEG"} <= modalities
    for path in corpus.values():
        assert render_path(path).pixels.dtype == np.uint8


def test_radiographs_are_real_sized_deep_and_collimated(corpus: dict[str, Path]) -> None:
    cr = pydicom.dcmread(corpus["cr_chest_2k_2k5_mono1"])
    assert (cr.Columns, cr.Rows, cr.PhotometricInterpretation) == (2000, 2500, "MONOCHROME1")
    cr15 = pydicom.dcmread(corpus["cr_chest_mono1_15bit"])
    assert (cr15.Columns, cr15.Rows, cr15.BitsStored) == (1841, 1955, 15)
    assert int(cr15.pixel_array.max()) > 1 << 14  # the 15th bit is used
    for name in ("cr_chest_2k_2k5_mono1", "cr_chest_mono1_15bit", "cr_knee_3k_mono1"):
        shown = render_path(corpus[name]).pixels
        # White collimation surround (MONOCHROME1 low values shown white) along the border:
        # a wide flat region that carries no information.
        edge = np.concatenate([shown[:40].ravel(), shown[-40:].ravel()])
        assert (edge >= 250).mean() > 0.5, name
    shutter = render_path(corpus["dx_chest_black_shutter"]).pixels
    assert (shutter[:30] == 0).mean() > 0.5  # black shutter


def test_laterality_marker_is_burned_in(corpus: dict[str, Path]) -> None:
    shown = render_path(corpus["cr_chest_mono1_15bit"]).pixels
    h, w = shown.shape
    corner = shown[int(0.02 * h) : int(0.2 * h), int(0.05 * w) : int(0.3 * w)]
    assert (corner >= 250).mean() > 0.02 and (corner < 200).mean() > 0.2  # letter on anatomy


def test_ultrasound_has_black_surround_sector_text_and_colour(corpus: dict[str, Path]) -> None:
    grey = render_path(corpus["us_sector_grey"]).pixels
    assert grey.shape == (600, 800)
    assert (grey[:, :30] == 0).mean() > 0.8 or (grey[-40:] == 0).mean() > 0.5  # black surround
    assert (grey[:40] > 200).any()  # text overlay in the top band
    palette = pydicom.dcmread(corpus["us_palette"])
    assert palette.PhotometricInterpretation == "PALETTE COLOR"
    rgb = render_path(corpus["us_palette"]).pixels
    assert rgb.ndim == 3 and (np.ptp(rgb.astype(int), axis=2) > 60).any()  # Doppler colour
    assert pydicom.dcmread(corpus["us_rgb"]).PhotometricInterpretation == "RGB"


def test_ct_and_mr_carry_their_real_world_attributes(corpus: dict[str, Path]) -> None:
    ct = pydicom.dcmread(corpus["ct_abdomen"])
    assert (ct.PixelRepresentation, ct.PixelPaddingValue, ct.RescaleIntercept) == (1, -2000, -1024)
    assert render_path(corpus["ct_abdomen"]).pixels[0, 0] == 0  # padding shown black
    mr = pydicom.dcmread(corpus["mr_float_slope"])
    assert (str(mr.RescaleSlope), str(mr.RescaleIntercept)) == ("3.774114", "0.000061")
    assert render_path(corpus["chest_jpeg"]).pixels.shape == (1031, 1245)


def test_same_seed_same_files(corpus: dict[str, Path], tmp_path: Path) -> None:
    again = write_corpus(tmp_path, seed=3, names=["us_rgb", "ct_abdomen", "chest_jpeg"])
    for item in again:
        assert item.path.read_bytes() == corpus[item.name].read_bytes(), item.name
    other = write_corpus(tmp_path / "other", seed=4, names=["ct_abdomen"])[0]
    assert other.path.read_bytes() != corpus["ct_abdomen"].read_bytes()


def test_identifiers_are_fictitious(corpus: dict[str, Path]) -> None:
    for name, path in corpus.items():
        if path.suffix == ".dcm":
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            assert str(ds.PatientName).startswith(FAKE_NAME), name


def test_public_files_come_from_installed_packages() -> None:
    found = public_files()
    assert any(f.origin == "pydicom" for f in found)  # pydicom itself is a dependency
    for item in found:
        assert item.path.is_file()
        # nothing bundled by rig: every file lives in an installed package (site-packages,
        # which may sit inside the checkout as .venv/), never in rig's own tree
        assert Path(rig.__file__).parent not in item.path.parents
        assert "site-packages" in item.path.parts or "dist-packages" in item.path.parts
