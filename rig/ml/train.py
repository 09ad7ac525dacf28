"""Training restoration models (registered photo -> displayed image) on the shared loop.

The loop itself — fixed steps or a time budget, exact resume, CUDA/AMP, torchrun DDP,
checkpoints — is ``rig.ml.trainer``; this module is the restoration ``Task``: random
patches of the normalised photo (``data.PatchDataset``: patch i of epoch e from
``rng([seed, e, i])``), a per-sample masked loss (``losses``), validation PSNR/SSIM on
whole images, and the closed-form tone curve fitted before any step (and as the
``tonecurve`` model itself).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rig.atomic import write_text_atomic
from rig.errors import InputError, UsageError
from rig.ml.data import (
    LoadedPair,
    Manifest,
    PairRecord,
    PatchDataset,
    fingerprint,
    iter_pairs,
    read_manifest,
)
from rig.ml.infer import TileConfig, restore_array, to_uint8
from rig.ml.losses import loss_fn, masked_mse
from rig.ml.models import build_model, model_entry, tone_module
from rig.ml.models.tonecurve import accumulate, fit_lut
from rig.ml.photonorm import InputNorm, as_uint8
from rig.ml.trainer import (
    EpochDone,
    Event,
    EventSink,
    LoopConfig,
    LossOut,
    ModelBuild,
    StepDone,
    TrainResult,
    cpu_has_bf16,
    fit,
    pick_device,
)

__all__ = ["EpochDone", "Event", "EventSink", "StepDone", "TrainConfig", "TrainResult",
           "cpu_has_bf16", "pick_device", "train_from_folder", "train_from_shards"]


@dataclass(frozen=True)
class TrainConfig:
    model: str = "dncnn"
    model_options: dict[str, Any] = field(default_factory=dict)
    epochs: int = 20
    steps_per_epoch: int = 100
    patch: int = 0  # 0: the model's default
    batch: int = 0  # 0: the model's default (per process)
    lr: float = 0.0  # 0: the model's default
    loss: str = ""  # mse or ssim-l1 (rig.ml.losses); "": the model's default
    clip_grad: float = -1.0  # max gradient norm; 0: no clipping; < 0: the model's default
    seed: int = 0
    budget_min: float | None = None
    patience: int = 5  # epochs without a validation gain before stopping
    min_gain_db: float = 0.01
    val_max_images: int = 8
    device: str = "auto"
    cpu_bf16: bool = False  # bfloat16 autocast on CPU (AVX512-BF16/AMX: ~2x faster steps)
    num_workers: int = 0
    tile: int = 512
    val_crop: int = 0  # validate on the central crop of this side (0: whole images)
    input_norm: InputNorm = field(default_factory=InputNorm)  # per-photo tone stretch before the model (photonorm)

    def loop(self) -> LoopConfig:
        """The shared loop's part of this config."""
        return LoopConfig(epochs=self.epochs, steps_per_epoch=self.steps_per_epoch,
                          batch=self.batch, lr=self.lr, clip_grad=max(0.0, self.clip_grad),
                          seed=self.seed, budget_min=self.budget_min, patience=self.patience,
                          min_gain=self.min_gain_db, device=self.device, cpu_bf16=self.cpu_bf16,
                          num_workers=self.num_workers)


def resolve(cfg: TrainConfig) -> TrainConfig:
    """Fill model defaults (patch, batch, lr, loss, clipping) and check the numbers."""
    entry = model_entry(cfg.model)
    out = replace(cfg, patch=cfg.patch or entry.patch, batch=cfg.batch or entry.batch,
                  lr=cfg.lr or entry.lr, loss=cfg.loss or entry.loss,
                  clip_grad=entry.clip_grad if cfg.clip_grad < 0 else cfg.clip_grad)
    loss_fn(out.loss)  # a clear error for an unknown name, before any work
    out.loop().check()
    if out.patch < 1:
        raise UsageError("--patch must be >= 1")
    return out


def _centre(image: np.ndarray, side: int) -> np.ndarray:
    if side <= 0:
        return image
    h, w = image.shape
    y, x = max(0, (h - side) // 2), max(0, (w - side) // 2)
    return image[y : y + side, x : x + side]


@dataclass(frozen=True)
class ValScore:
    psnr: float  # dB, mean over the validation images
    ssim: float

    def score(self, loss: str) -> float:
        """What model selection and early stopping maximise, in dB either way.

        An MSE-trained net is judged by PSNR; an SSIM-trained one by -10·log10(1 - SSIM),
        so one ``min_gain_db`` threshold means a comparable step on both scales.
        """
        if loss == "mse":
            return self.psnr
        return float(-10 * math.log10(max(1.0 - self.ssim, 1e-9)))


def validate(model: nn.Module, records: list[PairRecord], device: torch.device, tile: int,
             crop: int = 0, norm: InputNorm | None = None, cpu_bf16: bool = False) -> ValScore:
    """Mean PSNR (dB) and SSIM (masked, 8-bit output) over the pairs (central crops if crop)."""
    return validate_pairs(model, (pair for _, pair in iter_pairs(records)), device, tile, crop, norm,
                          cpu_bf16)


def validate_pairs(model: nn.Module, pairs: Iterable[LoadedPair], device: torch.device, tile: int,
                   crop: int = 0, norm: InputNorm | None = None, cpu_bf16: bool = False) -> ValScore:
    """``validate`` on loaded pairs (from a folder or from shards)."""
    from calibration.metrics import psnr, ssim

    scores = []
    for pair in pairs:
        aligned, truth, mask = (_centre(a, crop) for a in (pair.aligned, pair.truth, pair.mask))
        restored = to_uint8(restore_array(model, aligned, device, TileConfig(tile=tile), norm,
                                          cpu_bf16))
        scores.append((psnr(truth, restored, mask), ssim(truth, restored, mask)))
    if not scores:
        return ValScore(float("nan"), float("nan"))
    return ValScore(*(float(v) for v in np.mean(scores, axis=0)))


def fit_tone_front(model: nn.Module, records: list[PairRecord], norm: InputNorm) -> None:
    """Fit the model's tone-curve LUT (if any) on ``records`` (normalised) in closed form."""
    fit_tone_front_pairs(model, (p for _, p in iter_pairs(records)), norm)


def fit_tone_front_pairs(model: nn.Module, pairs: Iterable[LoadedPair], norm: InputNorm) -> None:
    """``fit_tone_front`` on loaded pairs."""
    tone = tone_module(model)
    if tone is None:
        return
    count, total = accumulate((as_uint8(norm.apply(p.aligned)), p.truth, p.mask) for p in pairs)
    lut: torch.Tensor = tone.lut  # type: ignore[assignment]
    lut.copy_(torch.from_numpy(fit_lut(count, total) / 255.0).to(lut))


def _val_records(manifest: Manifest, cfg: TrainConfig) -> list[PairRecord]:
    recs = manifest.split("valid") or manifest.split("train")
    return recs[: cfg.val_max_images]


@dataclass
class _RestorationCore:
    """What restoration is to the shared loop, whatever feeds it (folder or shards)."""

    cfg: TrainConfig
    fingerprint: str

    def __post_init__(self) -> None:
        self.kind = "restore"
        self.closed_form = model_entry(self.cfg.model).closed_form
        self._criterion = loss_fn(self.cfg.loss)

    def build(self) -> ModelBuild:
        model, mcfg = build_model(self.cfg.model, self.cfg.model_options)
        return ModelBuild(model, self.cfg.model, asdict(mcfg))

    def forward(self, net: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        out: torch.Tensor = net(batch[0])  # (B, 1, P, P)
        return out

    def loss(self, out: torch.Tensor, batch: tuple[torch.Tensor, ...]) -> LossOut:
        _, y, m = batch
        per = self._criterion(out, y, m)
        mse = float(masked_mse(out.detach(), y, m).mean())
        return LossOut(per, torch.ones_like(per), {"mse": mse})

    def epoch_log(self, means: dict[str, float]) -> dict[str, Any]:
        mse = means.get("mse")
        return {"train_psnr": float(-10 * np.log10(max(mse, 1e-12))) if mse else None}

    def _scores(self, val: ValScore) -> dict[str, float]:
        return {"val_psnr": val.psnr, "val_ssim": val.ssim, "score": val.score(self.cfg.loss)}

    def describe(self) -> dict[str, Any]:
        return asdict(self.cfg)


@dataclass
class RestorationTask(_RestorationCore):
    """Restoration on a folders export (``rig.ml.trainer.Task``)."""

    manifest: Manifest = field(default=None)  # type: ignore[assignment]
    val_records: list[PairRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.val_records = _val_records(self.manifest, self.cfg)

    def prepare(self, model: nn.Module) -> None:
        fit_tone_front(model, self.manifest.split("train"), self.cfg.input_norm)

    def train_data(self, samples: int) -> PatchDataset:
        return PatchDataset(self.manifest.split("train"), self.cfg.patch, samples, self.cfg.seed,
                            self.cfg.input_norm)

    def validate(self, model: nn.Module, device: torch.device, cpu_bf16: bool) -> dict[str, float]:
        return self._scores(validate(model, self.val_records, device, self.cfg.tile, self.cfg.val_crop,
                                     self.cfg.input_norm, cpu_bf16))


TONE_FIT_PAIRS = 64  # pairs streamed for a tone-curve front's closed-form fit


@dataclass
class ShardRestorationTask(_RestorationCore):
    """Restoration streamed from WebDataset shards (``rig.ml.shards``)."""

    urls: list[str] = field(default_factory=list)
    pattern: str = ""
    val_pairs: list[LoadedPair] = field(default_factory=list)
    per_pair: int = 4

    def prepare(self, model: nn.Module) -> None:
        from rig.ml.shards import first_pairs

        if tone_module(model) is not None:
            fit_tone_front_pairs(model, first_pairs(self.urls, TONE_FIT_PAIRS), self.cfg.input_norm)

    def train_data(self, samples: int) -> Any:
        from rig.ml.shards import ShardPatches

        return ShardPatches(self.urls, self.pattern, self.cfg.patch, self.cfg.batch,
                            self.cfg.steps_per_epoch, self.cfg.seed, self.cfg.input_norm, self.per_pair)

    def validate(self, model: nn.Module, device: torch.device, cpu_bf16: bool) -> dict[str, float]:
        return self._scores(validate_pairs(model, self.val_pairs, device, self.cfg.tile, self.cfg.val_crop,
                                           self.cfg.input_norm, cpu_bf16))


def train_from_folder(data_dir: Path, run_dir: Path, config: TrainConfig, *, resume: bool = False,
                      on_event: EventSink | None = None,
                      clock: Callable[[], float] = time.monotonic) -> TrainResult:
    """Train ``config.model`` on a paired dataset folder into ``run_dir``."""
    cfg = resolve(config)
    manifest = read_manifest(data_dir)
    if not manifest.split("train"):
        raise InputError(f"{data_dir / 'manifest.csv'}: no pairs in the train split")
    fp = fingerprint(manifest)
    task = RestorationTask(cfg, fp, manifest)
    if (run_dir / "last.pt").is_file() and not resume:
        raise UsageError(f"{run_dir}: already holds a run; pass --resume or choose a new -o folder")
    run_dir.mkdir(parents=True, exist_ok=True)
    if not (run_dir / "config.json").is_file() or not resume:
        write_text_atomic(run_dir / "config.json", json.dumps(
            {"task": "restore", "train_config": asdict(cfg), "data": str(data_dir),
             "data_fingerprint": fp}, indent=2, sort_keys=True) + "\n")
    return fit(task, run_dir, cfg.loop(), resume=resume, on_event=on_event, clock=clock)


def train_from_shards(pattern: str, run_dir: Path, config: TrainConfig, *, valid_pattern: str = "",
                      resume: bool = False, on_event: EventSink | None = None,
                      clock: Callable[[], float] = time.monotonic) -> TrainResult:
    """Train ``config.model`` on pairs streamed from WebDataset shards into ``run_dir``.

    Validation: the first ``val_max_images`` pairs of ``valid_pattern`` (else of the
    training shards, as a folder without a valid split does).
    """
    from rig.ml.shards import expand_shards, first_pairs, shards_fingerprint

    cfg = resolve(config)
    urls = expand_shards(pattern)
    val_urls = expand_shards(valid_pattern) if valid_pattern else urls
    fp = shards_fingerprint(urls)
    task = ShardRestorationTask(cfg, fp, urls, pattern, first_pairs(val_urls, cfg.val_max_images))
    if (run_dir / "last.pt").is_file() and not resume:
        raise UsageError(f"{run_dir}: already holds a run; pass --resume or choose a new -o folder")
    run_dir.mkdir(parents=True, exist_ok=True)
    if (not (run_dir / "config.json").is_file() or not resume) and os.environ.get("RANK", "0") == "0":
        write_text_atomic(run_dir / "config.json", json.dumps(
            {"task": "restore", "train_config": asdict(cfg), "shards": pattern, "valid_shards": valid_pattern,
             "data_fingerprint": fp}, indent=2, sort_keys=True) + "\n")
    return fit(task, run_dir, cfg.loop(), resume=resume, on_event=on_event, clock=clock)
