"""The main job end to end, small: samples → session over loopback → export → DnCNN → table."""

from __future__ import annotations

import csv
from pathlib import Path

from rig.demo import DemoConfig, run_demo
from rig.library.samples import FAKE_NAME_PREFIX


def test_demo_runs_every_step_and_reports_before_and_after(tmp_path: Path) -> None:
    said: list[str] = []
    config = DemoConfig(images=8, train_budget_min=0.05)  # 3 s of training: the plumbing, not the numbers
    result = run_demo(tmp_path / "project", config, said.append)
    assert [step for step, _ in result.steps] == ["import", "capture", "export", "train", "evaluate"]
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
    for split in result.figures["eval"].values():
        assert split["psnr_after"] > split["psnr_before"] + 10.0  # the curve alone lifts it
    assert "PSNR" in result.table and result.report is not None and result.report.is_file()
    assert any("verified" in line for line in said)
