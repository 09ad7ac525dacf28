"""The main job end to end, small: samples → session over loopback → export → DnCNN and
a classifier → one table (the plumbing, not the numbers: a few steps of training)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from rig.cli import main
from rig.demo import DemoConfig, demo_plan, run_demo
from rig.library.samples import FAKE_NAME_PREFIX


def test_demo_runs_every_step_and_reports_before_and_after(tmp_path: Path) -> None:
    said: list[str] = []
    config = DemoConfig(images=8, restore_steps=4, classifier="tinycnn", classifier_input=64,
                        classifier_steps=4)
    result = run_demo(tmp_path / "project", config, said.append)
    assert [step for step, _ in result.steps] == ["import", "capture", "export", "train restore",
                                                 "train classify", "evaluate", "quality"]
    session = result.figures["session"]
    assert session["verified"] == session["items"] == 8 and session["clean"], session
    manifest = next((tmp_path / "project" / "exports").iterdir()) / "manifest.csv"
    with manifest.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8
    # 4 patients at the default 0.8/0.1/0.1: every split gets one (README: --split test).
    assert {row["split"] for row in rows} == {"train", "valid", "test"}
    # Pseudonymous patients only: the samples' fictitious identifiers never reach the export.
    for path in manifest.parent.rglob("*"):
        assert FAKE_NAME_PREFIX not in path.name
        if path.suffix in (".csv", ".json", ".md"):
            assert FAKE_NAME_PREFIX not in path.read_text(), path
    test = result.figures["eval"]["test"]
    assert test["psnr_after"] > test["psnr_before"] + 10.0  # the frozen tone curve alone lifts it
    assert result.figures["train"]["steps"] == 4 and result.figures["train_classifier"]["steps"] == 4
    for row in ("PSNR photo → restored", "SSIM photo → restored", "AUROC dicom", "AUROC photo",
                "AUROC restored"):
        assert row in result.table, row
    assert set(result.figures["diagnosis"]) == {"dicom", "photo", "restored"}
    # The quality step: the gate's retakes and the model's table on held-out patients, on
    # photos spanning the grades (captured ones and degraded copies).
    for row in ("live quality gate: photos retaken", "quality model AUC",
                "quality model sens / spec / PPV / NPV", "best simple baseline AUC"):
        assert row in result.table, row
    quality = result.figures["quality"]
    assert quality["grades"][4] > 0 and quality["grades"][1] + quality["grades"][2] > 0
    assert quality["patients"] >= 1 and quality["model"]["auc_ci"] is not None
    for path in result.figures["reports"].values():
        assert Path(path).is_file(), path
    assert result.report is not None and result.report.is_file()
    assert any("verified" in line for line in said)


def test_demo_placement_is_checked_before_anything_is_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "project"
    assert main(["demo", "--quick", "--placement", "2:1", "--project", str(root)]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1 and "placement '2:1' unknown" in errors[0]
    assert not root.exists()
    assert demo_plan(DemoConfig(placement="fit")).placement == "fit"
    assert demo_plan(DemoConfig()).placement == ""  # rig.toml decides when the session is made


def test_full_demo_holds_out_enough_patients_for_an_auroc() -> None:
    # Two images per sample patient; 6 held-out patients (the first calibration) left the
    # AUROC's patient-bootstrap CI tenths wide (docs/classification.md, "The demo").
    from rig.export.splits import parse_split, split_targets

    config = DemoConfig()
    targets = split_targets(config.images // 2, parse_split(config.split))
    assert targets["test"] >= 12 and targets["train"] >= 36, targets
