"""ONNX export of the quality model (tiles -> grade probabilities and attention), for phones.

The graph takes one photo's bag, ``tiles`` float32 (N, C, P, P) in 0..1 with N dynamic,
and returns ``logits`` (K-1,), ``cumulative_le`` (K-1,) = P(grade <= k) and
``attention`` (N,). Exported with the TorchScript-based exporter at opset 17 (no
``onnxscript`` needed); ``check_onnx_parity`` runs onnxruntime against PyTorch.
"""

from __future__ import annotations

import io
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rig.atomic import write_bytes_atomic
from rig.errors import InputError
from rig.ml.models.quality import QualityMIL, QualityModelConfig, build_quality_model, cumulative_le

OPSET = 17
INPUT, OUTPUTS = "tiles", ("logits", "cumulative_le", "attention")


class _Exported(nn.Module):
    def __init__(self, model: QualityMIL) -> None:
        super().__init__()
        self.model = model

    def forward(self, tiles: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits, attention = self.model(tiles)
        return logits, cumulative_le(logits), attention


def export_onnx(model: QualityMIL, path: Path, example_tiles: int = 2) -> Path:
    """Write ``model`` as ONNX to ``path`` (atomically); the number of tiles is dynamic."""
    cfg = model.cfg
    model = model.eval().cpu()
    example = torch.rand(example_tiles, cfg.in_chans, cfg.patch, cfg.patch)
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / "model.onnx"
        with warnings.catch_warnings():
            # The TorchScript exporter is deprecated in favour of torch.export, which needs
            # onnxscript; torch is pinned (2.14.1) and this path is tested for parity.
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                _Exported(model), (example,), str(staged), dynamo=False, opset_version=OPSET,
                input_names=[INPUT], output_names=list(OUTPUTS),
                dynamic_axes={INPUT: {0: "tiles"}, "attention": {0: "tiles"}},
            )
        write_bytes_atomic(path, staged.read_bytes())
    return path


def onnx_scores(path: Path, tiles: np.ndarray) -> dict[str, np.ndarray]:
    """Run the exported graph with onnxruntime on (N, C, P, P) float32 tiles."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    values = session.run(list(OUTPUTS), {INPUT: tiles.astype(np.float32)})
    return dict(zip(OUTPUTS, (np.asarray(v) for v in values), strict=True))


@torch.no_grad()
def check_onnx_parity(model: QualityMIL, path: Path, tiles: np.ndarray) -> float:
    """Largest absolute difference between onnxruntime's and PyTorch's outputs."""
    model = model.eval().cpu()
    logits, attention = model(torch.from_numpy(tiles.astype(np.float32)))
    ours = {"logits": logits, "cumulative_le": cumulative_le(logits), "attention": attention}
    theirs = onnx_scores(path, tiles)
    return max(float(np.abs(ours[k].numpy() - theirs[k]).max()) for k in OUTPUTS)


def load_quality_checkpoint(path: Path) -> QualityMIL:
    """A model from a ``{"config": QualityModelConfig dict, "model": state_dict}`` file."""
    try:
        state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
        model = build_quality_model(QualityModelConfig.from_dict(dict(state["config"])))
        model.load_state_dict(state["model"])
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such checkpoint") from exc
    except Exception as exc:  # torch raises many types for truncated or foreign files
        raise InputError(f"{path}: not a quality checkpoint with 'config' and 'model' "
                         f"({type(exc).__name__}: {exc})") from exc
    return model.eval()


def save_quality_checkpoint(model: QualityMIL, path: Path) -> None:
    buffer = io.BytesIO()
    torch.save({"config": model.cfg.to_dict(), "model": model.state_dict()}, buffer)
    write_bytes_atomic(path, buffer.getvalue())
