"""Training diagnosis classifiers on dataset folders, on the shared loop.

The classifier ``Task`` for ``rig.ml.trainer``: samples from ``clsdata`` (one image per
sample, augmented, deterministic), binary cross-entropy per label with the run's
uncertainty policy (``labels``), validation AUROC (mean over the labels that have both
classes in the validation split) for model selection and early stopping.

A run records the labels, the policy, the view(s) it trained on and, for ``restored``
or ``mixed``, the restoration run whose output it saw.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rig.atomic import write_text_atomic
from rig.errors import InputError, UsageError
from rig.ml.classifier import build_classifier, classifier_spec
from rig.ml.clsdata import ClassifyDataset, to_tensor
from rig.ml.data import Manifest, PairRecord, fingerprint, read_manifest
from rig.ml.labels import check_policy, evaluation_truth, parse_value, training_targets
from rig.ml.stats import auroc
from rig.ml.trainer import EventSink, LoopConfig, LossOut, ModelBuild, TrainResult, fit
from rig.ml.views import Restorer, ViewImages, check_train_on, views_of

CONFIG_NAME = "config.json"


@dataclass(frozen=True)
class ClassifyConfig:
    model: str = "resnet18"
    labels: tuple[str, ...] = ()
    policy: str = "u-ignore"
    train_on: str = "dicom"
    input_size: int = 0  # 0: the model's default (xception 299, densenet121 320, others 224)
    weights: str = ""  # a local state-dict file; "" = random init
    restore_run: str = ""  # for the restored view (train on restored/mixed)
    augment: bool = True
    epochs: int = 10
    steps_per_epoch: int = 0  # 0: one pass over the training images per epoch
    batch: int = 0  # 0: the model's default (per process)
    lr: float = 0.0  # 0: the model's default
    weight_decay: float = 1e-4
    seed: int = 0
    budget_min: float | None = None
    patience: int = 5
    device: str = "auto"
    cpu_bf16: bool = False
    num_workers: int = 0

    def loop(self) -> LoopConfig:
        return LoopConfig(epochs=self.epochs, steps_per_epoch=self.steps_per_epoch,
                          batch=self.batch, lr=self.lr, weight_decay=self.weight_decay,
                          seed=self.seed, budget_min=self.budget_min, patience=self.patience,
                          min_gain=1e-4, device=self.device, cpu_bf16=self.cpu_bf16,
                          num_workers=self.num_workers)

    @property
    def eval_view(self) -> str:
        """The view validation (and the Youden threshold) uses: the training view."""
        return "dicom" if self.train_on == "mixed" else self.train_on


def resolve(cfg: ClassifyConfig, n_train: int) -> ClassifyConfig:
    """Fill the model's defaults and check the settings."""
    spec = classifier_spec(cfg.model)
    check_policy(cfg.policy)
    check_train_on(cfg.train_on)
    if cfg.train_on in ("restored",) and not cfg.restore_run:
        raise UsageError("--train-on restored needs the restoration run: --restore RUN")
    out = replace(cfg, input_size=cfg.input_size or spec.input_size, batch=cfg.batch or spec.batch,
                  lr=cfg.lr or spec.lr)
    if out.input_size < 32:
        raise UsageError("--input-size must be >= 32 (224, 299 and 320 are the usual)")
    out = replace(out, steps_per_epoch=out.steps_per_epoch or max(1, math.ceil(n_train / out.batch)))
    out.loop().check()
    return out


def label_columns(manifest: Manifest) -> list[str]:
    """Columns of the manifest that hold only label values (candidates for --labels)."""
    out = []
    for col in manifest.columns:
        if col.startswith(("cond_", "q_")) or col in ("session", "item", "attempt", "verified"):
            continue
        values = {r.extra.get(col, "").strip() for r in manifest.records}
        if col in manifest.records[0].extra and values <= {"", "0", "1", "-1", "0.0", "1.0", "-1.0"}:
            out.append(col)
    return out


def label_matrix(manifest: Manifest, records: Sequence[PairRecord],
                 labels: Sequence[str]) -> list[list[float | None]]:
    """Label values (1, 0, −1, None) of each record, in ``labels`` order."""
    missing = [name for name in labels if name not in manifest.columns]
    if missing:
        have = ", ".join(label_columns(manifest)) or "none"
        raise InputError(f"{manifest.root / 'manifest.csv'}: no label column '{missing[0]}' "
                         f"(label columns there: {have})")
    return [[parse_value(r.extra.get(name, ""), f"pair {r.pair_id} label '{name}'") for name in labels]
            for r in records]


def truth_matrix(values: list[list[float | None]]) -> np.ndarray:
    """(N, L) evaluation truth: 1, 0, or -1 for uncertain (not scored)."""
    out = np.full((len(values), len(values[0]) if values else 0), -1, np.int8)
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            t = evaluation_truth(v)
            out[i, j] = -1 if t is None else t
    return out


@torch.no_grad()
def predict(model: nn.Module, images: Sequence[np.ndarray], device: torch.device,
            batch: int = 32, cpu_bf16: bool = False) -> np.ndarray:
    """Probabilities (N, L) for (S, S) uint8 images."""
    model.eval()
    use_amp = device.type == "cuda" or cpu_bf16
    amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    out = []
    for i in range(0, len(images), batch):
        x = torch.stack([to_tensor(im.astype(np.float32) / 255.0) for im in images[i : i + batch]])
        with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=use_amp):
            logits = model(x.to(device))
        out.append(torch.sigmoid(logits.float()).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def mean_auroc(truth: np.ndarray, probs: np.ndarray) -> float:
    """Mean AUROC over the labels with both classes (NaN if none has)."""
    values = [auroc(truth[keep, j], probs[keep, j]) for j in range(truth.shape[1])
              for keep in [truth[:, j] >= 0]]
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


@dataclass
class ClassificationTask:
    """Classification as the shared loop sees it (``rig.ml.trainer.Task``)."""

    cfg: ClassifyConfig
    manifest: Manifest
    fingerprint: str
    images: ViewImages
    kind: str = "classify"
    closed_form: bool = False
    _train: list[PairRecord] = field(default_factory=list)
    _valid: list[PairRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._train = self.manifest.split("train")
        self._valid = self.manifest.split("valid") or self._train
        values = label_matrix(self.manifest, self._train, self.cfg.labels)
        pairs = [training_targets(v, self.cfg.policy) for v in values]
        self._targets = np.stack([p[0] for p in pairs])
        self._weights = np.stack([p[1] for p in pairs])
        self._val_truth = truth_matrix(label_matrix(self.manifest, self._valid, self.cfg.labels))

    def build(self) -> ModelBuild:
        weights = Path(self.cfg.weights) if self.cfg.weights else None
        model = build_classifier(self.cfg.model, len(self.cfg.labels), weights)
        spec = classifier_spec(self.cfg.model)
        return ModelBuild(model, self.cfg.model, {"labels": list(self.cfg.labels),
                                                  "input_size": self.cfg.input_size,
                                                  "timm": spec.timm_name or None})

    def prepare(self, model: nn.Module) -> None:
        return None

    def train_data(self, samples: int) -> ClassifyDataset:
        views = views_of(self.cfg.train_on, bool(self.cfg.restore_run))
        return ClassifyDataset(self._train, self._targets, self._weights, self.images, views,
                               samples, self.cfg.seed, self.cfg.augment)

    def forward(self, net: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        out: torch.Tensor = net(batch[0])  # (B, L) logits
        return out

    def loss(self, out: torch.Tensor, batch: tuple[torch.Tensor, ...]) -> LossOut:
        _, target, weight = batch
        bce = F.binary_cross_entropy_with_logits(out.float(), target, reduction="none")  # (B, L)
        count = weight.sum(dim=1)  # (B,) labels that count
        per = (bce * weight).sum(dim=1) / count.clamp(min=1e-12)
        return LossOut(per, count)

    def epoch_log(self, means: dict[str, float]) -> dict[str, Any]:
        return {}

    def validate(self, model: nn.Module, device: torch.device, cpu_bf16: bool) -> dict[str, float]:
        images = [self.images.get(r, self.cfg.eval_view) for r in self._valid]
        probs = predict(model, images, device, cpu_bf16=cpu_bf16)
        truth = self._val_truth
        known = truth >= 0
        p = np.clip(probs, 1e-7, 1 - 1e-7)
        bce = -(truth * np.log(p) + (1 - truth) * np.log(1 - p))
        val_loss = float(bce[known].mean()) if known.any() else math.nan
        val_auroc = mean_auroc(truth, probs)
        score = val_auroc if math.isfinite(val_auroc) else -val_loss
        return {"val_auroc": val_auroc, "val_loss": val_loss, "score": score}

    def describe(self) -> dict[str, Any]:
        return {**asdict(self.cfg), "labels": list(self.cfg.labels), "eval_view": self.cfg.eval_view}


def classify_fingerprint(manifest: Manifest, cfg: ClassifyConfig) -> str:
    """The data's fingerprint, plus the restoration run's weights when a run sees them."""
    import hashlib

    from rig.ml.checkpoint import best_or_last

    base = fingerprint(manifest)
    if cfg.restore_run and cfg.train_on in ("restored", "mixed"):
        weights = best_or_last(Path(cfg.restore_run)).read_bytes()
        base = hashlib.sha256(base.encode() + hashlib.sha256(weights).digest()).hexdigest()
    return base


def train_classifier(data_dir: Path, run_dir: Path, config: ClassifyConfig, *,
                     resume: bool = False, on_event: EventSink | None = None,
                     clock: Callable[[], float] = time.monotonic) -> TrainResult:
    """Train ``config.model`` on a dataset folder's labels into ``run_dir``."""
    manifest = read_manifest(data_dir)
    train = manifest.split("train")
    if not train:
        raise InputError(f"{data_dir / 'manifest.csv'}: no pairs in the train split")
    cfg = resolve(config, len(train))
    if (run_dir / "last.pt").is_file() and not resume:
        raise UsageError(f"{run_dir}: already holds a run; pass --resume or choose a new -o folder")
    restorer = Restorer(Path(cfg.restore_run)) if cfg.restore_run else None
    images = ViewImages(cfg.input_size, restorer)
    fp = classify_fingerprint(manifest, cfg)
    task = ClassificationTask(cfg, manifest, fp, images)
    run_dir.mkdir(parents=True, exist_ok=True)
    if not (run_dir / CONFIG_NAME).is_file() or not resume:
        write_text_atomic(run_dir / CONFIG_NAME, json.dumps(
            {"task": "classify", "train_config": task.describe(), "data": str(data_dir),
             "data_fingerprint": fp}, indent=2, sort_keys=True) + "\n")
    return fit(task, run_dir, cfg.loop(), resume=resume, on_event=on_event, clock=clock)
