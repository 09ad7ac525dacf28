"""The quality model as a training *task*: what a generic training loop needs, no loop.

``QualityTask`` has the shape of the shared trainer's ``Task`` protocol (``kind``,
``fingerprint``, ``build``, ``prepare``, ``train_data``, ``forward``, ``loss``,
``validate``, ``describe``), so ``rig train quality`` is the trainer called with it.
It returns the trainer's own ``LossOut`` and ``ModelBuild``.

Training samples are bags of a *fixed* number of tiles (``bag_size``, drawn from the
photo's tiles with replacement only when it has fewer): fixed-size bags stack into
ordinary (B, N, C, P, P) batches for any DataLoader, and random subsets augment. Sample
i of epoch e depends only on (seed, e, i). Validation scores whole photos (every tile).
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from rig.ml.models.quality import (
    QualityModelConfig,
    build_quality_model,
    cumulative_le,
    predicted_grade,
)
from rig.ml.trainer import LossOut, ModelBuild
from rig.quality import evaluation


@dataclass(frozen=True)
class BagSource:
    """One labelled photo: ``load`` returns its tiles (N, P, P) uint8 (and boxes)."""

    photo: str
    patient: str
    grade: int
    load: Callable[[], np.ndarray]


@dataclass(frozen=True)
class QualityTaskConfig:
    model: QualityModelConfig = field(default_factory=QualityModelConfig)
    bag_size: int = 16  # tiles per training bag
    min_grade: int = 3  # bad := grade < min_grade (for validation AUC)
    seed: int = 0
    cache_photos: int = 64


def corn_loss_per_sample(logits: torch.Tensor, grades: torch.Tensor) -> tuple[torch.Tensor,
                                                                              torch.Tensor]:
    """CORN's loss split per sample: (mean loss over the sample's tasks, number of tasks).

    Task j (grade > j+1 given grade > j) sees the samples with grade > j; weighting each
    sample's mean by its task count gives back ``coral_pytorch.losses.corn_loss``.
    """
    k1 = logits.shape[-1]
    y = grades.long() - 1  # 0-based rank
    j = torch.arange(k1, device=logits.device)
    in_task = (y[:, None] >= j[None, :]).float()  # sample takes part in task j
    target = (y[:, None] > j[None, :]).float()
    bce = nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none")
    count = in_task.sum(1)
    per_sample = (bce * in_task).sum(1) / count.clamp(min=1.0)
    return per_sample, count


class BagData(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Sample i of epoch e: photo order[i], ``bag_size`` of its tiles, from (seed, e, i)."""

    def __init__(self, sources: Sequence[BagSource], samples: int, bag_size: int, seed: int,
                 tiles: Callable[[int], np.ndarray]) -> None:
        self.sources, self.samples, self.bag_size, self.seed = sources, samples, bag_size, seed
        self.tiles = tiles
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.samples

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.sources))
        index = int(order[i % len(order)])
        rng = np.random.default_rng([self.seed, self.epoch, i])
        tiles = self.tiles(index)
        pick = rng.choice(len(tiles), self.bag_size, replace=len(tiles) < self.bag_size)
        x = torch.from_numpy(np.ascontiguousarray(tiles[pick])).float().div_(255.0)
        if x.ndim == 3:
            x = x.unsqueeze(1)  # (N, 1, P, P)
        return x, torch.tensor(self.sources[index].grade, dtype=torch.long)


class QualityTask:
    """The quality model for a generic training loop (see the module docstring)."""

    kind = "quality"
    closed_form = False

    def __init__(self, cfg: QualityTaskConfig, train: Sequence[BagSource],
                 valid: Sequence[BagSource]) -> None:
        self.cfg, self.train, self.valid = cfg, list(train), list(valid)
        self._cache: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        ids = [(s.photo, s.grade) for s in self.train] + [("valid", 0)] + [
            (s.photo, s.grade) for s in self.valid]
        self.fingerprint = hashlib.sha256(json.dumps(ids).encode()).hexdigest()[:16]

    def _tiles(self, split: str, sources: Sequence[BagSource], index: int) -> np.ndarray:
        key = (split, index)
        if key not in self._cache:
            self._cache[key] = sources[index].load()
            while len(self._cache) > self.cfg.cache_photos:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        return self._cache[key]

    def build(self) -> ModelBuild:
        torch.manual_seed(self.cfg.seed)
        return ModelBuild(build_quality_model(self.cfg.model), f"quality-{self.cfg.model.backbone}",
                          self.cfg.model.to_dict())

    def prepare(self, model: nn.Module) -> None:
        """Nothing is fitted in closed form before training."""

    def train_data(self, samples: int) -> BagData:
        return BagData(self.train, samples, self.cfg.bag_size, self.cfg.seed,
                       lambda i: self._tiles("train", self.train, i))

    def forward(self, net: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """(B, N, C, P, P) bags -> (B, K-1) CORN logits."""
        logits, _ = net(batch[0])  # through the (possibly DDP-wrapped) module's forward
        return torch.as_tensor(logits)

    def loss(self, out: torch.Tensor, batch: tuple[torch.Tensor, ...]) -> LossOut:
        per_sample, count = corn_loss_per_sample(out.float(), batch[1])
        return LossOut(per_sample, count)

    def predictions(self, out: torch.Tensor) -> dict[str, torch.Tensor]:
        """Batch outputs -> predicted grade (B,) and P(grade <= k) (B, K-1)."""
        return {"grade": predicted_grade(out), "cumulative_le": cumulative_le(out)}

    def epoch_log(self, means: dict[str, float]) -> dict[str, Any]:
        return {"train_loss": means.get("loss")}

    @torch.no_grad()
    def validate(self, model: nn.Module, device: torch.device, cpu_bf16: bool = False
                 ) -> dict[str, float]:
        """Whole validation photos: ordinal MAE, QWK, AUC of P(bad); ``score`` = QWK."""
        model.eval()
        grades, predicted, cum = [], [], []
        for index, source in enumerate(self.valid):
            tiles = self._tiles("valid", self.valid, index)
            x = torch.from_numpy(np.ascontiguousarray(tiles)).float().div_(255.0)
            x = (x.unsqueeze(1) if x.ndim == 3 else x).to(device)
            logits, _ = model(x)
            grades.append(source.grade)
            predicted.append(int(predicted_grade(logits)))
            cum.append(cumulative_le(logits).float().cpu().numpy())
        return self.metrics(np.array(grades), np.array(predicted), np.array(cum))

    def metrics(self, grades: np.ndarray, predicted: np.ndarray, cum_le: np.ndarray
                ) -> dict[str, float]:
        if len(grades) == 0:
            return {"score": float("nan")}
        table = evaluation.ordinal_table(grades, predicted)
        bad = grades < self.cfg.min_grade
        cut = self.cfg.min_grade - 1  # P(grade <= min_grade - 1) = P(bad)
        return {"val_mae": table["mae"], "val_qwk": table["qwk"],
                "val_auc": evaluation.auc(bad, cum_le[:, cut - 1]) if cut >= 1 else float("nan"),
                "score": table["qwk"]}

    def describe(self) -> dict[str, Any]:
        return {**asdict(self.cfg), "train_photos": len(self.train),
                "valid_photos": len(self.valid)}
