"""Run folders and versioned checkpoints, shared by every model family.

A run folder holds ``last.pt`` (everything needed to resume exactly), ``best.pt`` (the
weights with the best validation score, plus configs), ``metrics.jsonl`` (one line per
epoch) and ``config.json``. Files are written atomically (temp + rename), so a run killed
mid-save resumes from the previous checkpoint.

Checkpoint format 2 (``format``: 2): ``task`` ("restore", "classify", "quality"), ``model``
(state dict), ``optimizer`` and ``scaler`` (``last.pt`` only), ``model_name``,
``model_config``, ``train_config`` (the task's settings, with the loop's under
``loop``), ``data_fingerprint`` and ``run`` (``rig.ml.trainer.RunState`` as a dict).
Format 1 — restoration checkpoints written before the shared trainer, with the run
state as top-level keys — is read by converting it to format 2 on load.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rig.atomic import write_bytes_atomic, write_text_atomic
from rig.errors import InputError
from rig.ml.photonorm import InputNorm

LAST, BEST, METRICS, CONFIG = "last.pt", "best.pt", "metrics.jsonl", "config.json"
FORMAT = 2


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_bytes_atomic(path, buffer.getvalue())


def _v1_run_state(state: dict[str, Any]) -> dict[str, Any]:
    """The run state of a format-1 (restoration) checkpoint, as format 2 keeps it."""
    spe = int((state.get("train_config") or {}).get("steps_per_epoch", 1))
    epoch = int(state.get("epoch", -1))
    psnr, ssim = state.get("best_val_psnr", math.nan), state.get("best_val_ssim", math.nan)
    return {
        "epoch": epoch,
        # Written before step-based plans: those runs trained whole epochs of full length.
        "steps_done": int(state.get("steps_done", (epoch + 1) * spe)),
        "planned_steps": int(state.get("planned_steps",
                                       int(state.get("planned_epochs", epoch + 1)) * spe)),
        "train_s": float(state.get("train_s", state.get("elapsed_s", 0.0))),
        "elapsed_s": float(state.get("elapsed_s", 0.0)),
        # Written before SSIM selection: those runs were MSE-only, PSNR-selected.
        "best_score": float(state.get("best_score", psnr)),
        "best": {"val_psnr": psnr, "val_ssim": ssim},
        "init": {"val_psnr": state.get("init_val_psnr", math.nan),
                 "val_ssim": state.get("init_val_ssim", math.nan)},
        "since_best": int(state.get("since_best", 0)),
        "history": list(state.get("history", [])),
        "done": bool(state.get("done", False)),
        "stop_reason": str(state.get("stop_reason", "")),
    }


def upgrade(state: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint of any known format, as format 2."""
    if state.get("format") == FORMAT:
        return state
    if "format" in state:
        raise InputError(f"checkpoint format {state['format']} is newer than this rig reads "
                         f"({FORMAT}); update rig")
    new: dict[str, Any] = {k: state[k] for k in ("model", "optimizer", "scaler", "model_name", "model_config",
                                 "train_config", "data_fingerprint") if k in state}
    new.update(format=FORMAT, task="restore", run=_v1_run_state(state))
    return new


def load_checkpoint(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(f"{path}: no checkpoint; train first ('rig train restore' or "
                         "'rig train classify')")
    try:
        state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for truncated/foreign files
        raise InputError(f"{path}: not a readable rig checkpoint ({type(exc).__name__})") from exc
    if not isinstance(state, dict) or "model_name" not in state or "model" not in state:
        raise InputError(f"{path}: not a rig checkpoint")
    return upgrade(state)


def write_metrics(run_dir: Path, history: list[dict[str, Any]]) -> None:
    write_text_atomic(run_dir / METRICS, "".join(json.dumps(h) + "\n" for h in history))


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / METRICS
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _restoration_model(name: str, config: dict[str, Any]) -> nn.Module:
    from rig.ml.models import build_model

    return build_model(name, config)[0]


def _classifier_model(name: str, config: dict[str, Any]) -> nn.Module:
    from rig.ml.classifier import rebuild_classifier

    return rebuild_classifier(name, config)


def _quality_model(name: str, config: dict[str, Any]) -> nn.Module:
    from rig.ml.models.quality import QualityModelConfig, build_quality_model

    # The run's weights are loaded next: no backbone weights file is read again.
    return build_quality_model(QualityModelConfig.from_dict({**config, "weights": None}))


# Which constructor rebuilds the model of a run, by the checkpoint's task.
REBUILD: dict[str, Callable[[str, dict[str, Any]], nn.Module]] = {
    "restore": _restoration_model,
    "classify": _classifier_model,
    "quality": _quality_model,
}


def best_or_last(run_dir: Path) -> Path:
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: no such run folder")
    return run_dir / BEST if (run_dir / BEST).is_file() else run_dir / LAST


def load_run_model(run_dir: Path, device: torch.device,
                   task: str | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """The best (else last) weights of a run, in eval mode, and the checkpoint's metadata.

    ``task``: the kind of run expected ("restore", "classify"); another is an InputError.
    """
    path = best_or_last(run_dir)
    state = load_checkpoint(path)
    if task is not None and state["task"] != task:
        raise InputError(f"{run_dir}: a '{state['task']}' run, not a '{task}' run")
    model = REBUILD[state["task"]](state["model_name"], state["model_config"])
    model.load_state_dict(state["model"])
    model.to(device).eval()
    meta = {k: v for k, v in state.items() if k not in ("model", "optimizer", "scaler")}
    return model, meta


def run_input_norm(meta: dict[str, Any]) -> InputNorm:
    """The input normalisation a run was trained with (from its checkpoint metadata)."""
    return InputNorm.from_dict((meta.get("train_config") or {}).get("input_norm"))
