from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rig.errors import InputError
from rig.ml.models.quality import QualityModelConfig, build_quality_model
from rig.quality.onnx_export import (
    check_onnx_parity,
    export_onnx,
    load_quality_checkpoint,
    save_quality_checkpoint,
)


@pytest.mark.parametrize("backbone", ["tiny", "resnet18"])
def test_onnxruntime_scores_equal_pytorchs(tmp_path: Path, backbone: str) -> None:
    torch.manual_seed(1)
    model = build_quality_model(QualityModelConfig(backbone=backbone, patch=64))
    path = export_onnx(model, tmp_path / "model.onnx")
    rng = np.random.default_rng(0)
    for n in (1, 5, 11):  # the number of tiles is dynamic
        tiles = rng.random((n, 1, 64, 64)).astype(np.float32)
        assert check_onnx_parity(model, path, tiles) < 1e-4


def test_checkpoint_round_trip_and_errors(tmp_path: Path) -> None:
    model = build_quality_model(QualityModelConfig(backbone="tiny", patch=32))
    save_quality_checkpoint(model, tmp_path / "q.pt")
    again = load_quality_checkpoint(tmp_path / "q.pt")
    x = torch.rand(3, 1, 32, 32)
    assert torch.equal(model.eval()(x)[0], again(x)[0])
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match=r"bad\.pt: not a quality checkpoint"):
        load_quality_checkpoint(tmp_path / "bad.pt")
    with pytest.raises(InputError, match="no such checkpoint"):
        load_quality_checkpoint(tmp_path / "missing.pt")


def test_export_and_score_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    import cv2

    from rig.cli import main

    torch.manual_seed(2)
    save_quality_checkpoint(build_quality_model(QualityModelConfig(backbone="tiny", patch=64)),
                            tmp_path / "q.pt")
    assert main(["quality", "export", "--run", str(tmp_path / "q.pt"), "-o",
                 str(tmp_path / "m.onnx"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["max_abs_diff_vs_torch"] < 1e-4
    photo = np.random.default_rng(0).integers(0, 256, (150, 200, 3)).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "shot.jpg"), photo)
    assert main(["quality", "score", str(tmp_path / "shot.jpg"), "--run", str(tmp_path / "q.pt"),
                 "--heatmap-dir", str(tmp_path / "maps"), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["photos"][0]
    assert 1 <= row["grade"] <= 4 and 0 <= row["p_bad"] <= 1 and row["tiles"] == 12
    assert cv2.imread(row["heatmap"]).shape == (150, 200, 3)
    assert main(["quality", "export", "--run", str(tmp_path), "-o", str(tmp_path / "x.onnx")]) == 3
    assert "no best.pt, last.pt or quality.pt" in capsys.readouterr().err
