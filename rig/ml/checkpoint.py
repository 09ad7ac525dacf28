"""Run folders: checkpoints (model + optimiser + config + data fingerprint), metrics log.

A run folder holds ``last.pt`` (everything needed to resume exactly), ``best.pt`` (the
weights with the best validation PSNR, plus configs), ``metrics.jsonl`` (one line per
epoch) and ``config.json``. Files are written atomically (temp + rename), so a run killed
mid-save resumes from the previous checkpoint.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rig.atomic import write_bytes_atomic, write_text_atomic
from rig.errors import InputError
from rig.ml.models import build_model
from rig.ml.photonorm import InputNorm

LAST, BEST, METRICS, CONFIG = "last.pt", "best.pt", "metrics.jsonl", "config.json"


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_bytes_atomic(path, buffer.getvalue())


def load_checkpoint(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(f"{path}: no checkpoint; train first with 'rig train restore'")
    try:
        state: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for truncated/foreign files
        raise InputError(f"{path}: not a readable rig checkpoint ({type(exc).__name__})") from exc
    if "model_name" not in state or "model" not in state:
        raise InputError(f"{path}: not a rig restoration checkpoint")
    return state


def write_metrics(run_dir: Path, history: list[dict[str, Any]]) -> None:
    write_text_atomic(run_dir / METRICS, "".join(json.dumps(h) + "\n" for h in history))


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / METRICS
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def load_run_model(run_dir: Path, device: torch.device) -> tuple[nn.Module, dict[str, Any]]:
    """The best (else last) weights of a run, in eval mode, and the checkpoint's metadata."""
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: no such run folder")
    path = run_dir / BEST if (run_dir / BEST).is_file() else run_dir / LAST
    state = load_checkpoint(path)
    model, _ = build_model(state["model_name"], state["model_config"])
    model.load_state_dict(state["model"])
    model.to(device).eval()
    meta = {k: v for k, v in state.items() if k not in ("model", "optimizer", "scaler")}
    return model, meta


def run_input_norm(meta: dict[str, Any]) -> InputNorm:
    """The input normalisation a run was trained with (from its checkpoint metadata)."""
    return InputNorm.from_dict((meta.get("train_config") or {}).get("input_norm"))
