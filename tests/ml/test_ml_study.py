"""The screen-photo study: patient-level splits (properties), and the whole protocol end
to end on generated samples photographed by the virtual camera (2 splits x 1 repeat,
tiny models), killed and resumed."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rig.cli import main
from rig.ml.study import StudyConfig, assign_folds, run_study, split_parts


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text("abcdef0123", min_size=1, max_size=6), st.sampled_from(["-", "A", "B", "A|B"]),
                       min_size=6, max_size=60),
       st.integers(2, 5), st.integers(0, 1000))
def test_splits_are_patient_level_and_test_every_patient_once(strata: dict[str, str], k: int, seed: int) -> None:
    if len(strata) < 2 * k:
        return
    folds = assign_folds(strata, k, seed)
    tested: dict[str, int] = {}
    for split in range(k):
        parts = split_parts(strata, folds, split, 0.1, seed)
        assert set(parts) == set(strata)  # every patient in exactly one part
        assert set(parts.values()) <= {"train", "valid", "test"}
        assert "valid" in parts.values() and "train" in parts.values()
        for p, part in parts.items():
            if part == "test":
                tested[p] = tested.get(p, 0) + 1
    assert tested == {p: 1 for p in strata}
    for stratum in set(strata.values()):  # stratified: each fold holds its share (±1)
        sizes = [sum(1 for p, f in folds.items() if f == i and strata[p] == stratum) for i in range(k)]
        assert max(sizes) - min(sizes) <= 1


ARGS = ["--splits", "2", "--repeats", "1", "--model", "tinycnn", "--input-size", "64", "--epochs", "2",
        "--steps", "3", "--restore-model", "tonecurve", "--device", "cpu"]


def test_screen_photo_study_end_to_end(generated: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "study"
    assert main(["study", "screen-photo", "--data", str(generated), "-o", str(out), *ARGS, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["published"] == {"dicom": 0.864, "photo": 0.849, "restored": 0.853}
    assert [(r["split"], r["repeat"]) for r in summary["runs"]] == [(0, 0), (1, 0)]
    assert set(summary["table"]["mean over labels"]) == {"dicom", "photo", "restored"}
    assert summary["table"]["mean over labels"]["dicom"]["n"] == 2
    assert set(summary["per_split"]) == {"0", "1"}
    # Split files: no patient in two parts of any split, every patient tested once.
    tested: list[str] = []
    for k in (0, 1):
        with (out / "splits" / f"split-{k:02d}.csv").open() as handle:
            rows = list(csv.DictReader(handle))
        patients = [r["patient"] for r in rows]
        assert len(patients) == len(set(patients)) == 24
        tested += [r["patient"] for r in rows if r["part"] == "test"]
        with (out / "splits" / f"split-{k:02d}" / "classify" / "manifest.csv").open() as handle:
            parts: dict[str, set[str]] = {}
            for r in csv.DictReader(handle):
                parts.setdefault(r["patient"], set()).add(r["split"])
        assert all(len(v) == 1 for v in parts.values())
        with (out / "splits" / f"split-{k:02d}" / "restore" / "manifest.csv").open() as handle:
            restored_on = {r["patient"] for r in csv.DictReader(handle)}
        assert not restored_on & {r["patient"] for r in rows if r["part"] == "test"}
    assert sorted(tested) == sorted(f"sim{i:04d}" for i in range(24))
    leakage = json.loads((out / "leakage.json").read_text())
    assert all(f["restoration_data_fingerprint_matches"] and f["restoration_test_patients"] == 0
               for f in leakage)
    pooled = summary["pooled"]
    assert pooled["n_images"] == 24 and set(pooled["paired"]["Cardiomegaly"]) >= {"photo_vs_dicom",
                                                                                  "restored_vs_photo"}
    for name in ("report.md", "auroc_boxplot.png", "roc.png", "scores.csv"):
        assert (out / "report" / name).is_file(), name


class Killed(Exception):
    pass


def test_a_killed_study_continues_from_the_last_finished_run(generated: Path, tmp_path: Path) -> None:
    out = tmp_path / "study"
    cfg = StudyConfig(splits=2, repeats=1, model="tinycnn", input_size=64, epochs=1, steps_per_epoch=2,
                      restore_model="tonecurve", device="cpu")

    def kill_after_first(message: str) -> None:
        if message.startswith("split 0, repeat 0: finished"):
            raise Killed

    with pytest.raises(Killed):
        run_study(generated, out, cfg, on_status=kill_after_first)
    first = out / "runs" / "split-00" / "repeat-0" / "result.json"
    stamp = first.stat().st_mtime_ns
    assert not (out / "runs" / "split-01").exists()
    said: list[str] = []
    summary = run_study(generated, out, cfg, on_status=said.append)
    assert "split 0, repeat 0: done earlier, kept" in said
    assert first.stat().st_mtime_ns == stamp
    assert len(summary["runs"]) == 2
    with pytest.raises(Exception, match="other settings"):
        run_study(generated, out, StudyConfig(splits=2, repeats=2, model="tinycnn", device="cpu"))
