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
