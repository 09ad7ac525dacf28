"""The no-reference quality model: a bag of patches, attention MIL pooling, an ordinal head.

A photo is a bag of P × P tiles at native resolution (``rig.quality.patches``); a
backbone embeds each tile, gated attention (Ilse, Tomczak, Welling, "Attention-based
deep multiple instance learning", ICML 2018, eq. 9) weighs the tiles into one bag
embedding, and a CORN head (Shi, Cao, Raschka, "Deep neural networks for rank-consistent
ordinal regression based on conditional probabilities", 2023) predicts the grade:
logit j models P(grade > j+1 | grade > j), so P(grade > k) = Π_{j<k} σ(logit_j) can only
fall with k (rank consistency by construction, not by training). The loss is CORN's
(``coral_pytorch.losses.corn_loss``).

P(bad) = P(grade <= k*) = 1 − P(grade > k*); k* and its threshold come from validation
(``rig.quality.evaluation.choose_operating_point``). The attention weights say which
tiles drove the grade (``rig.quality.heatmap``).

Backbones (random init; never a download — ``weights`` names a local file for timm):
``vgg16`` (the skin-image study's), ``resnet18`` and ``efficientnet_b0`` for CPUs, and
``tiny`` (3 conv layers) for tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rig.errors import UsageError

NUM_GRADES = 4
PIXEL_MEAN, PIXEL_STD = 0.5, 0.25  # grey levels / 255, roughly centred


@dataclass(frozen=True)
class QualityModelConfig:
    backbone: str = "resnet18"
    patch: int = 224  # tile side at native resolution, px
    in_chans: int = 1  # grey photos (the aligned photo of a grey ground truth)
    attention_dim: int = 128  # L in Ilse et al.
    num_grades: int = NUM_GRADES
    dropout: float = 0.0
    weights: str | None = None  # a local timm checkpoint for the backbone

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityModelConfig:
        known = set(cls.__dataclass_fields__)
        bad = sorted(set(data) - known)
        if bad:
            raise UsageError(f"quality model config: unknown key(s) {', '.join(bad)}")
        return cls(**data)


class TinyBackbone(nn.Module):
    """Three strided convolutions and a global average: a test-sized patch embedder."""

    def __init__(self, in_chans: int, width: int = 16) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_chans, width, 5, stride=4, padding=2), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(2 * width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),
        )
        self.num_features = 2 * width

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, P, P) -> (N, F)
        return self.body(x).mean(dim=(2, 3))


def _timm_backbone(name: str) -> Callable[[QualityModelConfig], nn.Module]:
    def build(cfg: QualityModelConfig) -> nn.Module:
        import timm

        kwargs: dict[str, Any] = {"num_classes": 0, "in_chans": cfg.in_chans}
        if cfg.weights:  # a local file only: timm reads it instead of a hub
            kwargs["pretrained_cfg_overlay"] = {"file": cfg.weights}
        module: nn.Module = timm.create_model(name, pretrained=bool(cfg.weights), **kwargs)
        return module

    return build


BACKBONES: dict[str, Callable[[QualityModelConfig], nn.Module]] = {
    "tiny": lambda cfg: TinyBackbone(cfg.in_chans),
    "vgg16": _timm_backbone("vgg16"),
    "resnet18": _timm_backbone("resnet18"),
    "efficientnet_b0": _timm_backbone("efficientnet_b0"),
}


class GatedAttentionPool(nn.Module):
    """a_k = softmax_k(wᵀ(tanh(V h_k) ⊙ σ(U h_k))); z = Σ a_k h_k (Ilse et al. eq. 9)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.v = nn.Linear(dim, hidden)
        self.u = nn.Linear(dim, hidden)
        self.w = nn.Linear(hidden, 1)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # h: (..., N, D) tiles of a bag -> z (..., D), a (..., N)
        scores = self.w(torch.tanh(self.v(h)) * torch.sigmoid(self.u(h))).squeeze(-1)
        a = torch.softmax(scores, dim=-1)
        return (a.unsqueeze(-1) * h).sum(dim=-2), a


class QualityMIL(nn.Module):
    """Bags of tiles, values 0..1 -> CORN logits and tile attention.

    One bag (N, C, P, P) -> logits (K-1,), attention (N,); a batch of equal-size bags
    (B, N, C, P, P) -> (B, K-1), (B, N). Both go through ``forward`` (so DDP sees them).
    """

    def __init__(self, cfg: QualityModelConfig) -> None:
        super().__init__()
        if cfg.backbone not in BACKBONES:
            raise UsageError(f"unknown quality backbone '{cfg.backbone}'; choose one of "
                             f"{', '.join(BACKBONES)}")
        self.cfg = cfg
        self.backbone = BACKBONES[cfg.backbone](cfg)
        dim = int(getattr(self.backbone, "num_features"))  # noqa: B009 - timm and ours
        self.pool = GatedAttentionPool(dim, cfg.attention_dim)
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(dim, cfg.num_grades - 1)

    def forward(self, tiles: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lead = tiles.shape[:-3]  # (N,) or (B, N)
        h = self.backbone((tiles.reshape(-1, *tiles.shape[-3:]) - PIXEL_MEAN) / PIXEL_STD)
        z, a = self.pool(h.reshape(*lead, -1))  # (..., D), (..., N)
        return self.head(self.dropout(z)), a


def build_quality_model(cfg: QualityModelConfig) -> QualityMIL:
    return QualityMIL(cfg)


def prob_greater(logits: torch.Tensor) -> torch.Tensor:
    """(..., K-1) CORN logits -> P(grade > k) for k = 1..K-1, non-increasing in k.

    exp(cumsum(log σ)) rather than cumprod: the same product, and an ONNX-exportable one.
    """
    return torch.exp(torch.cumsum(F.logsigmoid(logits), dim=-1))


def grade_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """(..., K-1) -> (..., K) P(grade = 1..K)."""
    greater = prob_greater(logits)
    ones = torch.ones_like(greater[..., :1])
    zeros = torch.zeros_like(greater[..., :1])
    above = torch.cat([ones, greater], dim=-1)  # P(grade > k) for k = 0..K-1
    below = torch.cat([greater, zeros], dim=-1)  # P(grade > k) for k = 1..K
    return above - below


def cumulative_le(logits: torch.Tensor) -> torch.Tensor:
    """(..., K-1) -> P(grade <= k) for k = 1..K-1 (the P(bad) of each cut)."""
    return 1.0 - prob_greater(logits)


def predicted_grade(logits: torch.Tensor) -> torch.Tensor:
    """Grades 1..K: 1 + the number of cuts with P(grade > k) > 0.5 (CORN's rule)."""
    return 1 + (prob_greater(logits) > 0.5).sum(dim=-1)


def quality_loss(logits: torch.Tensor, grades: torch.Tensor) -> torch.Tensor:
    """CORN loss of (B, K-1) logits for grades 1..K (B,)."""
    from coral_pytorch.losses import corn_loss

    k = logits.shape[-1] + 1
    return corn_loss(logits, grades.long() - 1, num_classes=k)


@dataclass(frozen=True)
class QualityPrediction:
    """One photo's prediction: grade, P(grade = 1..K), P(bad) at the operating point,
    and the attention weight of every tile."""

    grade: int
    probabilities: list[float]
    cumulative_le: list[float]
    p_bad: float | None
    attention: np.ndarray  # (N,)

    def to_dict(self) -> dict[str, Any]:
        return {"grade": self.grade, "probabilities": self.probabilities,
                "p_bad": self.p_bad, "cumulative_le": self.cumulative_le}


@torch.no_grad()
def predict(
    model: QualityMIL, tiles: np.ndarray, k_star: int | None = None,
    device: torch.device | None = None,
) -> QualityPrediction:
    """Predict one photo from its tiles (N, P, P) or (N, C, P, P) uint8."""
    model.eval()
    x = torch.from_numpy(np.ascontiguousarray(tiles)).float() / 255.0
    if x.ndim == 3:
        x = x.unsqueeze(1)
    x = x.to(device or next(model.parameters()).device)
    logits, attention = model(x)
    le = cumulative_le(logits)
    return QualityPrediction(
        grade=int(predicted_grade(logits)),
        probabilities=[float(v) for v in grade_probabilities(logits)],
        cumulative_le=[float(v) for v in le],
        p_bad=None if k_star is None else float(le[k_star - 1]),
        attention=attention.cpu().numpy(),
    )
