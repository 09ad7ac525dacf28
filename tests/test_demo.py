"""The main job end to end, small: samples → session over loopback → export → DnCNN and
a classifier → one table (the plumbing, not the numbers: a few steps of training)."""

from __future__ import annotations

import csv
from pathlib import Path

from rig.demo import DemoConfig, run_demo
from rig.library.samples import FAKE_NAME_PREFIX


def test_demo_runs_every_step_and_reports_before_and_after(tmp_path: Path) -> None:
    said: list[str] = []
    config = DemoConfig(images=8, restore_steps=4, classifier="tinycnn", classifier_input=64,
                        classifier_steps=4)
    result = run_demo(tmp_path / "project", config, said.append)
    assert [step for step, _ in result.steps] == ["import", "capture", "export", "train restore",
                                                 "train classify", "evaluate"]
    session = result.figures["session"]
    assert session["verified"] == session["items"] == 8 and session["clean"], session
    manifest = next((tmp_path / "project" / "exports").iterdir()) / "manifest.csv"
    with manifest.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8
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
    for path in result.figures["reports"].values():
        assert Path(path).is_file(), path
    assert result.report is not None and result.report.is_file()
    assert any("verified" in line for line in said)
