"""rig's display frames against DCMTK (dcm2pnm/dcmj2pnm/dcml2pnm), the oracle.

Goal: bit-identity (max difference 0). Exceptions are listed with their reason in
docs/rendering.md and tested here with their measured bound.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from imaging_dcmtk import dcmtk_render, max_diff, require_dcmtk
from imaging_factory import (
    lut_item,
    mono_dataset,
    palette_dataset,
    ramp,
    rgb_dataset,
    save,
    segmented,
    sequence,
)
from pydicom.data import get_testdata_file
from pydicom.uid import JPEG2000, JPEG2000Lossless, RLELossless

from rig.imaging.render import RenderOptions, render_path

pytestmark = pytest.mark.usefixtures("dcmtk_available")


@pytest.fixture(scope="module")
def dcmtk_available() -> None:
    require_dcmtk()


def _ref(name: str) -> Path:
    path = get_testdata_file(name)
    assert path is not None, name
    return Path(str(path))


# (file, frame): pydicom's bundled reference files that DCMTK can render itself.
REFERENCE_FILES = [
    ("CT_small.dcm", 0),
    ("MR_small.dcm", 0),
    ("MR_small_RLE.dcm", 0),
    ("MR_small_bigendian.dcm", 0),
    ("MR_small_expb.dcm", 0),
    ("MR_small_implicit.dcm", 0),
    ("MR_small_padded.dcm", 0),
    ("MR_small_jpeg_ls_lossless.dcm", 0),
    ("JPEGLSNearLossless_08.dcm", 0),
    ("JPEGLSNearLossless_16.dcm", 0),
    ("ExplVR_BigEnd.dcm", 0),
    ("image_dfl.dcm", 0),
    ("liver_1frame.dcm", 0),
    ("liver_expb_1frame.dcm", 0),
    ("rtdose.dcm", 5),
    ("rtdose_1frame.dcm", 0),
    ("rtdose_rle.dcm", 14),
    ("rtdose_rle_1frame.dcm", 0),
    ("examples_overlay.dcm", 0),
    ("examples_palette.dcm", 0),
    ("examples_rgb_color.dcm", 0),
    ("examples_ybr_color.dcm", 7),
    ("SC_ybr_full_422_uncompressed.dcm", 0),
    ("SC_jpeg_no_color_transform.dcm", 0),
    ("SC_jpeg_no_color_transform_2.dcm", 0),
    ("SC_rgb_dcmtk_+eb+cr.dcm", 0),
    ("SC_rgb_dcmtk_+eb+cy+n1.dcm", 0),
    ("SC_rgb_dcmtk_+eb+cy+n2.dcm", 0),
    ("SC_rgb_dcmtk_+eb+cy+np.dcm", 0),
    ("SC_rgb_dcmtk_+eb+cy+s2.dcm", 0),
    ("SC_rgb_dcmtk_+eb+cy+s4.dcm", 0),
    ("SC_rgb_jls_lossy_line.dcm", 0),
    ("SC_rgb_jls_lossy_sample.dcm", 0),
    ("SC_rgb_jpeg_app14_dcmd.dcm", 0),
    ("SC_rgb_jpeg_dcmd.dcm", 0),
    ("SC_rgb_jpeg_dcmtk.dcm", 0),
    ("SC_rgb_jpeg_gdcm.dcm", 0),
    ("SC_rgb_jpeg_lossy_gdcm.dcm", 0),
    ("SC_rgb_rle.dcm", 0),
    ("SC_rgb_rle_2frame.dcm", 1),
    ("SC_rgb_rle_16bit.dcm", 0),
    ("SC_rgb_rle_16bit_2frame.dcm", 1),
    ("SC_rgb_rle_32bit.dcm", 0),
    ("SC_rgb_rle_32bit_2frame.dcm", 1),
    ("SC_rgb_small_odd.dcm", 0),
    ("SC_rgb_small_odd_big_endian.dcm", 0),
    ("SC_rgb_small_odd_jpeg.dcm", 0),
]


@pytest.mark.parametrize(("name", "frame"), REFERENCE_FILES, ids=[n for n, _ in REFERENCE_FILES])
def test_reference_file_is_bit_exact(name: str, frame: int) -> None:
    path = _ref(name)
    rendered = render_path(path, RenderOptions(frame=frame))
    assert max_diff(rendered.pixels, dcmtk_render(path, rendered.facts, frame)) == 0


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm", "examples_overlay.dcm"])
@pytest.mark.parametrize("window", [(40.0, 400.0), (1000.5, 1.0), (-3.25, 77.5)])
def test_window_override_is_bit_exact(name: str, window: tuple[float, float]) -> None:
    path = _ref(name)
    rendered = render_path(path, RenderOptions(window=window))
    assert rendered.facts["voi_source"] == "override"
    assert max_diff(rendered.pixels, dcmtk_render(path, rendered.facts)) == 0


def test_overlays_burned_like_dcmtk() -> None:
    path = _ref("examples_overlay.dcm")
    rendered = render_path(path, RenderOptions(burn_overlays=True))
    assert rendered.facts["overlays_burned"] == 1
    facts = dict(rendered.facts)
    reference = dcmtk_render(path, facts, 0, extra=("+O", "0"))  # +O after -O: all overlays
    assert max_diff(rendered.pixels, reference) == 0
    plain = render_path(path).pixels
    assert (plain != rendered.pixels).any()


@pytest.mark.parametrize(
    ("name", "twin"),
    [
        # DCMTK 3.6.7 mis-swaps 32-bit big-endian samples; its own LE rendering agrees with rig.
        ("rtdose_expb_1frame.dcm", "rtdose_1frame.dcm"),
        # DCMTK has no JPEG 2000 decoder: compare with the uncompressed original.
        ("MR_small_jp2klossless.dcm", "MR_small.dcm"),
    ],
)
def test_file_matches_dcmtk_on_its_twin(name: str, twin: str) -> None:
    rendered = render_path(_ref(name))
    assert max_diff(rendered.pixels, dcmtk_render(_ref(twin), rendered.facts)) == 0


@pytest.mark.parametrize("name", ["CT_small.dcm", "examples_rgb_color.dcm", "MR_small.dcm"])
def test_jpeg2000_lossless_matches_dcmtk_on_original(name: str, tmp_path: Path) -> None:
    ds = pydicom.dcmread(_ref(name))
    ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
    path = save(ds, tmp_path / "j2k.dcm")
    rendered = render_path(path)
    assert rendered.facts["decoder"] == "pylibjpeg-openjpeg"
    assert max_diff(rendered.pixels, dcmtk_render(_ref(name), rendered.facts)) == 0


def test_jpeg_extended_12bit_within_one_level() -> None:
    # pylibjpeg-libjpeg's 12-bit IDCT rounds differently from DCMTK's IJG 6b
    # (pillow, which matches IJG for 8-bit, cannot decode 12-bit JPEG).
    path = _ref("JPGExtended.dcm")
    rendered = render_path(path)
    assert max_diff(rendered.pixels, dcmtk_render(path, rendered.facts)) <= 1


def _twelve_bit(seed: int = 0) -> np.ndarray:
    return ramp(64, 64, 0, 4095, seed)


def _sqrt_lut(n: int, bits: int) -> np.ndarray:
    return (np.sqrt(np.arange(n) / (n - 1)) * ((1 << bits) - 1)).astype(np.int64)


GENERATED = {
    "mono2_u12_minmax": lambda: mono_dataset(_twelve_bit(), 12),
    "mono1_u12_minmax": lambda: mono_dataset(_twelve_bit(), 12, photometric="MONOCHROME1"),
    "mono1_u12_identity": lambda: mono_dataset(
        _twelve_bit(), 12, photometric="MONOCHROME1", PresentationLUTShape="IDENTITY"
    ),
    "mono1_u12_inverse": lambda: mono_dataset(
        _twelve_bit(), 12, photometric="MONOCHROME1", PresentationLUTShape="INVERSE"
    ),
    "mono2_u12_inverse": lambda: mono_dataset(_twelve_bit(), 12, PresentationLUTShape="INVERSE"),
    "mono2_u12_windows": lambda: mono_dataset(
        _twelve_bit(), 12, WindowCenter=[1000.5, 2000], WindowWidth=[301, 1000]
    ),
    "mono1_u12_window": lambda: mono_dataset(
        _twelve_bit(), 12, photometric="MONOCHROME1", WindowCenter=1000.5, WindowWidth=301
    ),
    "mono2_width_1": lambda: mono_dataset(_twelve_bit(), 12, WindowCenter=2048, WindowWidth=1),
    "sigmoid": lambda: mono_dataset(
        _twelve_bit(), 12, WindowCenter=1000.5, WindowWidth=301, VOILUTFunction="SIGMOID"
    ),
    "sigmoid_mono1": lambda: mono_dataset(
        _twelve_bit(),
        12,
        photometric="MONOCHROME1",
        WindowCenter=2100,
        WindowWidth=999,
        VOILUTFunction="SIGMOID",
    ),
    "s12_window": lambda: mono_dataset(
        ramp(64, 64, -2048, 2047, 1), 12, signed=True, WindowCenter=0, WindowWidth=400
    ),
    "s12_rescale_int": lambda: mono_dataset(
        ramp(64, 64, -2048, 2047, 1),
        12,
        signed=True,
        WindowCenter=-40,
        WindowWidth=400,
        RescaleSlope=2,
        RescaleIntercept=-100,
    ),
    "s16_minmax": lambda: mono_dataset(ramp(64, 64, -32768, 32767, 2), 16, signed=True),
    "u16_minmax": lambda: mono_dataset(ramp(64, 64, 0, 65535, 3), 16),
    "u16_window": lambda: mono_dataset(
        ramp(64, 64, 0, 65535, 3), 16, WindowCenter=30000, WindowWidth=20001
    ),
    "u8_window": lambda: mono_dataset(
        ramp(64, 64, 0, 255, 4), 8, WindowCenter=128, WindowWidth=100
    ),
    "s8_minmax": lambda: mono_dataset(ramp(16, 16, -128, 127, 5), 8, signed=True),
    "u10_in_16_high_bits_set": lambda: _high_bits_garbage(),
    "voi_lut_16": lambda: mono_dataset(
        _twelve_bit(), 12, VOILUTSequence=sequence(lut_item(0, 16, _sqrt_lut(4096, 16)))
    ),
    "voi_lut_12_offset": lambda: mono_dataset(
        _twelve_bit(), 12, VOILUTSequence=sequence(lut_item(1000, 12, _sqrt_lut(2000, 12)))
    ),
    "voi_lut_8": lambda: mono_dataset(
        _twelve_bit(), 12, VOILUTSequence=sequence(lut_item(500, 8, _sqrt_lut(3000, 8)))
    ),
    "voi_lut_signed_first": lambda: mono_dataset(
        ramp(64, 64, -2048, 2047, 6),
        12,
        signed=True,
        VOILUTSequence=sequence(lut_item(-1000, 16, _sqrt_lut(2500, 16))),
    ),
    "modality_lut": lambda: mono_dataset(
        _twelve_bit(),
        12,
        WindowCenter=1000,
        WindowWidth=800,
        ModalityLUTSequence=sequence(
            lut_item(100, 12, np.arange(3000) // 2 + 7, ModalityLUTType="US")
        ),
    ),
    "modality_lut_minmax": lambda: mono_dataset(
        _twelve_bit(),
        12,
        ModalityLUTSequence=sequence(lut_item(0, 16, _sqrt_lut(4096, 16), ModalityLUTType="US")),
    ),
    "multiframe_u12": lambda: mono_dataset(
        np.stack([_twelve_bit(s) for s in range(3)]), 12, WindowCenter=1500, WindowWidth=1200
    ),
    "rgb_planar": lambda: rgb_dataset(ramp(32, 32 * 3, 0, 255, 7).reshape(32, 32, 3), planar=1),
    "ybr_full_8": lambda: rgb_dataset(ramp(32, 32 * 3, 0, 255, 8).reshape(32, 32, 3), "YBR_FULL"),
}


def _high_bits_garbage() -> pydicom.Dataset:
    values = ramp(64, 64, 0, 1023, 9)
    garbage = values | (np.random.default_rng(9).integers(0, 64, values.shape) << 10)
    return mono_dataset(garbage, 10, bits_allocated=16)


VOI_CHOICES = {"mono2_u12_windows": [0, 1], "multiframe_u12": [None]}


@pytest.mark.parametrize("case", sorted(GENERATED))
def test_generated_case_is_bit_exact(case: str, tmp_path: Path) -> None:
    path = save(GENERATED[case](), tmp_path / f"{case}.dcm")
    for voi_index in VOI_CHOICES.get(case, [None]):
        frame = 2 if case.startswith("multiframe") else 0
        rendered = render_path(path, RenderOptions(frame=frame, voi_index=voi_index))
        assert max_diff(rendered.pixels, dcmtk_render(path, rendered.facts, frame)) == 0


def test_generated_rle_multiframe_is_bit_exact(tmp_path: Path) -> None:
    ds = GENERATED["multiframe_u12"]()
    ds.compress(RLELossless)
    path = save(ds, tmp_path / "rle.dcm")
    rendered = render_path(path, RenderOptions(frame=1))
    assert rendered.facts["decoder"] == "pylibjpeg-rle"
    assert max_diff(rendered.pixels, dcmtk_render(path, rendered.facts, 1)) == 0


def test_voi_lut_chosen_by_index_after_windows(tmp_path: Path) -> None:
    ds = mono_dataset(
        _twelve_bit(),
        12,
        WindowCenter=[1000, 3000],
        WindowWidth=[500, 500],
        VOILUTSequence=sequence(
            lut_item(0, 16, _sqrt_lut(4096, 16)), lut_item(0, 12, np.arange(4096)[::-1])
        ),
    )
    path = save(ds, tmp_path / "both.dcm")
    default = render_path(path)
    assert default.facts["voi_source"] == "window"  # window wins when both exist
    for index in (2, 3):
        rendered = render_path(path, RenderOptions(voi_index=index))
        assert rendered.facts["voi_source"] == "voi_lut"
        assert max_diff(rendered.pixels, dcmtk_render(path, rendered.facts)) == 0


def test_minmax_window_equals_dcmtk_minmax(tmp_path: Path) -> None:
    # Our min-max policy (no padding) is DCMTK's +Wm: same pixels with its own window.
    path = save(mono_dataset(ramp(64, 64, 100, 3000, 11), 12), tmp_path / "mm.dcm")
    rendered = render_path(path)
    facts = {"voi_source": "none", "transfer_syntax": rendered.facts["transfer_syntax"]}
    reference = dcmtk_render(path, facts, 0, extra=("+Wm",))
    assert max_diff(rendered.pixels, reference) == 0


def test_padding_excluded_from_minmax(tmp_path: Path) -> None:
    values = ramp(64, 64, -1000, 1000, 12)
    values[:8] = -2000  # padding rows
    values[8:10] = -1500  # padding range
    ds = mono_dataset(
        values, 16, signed=True, PixelPaddingValue=-2000, PixelPaddingRangeLimit=-1500
    )
    path = save(ds, tmp_path / "pad.dcm")
    rendered = render_path(path)
    real = values[10:]
    assert rendered.facts["window_center"] == (real.min() + real.max() + 1) / 2
    assert rendered.facts["window_width"] == real.max() - real.min() + 1
    assert (rendered.pixels[:10] == 0).all()
    assert max_diff(rendered.pixels, dcmtk_render(path, rendered.facts)) == 0


def test_per_frame_functional_groups_match_classic_twin(tmp_path: Path) -> None:
    # DCMTK ignores functional groups; a classic single-frame twin carrying the
    # frame's own rescale and window is the oracle.
    frames = np.stack([ramp(48, 48, 0, 4095, s) for s in range(3)])
    ds = mono_dataset(frames, 12)
    shared = pydicom.Dataset()
    shared.PixelValueTransformationSequence = sequence(
        _item(RescaleSlope=1, RescaleIntercept=-1024)
    )
    per_frame = []
    for i in range(3):
        item = pydicom.Dataset()
        item.FrameVOILUTSequence = sequence(_item(WindowCenter=100 * i - 200, WindowWidth=600 + i))
        if i == 2:
            item.PixelValueTransformationSequence = sequence(
                _item(RescaleSlope=2, RescaleIntercept=-3000)
            )
        per_frame.append(item)
    ds.SharedFunctionalGroupsSequence = sequence(shared)
    ds.PerFrameFunctionalGroupsSequence = sequence(*per_frame)
    path = save(ds, tmp_path / "enhanced.dcm")
    for i, (slope, intercept) in enumerate([(1, -1024), (1, -1024), (2, -3000)]):
        rendered = render_path(path, RenderOptions(frame=i))
        assert rendered.facts["window_center"] == 100 * i - 200
        twin = mono_dataset(
            frames[i],
            12,
            RescaleSlope=slope,
            RescaleIntercept=intercept,
            WindowCenter=100 * i - 200,
            WindowWidth=600 + i,
        )
        twin_path = save(twin, tmp_path / f"twin{i}.dcm")
        assert max_diff(rendered.pixels, dcmtk_render(twin_path, rendered.facts)) == 0


def _item(**attrs: object) -> pydicom.Dataset:
    item = pydicom.Dataset()
    for key, value in attrs.items():
        setattr(item, key, value)
    return item


# Float Rescale Slope/Intercept: DCMTK holds the Modality LUT output as an integer
# (truncated toward zero) before the VOI window; rig does the same (docs/rendering.md).
FLOAT_RESCALE = {
    # The real MR that was 1 level off on 3.4 % of its pixels: slope 3.774114,
    # intercept 0.000061, window 1000/2000 (values as the file writes them, DS strings).
    "mr_float_slope": lambda: mono_dataset(
        ramp(96, 96, 0, 4095, 21),
        12,
        RescaleSlope="3.774114",
        RescaleIntercept="0.000061",
        WindowCenter="1000",
        WindowWidth="2000",
    ),
    "negative_fractional": lambda: mono_dataset(
        _twelve_bit(),
        12,
        RescaleSlope=0.37,
        RescaleIntercept=-10.25,
        WindowCenter=500.3,
        WindowWidth=700.7,
    ),
    "fractional_minmax": lambda: mono_dataset(
        ramp(64, 64, 0, 4095, 22), 12, RescaleSlope="0.37", RescaleIntercept="-100.25"
    ),
    "signed_fractional_mono1": lambda: mono_dataset(
        ramp(64, 64, -2048, 2047, 23),
        12,
        signed=True,
        photometric="MONOCHROME1",
        RescaleSlope="1.5",
        RescaleIntercept="-0.5",
        WindowCenter=-40,
        WindowWidth=900,
    ),
    # A PET-like tiny slope: DCMTK posterises it to a handful of levels, and so must rig.
    "tiny_slope": lambda: mono_dataset(
        ramp(64, 64, 0, 65535, 24),
        16,
        RescaleSlope="0.0001",
        RescaleIntercept="0",
        WindowCenter=3.2,
        WindowWidth=6.5,
    ),
}


@pytest.mark.parametrize("case", sorted(FLOAT_RESCALE))
def test_float_rescale_is_bit_exact(case: str, tmp_path: Path) -> None:
    path = save(FLOAT_RESCALE[case](), tmp_path / f"{case}.dcm")
    rendered = render_path(path)
    assert rendered.facts["rescale_slope"] != int(rendered.facts["rescale_slope"]) or (
        rendered.facts["rescale_intercept"] != int(rendered.facts["rescale_intercept"])
    )
    assert max_diff(rendered.pixels, dcmtk_render(path, rendered.facts)) == 0
    if rendered.facts["voi_source"] == "minmax":  # the min-max window too is DCMTK's +Wm
        facts = {"voi_source": "none", "transfer_syntax": rendered.facts["transfer_syntax"]}
        assert max_diff(rendered.pixels, dcmtk_render(path, facts, 0, extra=("+Wm",))) == 0


def test_float_slope_through_dcm2pnm_plain(tmp_path: Path) -> None:
    # The exact oracle command: dcm2pnm +Wi 1 (the file's first window).
    path = save(FLOAT_RESCALE["mr_float_slope"](), tmp_path / "mr.dcm")
    out = tmp_path / "mr.pgm"
    proc = subprocess.run(["dcm2pnm", "+Wi", "1", str(path), str(out)], capture_output=True)
    assert proc.returncode == 0, proc.stderr
    from PIL import Image

    with Image.open(out) as image:
        reference = np.asarray(image).copy()
    assert max_diff(render_path(path).pixels, reference) == 0


def test_dcmtk_differences_are_bounded(tmp_path: Path) -> None:
    # Documented exception (docs/rendering.md): DCMTK maps an inverted VOI LUT onto
    # 255..1 instead of 255..0.
    ds = mono_dataset(
        _twelve_bit(),
        12,
        photometric="MONOCHROME1",
        VOILUTSequence=sequence(lut_item(0, 16, _sqrt_lut(4096, 16))),
    )
    path = save(copy.deepcopy(ds), tmp_path / "voi_lut_inverse.dcm")
    rendered = render_path(path)
    assert max_diff(rendered.pixels, dcmtk_render(path, rendered.facts)) <= 1


@pytest.mark.parametrize("bits", [8, 16])
def test_palette_color_is_bit_exact(bits: int, tmp_path: Path) -> None:
    top = (1 << bits) - 1
    tables = [(np.arange(256) * (i + 3) * 97) % (top + 1) for i in range(3)]
    path = save(palette_dataset(ramp(32, 32, 0, 255, 3), bits, tables), tmp_path / "pal.dcm")
    rendered = render_path(path)
    assert rendered.pixels.shape == (32, 32, 3)
    assert max_diff(rendered.pixels, dcmtk_render(path, rendered.facts)) == 0


def test_segmented_palette_matches_dcmtk_on_expanded_twin(tmp_path: Path) -> None:
    # DCMTK does not support segmented palettes; the twin carries the table
    # expanded by hand from C.7.9.2: a discrete segment (opcode 0) of 16 values,
    # then a linear segment (opcode 1) of 240 entries in exact integer steps.
    indices = ramp(32, 32, 0, 255, 4)
    segments, tables = [], []
    for i in range(3):
        discrete = [100 * j + 7 * i for j in range(16)]
        step = 200 - 10 * i
        end = discrete[-1] + 240 * step
        segments.append([0, 16, *discrete, 1, 240, end])
        tables.append(np.array(discrete + [discrete[-1] + step * (k + 1) for k in range(240)]))
    twin = save(palette_dataset(indices, 16, tables), tmp_path / "twin.dcm")
    seg_ds = segmented(palette_dataset(indices, 16, tables), segments, 256)
    path = save(seg_ds, tmp_path / "seg.dcm")
    rendered = render_path(path)
    assert max_diff(rendered.pixels, dcmtk_render(twin, rendered.facts)) == 0


def test_wide_32bit_range_renders_pixel_by_pixel_bit_exact(tmp_path: Path) -> None:
    # A stored range wider than the table limit takes the per-pixel path.
    values = ramp(64, 64, 0, 3_000_000, 13)
    path = save(mono_dataset(values, 32, WindowCenter=1.2e6, WindowWidth=2e6), tmp_path / "u32.dcm")
    rendered = render_path(path)
    assert max_diff(rendered.pixels, dcmtk_render(path, rendered.facts)) == 0


# DCMTK's own encoders produce the compressed files; rig (with its pinned
# decoders) must then render them as DCMTK renders them.
ENCODERS = {
    "jpeg_baseline": (["dcmcjpeg", "+eb"], "pillow", 0),
    "jpeg_extended_12bit": (["dcmcjpeg", "+ee"], "pylibjpeg-libjpeg", 1),
    "jpeg_lossless_sv1": (["dcmcjpeg", "+e1"], "pylibjpeg-libjpeg", 0),
    "jpeg_lossless": (["dcmcjpeg", "+el"], "pylibjpeg-libjpeg", 0),
    "jpeg_ls_lossless": (["dcmcjpls", "+el"], "pylibjpeg-libjpeg", 0),
    "jpeg_ls_near": (["dcmcjpls", "+en"], "pylibjpeg-libjpeg", 0),
    "rle": (["dcmcrle"], "pylibjpeg-rle", 0),
}
SOURCES = {
    "mono8": lambda: mono_dataset(_smooth(8), 8, WindowCenter=120, WindowWidth=180),
    "mono12": lambda: mono_dataset(_smooth(12), 12, WindowCenter=1800, WindowWidth=2500),
    "rgb8": lambda: rgb_dataset(np.stack([_smooth(8, s) for s in range(3)], axis=-1)),
}


def _smooth(bits: int, seed: int = 0) -> np.ndarray:
    yy, xx = np.mgrid[0:64, 0:80]
    rng = np.random.default_rng(seed)
    top = (1 << bits) - 1
    base = top / 2 + top / 3 * np.sin(xx / (7.0 + seed)) * np.cos(yy / 9.0)
    return np.clip(base + rng.normal(0, top / 50, base.shape), 0, top).astype(np.int64)


@pytest.mark.parametrize("source", sorted(SOURCES))
@pytest.mark.parametrize("encoder", sorted(ENCODERS))
def test_dcmtk_encoded_files(encoder: str, source: str, tmp_path: Path) -> None:
    command, decoder, tolerance = ENCODERS[encoder]
    if shutil.which(command[0]) is None:
        pytest.skip(f"{command[0]} is not on PATH")
    if encoder == "jpeg_baseline" and source == "mono12":
        pytest.skip("baseline JPEG is 8-bit only")
    if encoder == "jpeg_extended_12bit" and source != "mono12":
        tolerance = 0  # 8-bit extended is decoded by pillow, like baseline
        decoder = "pillow"
    plain = save(SOURCES[source](), tmp_path / "plain.dcm")
    encoded = tmp_path / "encoded.dcm"
    proc = subprocess.run([*command, str(plain), str(encoded)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    rendered = render_path(encoded)
    assert rendered.facts["decoder"] == decoder
    assert max_diff(rendered.pixels, dcmtk_render(encoded, rendered.facts)) <= tolerance


def test_jpeg2000_lossy_ybr_ict_is_shown_as_rgb(tmp_path: Path) -> None:
    # YBR_ICT exists only inside JPEG 2000, whose decoder undoes the transform;
    # lossy, so the oracle is closeness to DCMTK's rendering of the original.
    ds = pydicom.dcmread(_ref("examples_rgb_color.dcm"))
    ds.compress(JPEG2000, j2k_cr=[3], encoding_plugin="pylibjpeg")  # openjpeg applies the MCT
    ds.PhotometricInterpretation = "YBR_ICT"  # the label PS3.5 8.2.4 requires for it
    rendered = render_path(save(ds, tmp_path / "ict.dcm"))
    reference = dcmtk_render(_ref("examples_rgb_color.dcm"), rendered.facts).astype(np.int64)
    # ~0.5 levels here; treating the samples as YBR again would give ~55.
    assert np.abs(rendered.pixels.astype(np.int64) - reference).mean() < 2


# Real-world-like files: the generated conformance corpus and the real public files that
# installed packages ship (NEMA WG04 CR 1841x1955 15-bit MONOCHROME1, the MR with slope
# 3.774114, US palette/RGB, CT, a 3072x2614 DX). Every one must render as DCMTK does.
@pytest.fixture(scope="module")
def corpus_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from rig.library.corpus import public_files, write_corpus

    files = [*write_corpus(tmp_path_factory.mktemp("corpus")), *public_files()]
    return {f.name: f.path for f in files if f.path.suffix == ".dcm"}


def test_real_world_files_are_bit_exact(corpus_files: dict[str, Path]) -> None:
    assert len(corpus_files) >= 12
    for name, path in sorted(corpus_files.items()):
        rendered = render_path(path)
        assert max_diff(rendered.pixels, dcmtk_render(path, rendered.facts)) == 0, name
