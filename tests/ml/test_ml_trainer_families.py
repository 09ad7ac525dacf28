"""The shared trainer runs every model family: the image-quality model's task
(``rig.quality.task.QualityTask``, MIL + CORN) trains, checkpoints, resumes exactly and
reloads through the same loop and run folders as restoration and classification."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rig.ml import checkpoint as ckpt
from rig.ml.models.quality import QualityModelConfig
from rig.ml.trainer import EpochDone, Event, LoopConfig, fit
from rig.quality.task import BagSource, QualityTask, QualityTaskConfig


def _sources(n: int, seed: int) -> list[BagSource]:
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        grade = 1 + k % 4
        # Worse grades are noisier: something to learn from the tiles.
        tiles = np.clip(128 + rng.normal(0, 12 * (5 - grade), (6, 32, 32)), 0, 255).astype(np.uint8)
        out.append(BagSource(f"ph{k}", f"pat{k // 2}", grade, lambda t=tiles: t))
    return out


def _task() -> QualityTask:
    cfg = QualityTaskConfig(model=QualityModelConfig(backbone="tiny", patch=32, attention_dim=8), bag_size=4)
    return QualityTask(cfg, _sources(12, 0), _sources(4, 1))


LOOP = LoopConfig(epochs=3, steps_per_epoch=2, batch=4, lr=3e-3, device="cpu", patience=100)


def test_the_quality_task_trains_resumes_and_reloads_on_the_shared_loop(tmp_path: Path) -> None:
    result = fit(_task(), tmp_path / "straight", LOOP)
    assert result.steps_done == 6 and result.stop_reason == "epochs"

    class Killed(Exception):
        pass

    def kill(event: Event) -> None:
        if isinstance(event, EpochDone) and event.epoch == 0:
            raise Killed

    with pytest.raises(Killed):
        fit(_task(), tmp_path / "resumed", LOOP, on_event=kill)
    fit(_task(), tmp_path / "resumed", LOOP, resume=True)
    a = ckpt.load_checkpoint(tmp_path / "straight" / ckpt.LAST)
    b = ckpt.load_checkpoint(tmp_path / "resumed" / ckpt.LAST)
    assert a["task"] == "quality" and a["format"] == ckpt.FORMAT
    for key, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][key]), key
    model, meta = ckpt.load_run_model(tmp_path / "straight", torch.device("cpu"), task="quality")
    assert meta["model_name"] == "quality-tiny"
    with torch.no_grad():
        logits, attention = model(torch.rand(5, 1, 32, 32))
    assert logits.shape[-1] == 3 and attention.shape[-1] == 5
    assert "val_qwk" in ckpt.read_metrics(tmp_path / "straight")[-1]
