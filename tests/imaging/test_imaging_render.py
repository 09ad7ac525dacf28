"""Public API of rig.imaging.render: facts, choices, errors, raster images."""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imaging_factory import mono_dataset, ramp, save
from PIL import Image
from pydicom.data import get_testdata_file

from rig.errors import InputError
from rig.imaging.render import (
    RenderedFrame,
    RenderOptions,
    count_frames,
    render_dataset,
    render_path,
)

REQUIRED_FACTS = {
    "window_center",
    "window_width",
    "voi_function",
    "voi_source",
    "polarity",
    "photometric",
    "decoder",
    "transfer_syntax",
    "frame",
    "n_frames",
    "bits_stored",
    "modality",
}


def _ref(name: str) -> Path:
    return Path(str(get_testdata_file(name)))


@pytest.mark.parametrize(
    "name", ["CT_small.dcm", "MR_small_RLE.dcm", "examples_ybr_color.dcm", "examples_palette.dcm"]
)
def test_facts_are_complete_and_json_able(name: str) -> None:
    rendered = render_path(_ref(name))
    assert set(rendered.facts) >= REQUIRED_FACTS
    json.dumps(rendered.facts)
    assert rendered.pixels.dtype == np.uint8
    ds = pydicom.dcmread(_ref(name))
    assert rendered.pixels.shape[:2] == (ds.Rows, ds.Columns)


def test_render_dataset_equals_render_path() -> None:
    ds = pydicom.dcmread(_ref("MR_small.dcm"))
    a, b = render_dataset(ds), render_path(_ref("MR_small.dcm"))
    assert isinstance(a, RenderedFrame)
    assert np.array_equal(a.pixels, b.pixels) and a.facts == b.facts


def test_count_frames() -> None:
    assert count_frames(pydicom.dcmread(_ref("examples_ybr_color.dcm"))) == 30
    assert count_frames(pydicom.dcmread(_ref("CT_small.dcm"))) == 1


def test_default_voi_is_first_window_and_index_selects(tmp_path: Path) -> None:
    ds = mono_dataset(ramp(32, 32, 0, 4095), 12, WindowCenter=[100, 2000], WindowWidth=[50, 900])
    path = save(ds, tmp_path / "w.dcm")
    assert render_path(path).facts["window_center"] == 100
    second = render_path(path, RenderOptions(voi_index=1)).facts
    assert (second["window_center"], second["window_width"], second["voi_index"]) == (2000, 900, 1)
    with pytest.raises(InputError, match="VOI index 2 out of range"):
        render_path(path, RenderOptions(voi_index=2))


def test_override_keeps_stored_function_and_validates_width(tmp_path: Path) -> None:
    ds = mono_dataset(
        ramp(32, 32, 0, 4095), 12, WindowCenter=100, WindowWidth=50, VOILUTFunction="LINEAR_EXACT"
    )
    path = save(ds, tmp_path / "le.dcm")
    facts = render_path(path, RenderOptions(window=(2000, 0.5))).facts
    assert (facts["voi_source"], facts["voi_function"]) == ("override", "LINEAR_EXACT")
    plain = save(mono_dataset(ramp(32, 32, 0, 4095), 12), tmp_path / "p.dcm")
    with pytest.raises(InputError, match=r"width 0\.5 is invalid"):
        render_path(plain, RenderOptions(window=(2000, 0.5)))


def test_linear_exact_from_dataset_follows_the_standard(tmp_path: Path) -> None:
    values = ramp(32, 32, 0, 4095)
    path = save(
        mono_dataset(values, 12, WindowCenter=1000, WindowWidth=300, VOILUTFunction="LINEAR_EXACT"),
        tmp_path / "le.dcm",
    )
    got = render_path(path).pixels
    for x, y in zip(values.ravel()[:600].tolist(), got.ravel()[:600].tolist(), strict=True):
        exact = min(max((Fraction(x - 1000, 300) + Fraction(1, 2)) * 255, 0), 255)  # C.11.2.1.3.2
        assert y == int(exact) or (exact == int(exact) and y == int(exact) - 1)


def test_monochrome1_identity_conflict_is_flagged(tmp_path: Path) -> None:
    ds = mono_dataset(
        ramp(8, 8, 0, 63), 8, photometric="MONOCHROME1", PresentationLUTShape="IDENTITY"
    )
    facts = render_path(save(ds, tmp_path / "m1.dcm")).facts
    assert facts["polarity"] == "normal" and facts["polarity_conflict"] is True


def test_colour_rejects_windowing() -> None:
    with pytest.raises(InputError, match="grayscale images only"):
        render_path(_ref("examples_rgb_color.dcm"), RenderOptions(window=(100, 50)))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("MR_truncated.dcm", r"pixel data truncated \(expected 8192 bytes, got 8130\)"),
        ("rtplan.dcm", r"not an image \(no Pixel Data\)"),
        ("JPEG-lossy.dcm", r"pixel data cannot be decoded"),
    ],
)
def test_bad_reference_files_raise_input_error(name: str, message: str) -> None:
    with pytest.raises(InputError, match=f"^{name}: {message}"):
        render_path(_ref(name))


def test_unsupported_transfer_syntax(tmp_path: Path) -> None:
    ds = pydicom.dcmread(_ref("MR_small_RLE.dcm"))
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2 MP@ML
    path = save(ds, tmp_path / "mpeg.dcm")
    with pytest.raises(
        InputError, match=r"transfer syntax 1\.2\.840\.10008\.1\.2\.4\.100 .* no installed decoder"
    ):
        render_path(path)


def test_frame_out_of_range() -> None:
    with pytest.raises(InputError, match="frame 30 out of range"):
        render_path(_ref("examples_ybr_color.dcm"), RenderOptions(frame=30))


@pytest.mark.parametrize("content", [b"", b"hello world, not an image", b"\x89PNG\r\n\x1a\nbroken"])
def test_garbage_files_raise_input_error(content: bytes, tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(content)
    with pytest.raises(InputError, match=r"^x\.bin: "):
        render_path(path)


def test_missing_file_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        render_path(tmp_path / "nope.dcm")


_MR = _ref("MR_small.dcm").read_bytes()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cut=st.integers(0, len(_MR)),
    flips=st.lists(st.tuples(st.integers(0, len(_MR) - 1), st.integers(0, 255)), max_size=8),
)
def test_corrupted_dicom_only_raises_input_error(
    cut: int, flips: list[tuple[int, int]], tmp_path: Path
) -> None:
    data = bytearray(_MR)
    for position, value in flips:
        data[position] = value
    path = tmp_path / "fuzz.dcm"
    path.write_bytes(bytes(data[:cut]))
    try:
        rendered = render_path(path)
    except InputError as exc:
        assert exc.message.startswith("fuzz.dcm: ") and "\n" not in exc.message
    else:
        assert rendered.pixels.dtype == np.uint8


# --- raster images ----------------------------------------------------------


def test_png_gray_and_rgb_match_opencv(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, (20, 30), dtype=np.uint8)
    rgb = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(gray).save(tmp_path / "g.png")
    Image.fromarray(rgb).save(tmp_path / "c.png")
    g = render_path(tmp_path / "g.png")
    c = render_path(tmp_path / "c.png")
    assert np.array_equal(g.pixels, cv2.imread(str(tmp_path / "g.png"), cv2.IMREAD_UNCHANGED))
    assert np.array_equal(c.pixels, cv2.imread(str(tmp_path / "c.png"))[..., ::-1])
    assert (g.facts["photometric"], c.facts["photometric"]) == ("MONOCHROME2", "RGB")


def test_png_rgba_drops_alpha_and_palette_expands(tmp_path: Path) -> None:
    rgba = np.zeros((4, 5, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 7
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    assert (render_path(tmp_path / "a.png").pixels == [200, 0, 0]).all()
    pal = Image.fromarray(np.arange(20, dtype=np.uint8).reshape(4, 5), "L").convert("P")
    pal.save(tmp_path / "p.png")
    out = render_path(tmp_path / "p.png").pixels
    assert out.shape == (4, 5, 3)


def test_png_16bit_gets_minmax_window(tmp_path: Path) -> None:
    values = ramp(16, 16, 1000, 1255, 2).astype(np.uint16) * 7
    cv2.imwrite(str(tmp_path / "d.png"), values)
    rendered = render_path(tmp_path / "d.png")
    lo, hi = int(values.min()), int(values.max())
    assert rendered.facts["voi_source"] == "minmax"
    for x, y in zip(values.ravel().tolist(), rendered.pixels.ravel().tolist(), strict=True):
        exact = Fraction(x - lo, hi - lo) * 255  # C.11.2.1.2.1 with w - 1 = max - min
        assert y == int(exact) or (exact == int(exact) and y == int(exact) - 1)


def test_tiff_pages_and_jpeg_orientation(tmp_path: Path) -> None:
    pages = [Image.fromarray(np.full((6, 4), v, dtype=np.uint8)) for v in (10, 20, 30)]
    pages[0].save(tmp_path / "m.tif", save_all=True, append_images=pages[1:])
    assert render_path(tmp_path / "m.tif", RenderOptions(frame=2)).pixels[0, 0] == 30
    with pytest.raises(InputError, match="frame 3 out of range"):
        render_path(tmp_path / "m.tif", RenderOptions(frame=3))
    image = Image.fromarray(np.zeros((10, 20, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    image.save(tmp_path / "o.jpg", exif=exif)
    assert render_path(tmp_path / "o.jpg").pixels.shape == (20, 10, 3)


def test_dicom_with_png_suffix_is_still_dicom(tmp_path: Path) -> None:
    path = tmp_path / "looks_like.png"
    shutil.copy(_ref("CT_small.dcm"), path)
    assert render_path(path).facts["modality"] == "CT"


def test_unsupported_photometric_raises(tmp_path: Path) -> None:
    ds = pydicom.dcmread(_ref("SC_rgb_small_odd.dcm"))
    ds.PhotometricInterpretation = "HSV"  # retired
    with pytest.raises(InputError, match="photometric interpretation HSV not supported"):
        render_path(save(ds, tmp_path / "hsv.dcm"))


def _pack_overlay(bits: np.ndarray) -> bytes:
    # Overlay Data (60xx,3000): 1 bit per pixel, little-endian bit order (PS3.5 8.1.2).
    return np.packbits(bits.astype(np.uint8).ravel(), bitorder="little").tobytes()


def test_multiframe_overlay_with_origin_lands_on_its_frame(tmp_path: Path) -> None:
    ds = mono_dataset(np.zeros((3, 12, 10), dtype=np.int64), 8, WindowCenter=128, WindowWidth=256)
    planes = np.zeros((2, 4, 3), dtype=bool)
    planes[0, 1, 2] = planes[1, 3, 0] = True
    ds.add_new(0x60000010, "US", 4)  # Overlay Rows
    ds.add_new(0x60000011, "US", 3)  # Overlay Columns
    ds.add_new(0x60000015, "IS", 2)  # Number of Frames in Overlay
    ds.add_new(0x60000040, "CS", "G")
    ds.add_new(0x60000050, "SS", [5, 7])  # Overlay Origin (row, column), 1-based
    ds.add_new(0x60000051, "US", 2)  # Image Frame Origin, 1-based
    ds.add_new(0x60000100, "US", 1)
    ds.add_new(0x60000102, "US", 0)
    ds.add_new(0x60003000, "OW", _pack_overlay(planes))
    path = save(ds, tmp_path / "ov.dcm")
    frames = [render_path(path, RenderOptions(frame=f, burn_overlays=True)) for f in range(3)]
    assert frames[0].facts["overlays_burned"] == 0
    assert [tuple(p) for p in np.argwhere(frames[1].pixels == 255)] == [(4 + 1, 6 + 2)]
    assert [tuple(p) for p in np.argwhere(frames[2].pixels == 255)] == [(4 + 3, 6 + 0)]
    assert (render_path(path, RenderOptions(frame=1)).pixels != 255).all()  # off by default


@settings(max_examples=100, deadline=None)
@given(
    bits=st.integers(2, 16),
    data=st.data(),
)
def test_stored_values_mask_and_sign_extend(bits: int, data: st.DataObject) -> None:
    from rig.imaging.render import stored_values

    signed = data.draw(st.booleans())
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    values = np.array(data.draw(st.lists(st.integers(lo, hi), min_size=1, max_size=30)))
    garbage = np.array(
        data.draw(st.lists(st.integers(0, 255), min_size=values.size, max_size=values.size))
    )
    raw = ((values & ((1 << bits) - 1)) | (garbage << bits)) & 0xFFFF  # as read from 16-bit words
    assert stored_values(raw.astype(np.uint16), bits, signed).tolist() == values.tolist()
