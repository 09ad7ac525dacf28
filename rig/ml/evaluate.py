"""Evaluation in the published protocol: per-image PSNR/SSIM before and after restoration.

Display domain, 8-bit, data range 255, over the image area only (the mask), with
``calibration.metrics`` (SSIM of Wang et al. 2004, Gaussian σ=1.5). "Before" compares
the registered photo with the ground truth, "after" the restored photo (rounded to 8
bits, as it is saved). Summaries are mean ± SD (sample SD) per split, as in the
published table, plus a breakdown by preset and condition columns and the worst cases.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from calibration.metrics import psnr, ssim
from rig.errors import InputError
from rig.ml.checkpoint import CONFIG, load_run_model, run_input_norm
from rig.ml.data import SPLITS, Manifest, PairRecord, iter_pairs, read_manifest
from rig.ml.infer import TileConfig, restore_array, to_uint8
from rig.ml.photonorm import InputNorm

METRICS = ("psnr_before", "psnr_after", "ssim_before", "ssim_after")
MAX_GROUPS = 12  # more distinct numeric values than this are binned into tertiles


@dataclass(frozen=True)
class ImageScore:
    pair_id: str
    split: str
    preset: str
    conditions: dict[str, str]
    psnr_before: float
    psnr_after: float
    ssim_before: float
    ssim_after: float


@dataclass
class EvalReport:
    model: str
    run_dir: str
    data_dir: str
    splits: dict[str, dict[str, float]]
    conditions: dict[str, dict[str, dict[str, float]]]
    worst: list[dict[str, Any]]
    scores: list[ImageScore] = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "run_dir": self.run_dir, "data_dir": self.data_dir,
                "splits": self.splits, "conditions": self.conditions, "worst": self.worst}


def score_pair(model: nn.Module, rec: PairRecord, aligned: np.ndarray, truth: np.ndarray,
               mask: np.ndarray, device: torch.device, tile: TileConfig,
               norm: InputNorm) -> tuple[ImageScore, np.ndarray]:
    restored = to_uint8(restore_array(model, aligned, device, tile, norm))
    score = ImageScore(rec.pair_id, rec.split, rec.preset, dict(rec.conditions),
                       psnr(truth, aligned, mask), psnr(truth, restored, mask),
                       ssim(truth, aligned, mask), ssim(truth, restored, mask))
    return score, restored


def _finite(values: list[float]) -> np.ndarray:
    arr = np.asarray(values, np.float64)
    return arr[np.isfinite(arr)]


def summarize(scores: list[ImageScore]) -> dict[str, float]:
    """n, and mean and sample SD of each metric (non-finite values, e.g. inf PSNR, left out)."""
    out: dict[str, float] = {"n": len(scores)}
    for name in METRICS:
        vals = _finite([getattr(s, name) for s in scores])
        out[name] = float(vals.mean()) if vals.size else math.nan
        out[f"{name}_sd"] = float(vals.std(ddof=1)) if vals.size > 1 else 0.0
    return out


def _as_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def condition_labels(values: list[str]) -> list[str]:
    """Group labels: the values themselves, or tertile bins for many numeric values."""
    numbers = [_as_float(v) for v in values]
    if len(set(values)) <= MAX_GROUPS or any(n is None for n in numbers):
        return [v or "(blank)" for v in values]
    arr = np.asarray(numbers, np.float64)
    lo, hi = np.quantile(arr, [1 / 3, 2 / 3])
    return [f"<= {lo:g}" if x <= lo else (f"<= {hi:g}" if x <= hi else f"> {hi:g}") for x in arr]


def by_condition(scores: list[ImageScore], columns: tuple[str, ...]) -> dict[str, dict[str, dict[str, float]]]:
    """Summaries per value of ``preset`` and of each condition column."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name in ("preset", *columns):
        values = [s.preset if name == "preset" else s.conditions.get(name, "") for s in scores]
        groups: dict[str, list[ImageScore]] = {}
        for label, s in zip(condition_labels(values), scores, strict=True):
            groups.setdefault(label, []).append(s)
        out[name] = {value: summarize(group) for value, group in sorted(groups.items())}
    return out


def worst_cases(scores: list[ImageScore], k: int = 5) -> list[dict[str, Any]]:
    ranked = sorted(scores, key=lambda s: s.psnr_after)[:k]
    return [{key: v for key, v in asdict(s).items() if key != "conditions"} for s in ranked]


def data_dir_of(run_dir: Path, given: Path | None) -> Path:
    if given is not None:
        return given
    cfg = run_dir / CONFIG
    if not cfg.is_file():
        raise InputError(f"{run_dir}: no {CONFIG}; pass --data DIR")
    return Path(json.loads(cfg.read_text())["data"])


def evaluate_run(run_dir: Path, data_dir: Path | None = None, splits: tuple[str, ...] = ("test",),
                 device: torch.device | None = None, tile: TileConfig = TileConfig(),
                 on_image: Any = None) -> tuple[EvalReport, Manifest]:
    """Score every pair of ``splits`` with the run's best model."""
    dev = device or torch.device("cpu")
    model, meta = load_run_model(run_dir, dev)
    data = data_dir_of(run_dir, data_dir)
    manifest = read_manifest(data)
    unknown = [s for s in splits if s not in SPLITS]
    if unknown:
        raise InputError(f"--split {unknown[0]}: use one of {', '.join(SPLITS)}")
    scores: list[ImageScore] = []
    for split in splits:
        for rec, pair in iter_pairs(manifest.split(split)):
            score, _ = score_pair(model, rec, pair.aligned, pair.truth, pair.mask, dev, tile,
                                  run_input_norm(meta))
            scores.append(score)
            if on_image is not None:
                on_image(score)
    if not scores:
        raise InputError(f"{data / 'manifest.csv'}: no pairs in split(s) {', '.join(splits)}")
    summary = {s: summarize([x for x in scores if x.split == s]) for s in splits
               if any(x.split == s for x in scores)}
    report = EvalReport(str(meta["model_name"]), str(run_dir), str(data), summary,
                        by_condition(scores, manifest.condition_columns), worst_cases(scores), scores)
    return report, manifest


def table_markdown(splits: dict[str, dict[str, float]]) -> str:
    """The published table's layout: rows split x {before, after}; columns PSNR, SSIM."""
    lines = ["| split | | PSNR (dB) | SSIM | n |", "|---|---|---|---|---|"]
    for split, s in splits.items():
        for when in ("before", "after"):
            lines.append(f"| {split} | {when} | {s[f'psnr_{when}']:.2f} ± {s[f'psnr_{when}_sd']:.2f} "
                         f"| {s[f'ssim_{when}']:.3f} ± {s[f'ssim_{when}_sd']:.3f} | {int(s['n'])} |")
    return "\n".join(lines)
