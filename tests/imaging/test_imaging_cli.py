"""``rig render`` and ``rig bench render`` through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydicom.data import get_testdata_file

from rig.cli import main
from rig.imaging.render import RenderOptions, render_path


def _ref(name: str) -> Path:
    return Path(str(get_testdata_file(name)))


def test_render_gray_png_with_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ct.png"
    code = main(
        ["render", str(_ref("CT_small.dcm")), "-o", str(out), "--window", "40", "400", "--json"]
    )
    assert code == 0
    facts = json.loads(capsys.readouterr().out)
    assert (facts["window_center"], facts["window_width"], facts["voi_source"]) == (
        40,
        400,
        "override",
    )
    written = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    expected = render_path(_ref("CT_small.dcm"), RenderOptions(window=(40, 400))).pixels
    assert written.dtype == np.uint8 and np.array_equal(written, expected)


def test_render_colour_png_keeps_rgb_order(tmp_path: Path) -> None:
    out = tmp_path / "c.png"
    assert (
        main(["render", str(_ref("examples_ybr_color.dcm")), "-o", str(out), "--frame", "3"]) == 0
    )
    written = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)[..., ::-1]  # file is RGB, OpenCV reads BGR
    expected = render_path(_ref("examples_ybr_color.dcm"), RenderOptions(frame=3)).pixels
    assert np.array_equal(written, expected)


def test_render_overlays_and_voi_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o.png"
    args = ["render", str(_ref("examples_overlay.dcm")), "-o", str(out), "--overlays", "--voi", "0"]
    assert main([*args, "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["overlays_burned"] == 1 and facts["voi_index"] == 0


def test_unreadable_input_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"nothing here")
    assert main(["render", str(bad), "-o", str(tmp_path / "x.png")]) == 3  # rejected input
    err = capsys.readouterr().err
    assert err.startswith("rig: error: bad.dcm:") and err.count("\n") == 1
    assert not (tmp_path / "x.png").exists()


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    src = str(_ref("CT_small.dcm"))
    assert main(["render", src]) == 2  # -o missing
    assert main(["render", src, "-o", str(tmp_path / "x.png"), "--frame", "-1"]) == 2
    assert main(["render", src, "-o", str(tmp_path / "x.png"), "--window", "40"]) == 2


def test_missing_file_that_is_not_a_source_id(tmp_path: Path) -> None:
    assert main(["render", str(tmp_path / "none.dcm"), "-o", str(tmp_path / "x.png")]) == 2


def test_bench_render_small(capsys: pytest.CaptureFixture[str]) -> None:
    # 20 import files, not the default 1000: each import is also read for burned-in text.
    argv = ["bench", "render", "--json", "--runs", "1", "--size", "256", "--import-files", "20"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    row = result["render"]["uncompressed"]
    assert row["rig_ms"] > 0 and result["image"]["size"] == 256
    assert result["import"]["files"] == 20


def test_source_id_uses_the_sources_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The library lookup belongs to another area; stand in for it with a real file.
    import rig.cli.imaging_cmds as cmds
    import rig.library.sources as sources

    ref = sources.SourceRef(7, _ref("examples_ybr_color.dcm"), 5, "dicom")
    monkeypatch.setattr(sources, "resolve_source", lambda project, source_id: ref)
    monkeypatch.setattr(cmds, "project_from", lambda option: None)
    monkeypatch.chdir(tmp_path)
    assert main(["render", "7", "-o", "s.png", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["frame"] == 5
    assert main(["render", "7", "-o", "s.png", "--frame", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["frame"] == 2
