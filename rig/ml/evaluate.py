"""Evaluation in the published protocol: per-image PSNR/SSIM before and after restoration.

Display domain, 8-bit, data range 255, over the image area only (the mask), with
``calibration.metrics`` (SSIM of Wang et al. 2004, Gaussian σ=1.5). "Before" compares
the registered photo with the ground truth, "after" the restored photo (rounded to 8
bits, as it is saved). Summaries are mean ± SD (sample SD) per split, as in the
published table, each with its patient-level bootstrap 95 % CI of the mean (images of
one patient are resampled together) and n; a breakdown by preset and the categorical
condition columns (``data.read_manifest`` picks them); the worst cases of each
evaluated split.
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
from rig.ml.stats import Undefined, bootstrap_mean_ci, fmt_interval

METRICS = ("psnr_before", "psnr_after", "ssim_before", "ssim_after")


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
    patient: str = ""


@dataclass
class EvalReport:
    model: str
    run_dir: str
    data_dir: str
    splits: dict[str, dict[str, Any]]
    conditions: dict[str, dict[str, dict[str, Any]]]
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
                       ssim(truth, aligned, mask), ssim(truth, restored, mask),
                       rec.patient or rec.pair_id)
    return score, restored


def _finite(values: list[float]) -> np.ndarray:
    arr = np.asarray(values, np.float64)
    return arr[np.isfinite(arr)]


def summarize(scores: list[ImageScore]) -> dict[str, Any]:
    """n, patients, and per metric the mean, sample SD and patient-level 95 % CI of the
    mean (non-finite values, e.g. inf PSNR, left out)."""
    out: dict[str, Any] = {"n": len(scores), "patients": len({s.patient for s in scores})}
    clusters = np.array([s.patient or s.pair_id for s in scores])
    for name in METRICS:
        raw = np.asarray([getattr(s, name) for s in scores], np.float64)
        vals = _finite(list(raw))
        out[name] = float(vals.mean()) if vals.size else math.nan
        out[f"{name}_sd"] = float(vals.std(ddof=1)) if vals.size > 1 else 0.0
        ci = bootstrap_mean_ci(raw, clusters) if vals.size else Undefined("no values")
        out[f"{name}_ci"] = list(ci) if isinstance(ci, tuple) else None
    return out


def by_condition(scores: list[ImageScore], columns: tuple[str, ...]) -> dict[str, dict[str, dict[str, Any]]]:
    """Summaries per value of ``preset`` and of each categorical condition column."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name in ("preset", *columns):
        groups: dict[str, list[ImageScore]] = {}
        for s in scores:
            value = s.preset if name == "preset" else s.conditions.get(name, "")
            groups.setdefault(value or "(blank)", []).append(s)
        out[name] = {value: summarize(group) for value, group in sorted(groups.items())}
    return out


def worst_cases(scores: list[ImageScore], k: int = 5) -> list[dict[str, Any]]:
    """The ``k`` lowest PSNR-after images of each evaluated split, split by split."""
    out: list[dict[str, Any]] = []
    for split in dict.fromkeys(s.split for s in scores):
        ranked = sorted((s for s in scores if s.split == split), key=lambda s: s.psnr_after)[:k]
        out += [{key: v for key, v in asdict(s).items() if key not in ("conditions", "patient")}
                for s in ranked]
    return out


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


def table_markdown(splits: dict[str, dict[str, Any]]) -> str:
    """The published table's layout: rows split x {before, after}; columns PSNR, SSIM,
    each mean ± SD with the patient-level 95 % CI of the mean; n images (patients)."""
    lines = ["| split | | PSNR (dB) mean ± SD [95 % CI] | SSIM mean ± SD [95 % CI] | n (patients) |",
             "|---|---|---|---|---|"]
    for split, s in splits.items():
        for when in ("before", "after"):
            p, q = f"psnr_{when}", f"ssim_{when}"
            lines.append(f"| {split} | {when} | {s[p]:.2f} ± {s[p + '_sd']:.2f} {fmt_interval(s.get(p + '_ci'), 2)} "
                         f"| {s[q]:.3f} ± {s[q + '_sd']:.3f} {fmt_interval(s.get(q + '_ci'), 3)} "
                         f"| {int(s['n'])} ({int(s.get('patients', s['n']))}) |")
    return "\n".join(lines)
