"""The conformance matrix, small: real-like images x every camsim preset -> verify/reject.

The full matrix (every corpus image x every preset x 3 seeds) is
``rig bench registration --corpus`` (docs/registration.md); this one keeps to a
minute: the 2k x 2.5k MONOCHROME1 CR with collimation, the float-slope MR, a CT, a
palette ultrasound and (when pydicom-data is installed) the real NEMA CR
1841x1955 of the issue, each through every preset with its nominal pose, and the
wrong / stale / half-refreshed / torn photos of the CR with the demo's phone.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rig.bench.conformance import WRONG_KINDS, Cell, run_cell, summarise
from rig.camsim import preset_names
from rig.cli import main
from rig.library.corpus import CorpusFile, public_files, write_corpus

CR = "cr_chest_2k_2k5_mono1"
GOOD = (CR, "mr_float_slope", "ct_abdomen", "us_palette")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CorpusFile]:
    files = write_corpus(tmp_path_factory.mktemp("corpus"), names=GOOD)
    real = [f for f in public_files() if f.name == "pydicom-data:RG1_UNCI"]
    return {f.name: f for f in [*files, *real]}


def test_at_least_five_presets() -> None:
    assert len(preset_names()) >= 5


@pytest.mark.parametrize("preset", preset_names())
def test_real_like_images_verify_first_time_with_every_preset(
    preset: str, corpus: dict[str, CorpusFile]
) -> None:
    rows = run_cell(Cell(preset, 0, tuple(corpus.values()), ()))
    for row in rows:
        assert row["accepted_first"], (row["image"], row["reason"])
        assert row["rms_px"] is not None and row["rms_px"] < 1.0, row
    cr = next(r for r in rows if r["image"] == CR)
    assert (cr["placement"]["mode"], cr["placement"]["reduction"]) == ("integer", 3)


def test_wrong_stale_half_refreshed_and_torn_photos_are_rejected(
    corpus: dict[str, CorpusFile],
) -> None:
    preset = "paper-lcd-iphone"  # noisy and moire-prone: the noise gate is highest
    files = (corpus[CR], corpus["us_palette"])  # the CR's "previous item" is the ultrasound
    rows = run_cell(Cell(preset, 0, files, WRONG_KINDS))
    for row in rows:
        for kind in WRONG_KINDS:
            assert row["wrong"][kind]["rejected"], (row["image"], kind)
    summary = summarise(rows, files, [preset], 1)
    assert summary["wrong_rejected"] == summary["wrong_total"] == 2 * len(WRONG_KINDS)


def test_bench_corpus_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["bench", "registration", "--corpus", "--json", "--image", "ct_abdomen"]
    code = main([*args, "--preset", "glossy-glare", "--seeds", "1", "--workers", "1"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    keys = ("images", "presets", "accepted_first", "false_rejects", "wrong_rejected")
    assert set(keys) | {"wrong_total", "rms_px_median"} <= set(result)
    assert (result["images"], result["presets"], result["photos"]) == (1, 1, 1)
    assert result["accepted_first"] == 1 and result["false_rejects"] == 0
    assert result["wrong_rejected"] == result["wrong_total"] == len(WRONG_KINDS)


def test_bench_corpus_names_unknown_images(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "registration", "--corpus", "--image", "nope"]) == 2
    assert "--image nope" in capsys.readouterr().err


def test_corpus_names_are_unique(tmp_path: Path) -> None:
    names = [f.name for f in write_corpus(tmp_path, names=("ct_abdomen",))] + [
        f.name for f in public_files()
    ]
    assert len(names) == len(set(names))
