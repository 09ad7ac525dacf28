"""Global tone-curve baseline: one monotone 256-entry LUT, aligned grey -> true grey.

Fitted in closed form on the train split: for each aligned grey level the least-squares
value is the mean of the ground truth at those pixels (inside the masks); the pool-
adjacent-violators algorithm then makes the table non-decreasing with the pixel counts
as weights (weighted isotonic regression), and empty levels are interpolated. It shows
how much of the restoration is plain intensity correction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

LEVELS = 256


@dataclass(frozen=True)
class ToneCurveConfig:
    levels: int = LEVELS


class ToneCurve(nn.Module):
    """Applies the LUT with linear interpolation between entries (input in [0, 1])."""

    closed_form = True  # fitted by ``fit_lut``, not by gradient descent

    def __init__(self, config: ToneCurveConfig) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("lut", torch.linspace(0.0, 1.0, config.levels))  # identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, 1, H, W) in [0, 1]
        lut: torch.Tensor = self.lut  # type: ignore[assignment]
        pos = x.clamp(0, 1) * (self.config.levels - 1)
        lo = pos.floor().long().clamp(0, self.config.levels - 2)
        frac = pos - lo.to(pos.dtype)
        return lut[lo] * (1 - frac) + lut[lo + 1] * frac


def accumulate(pairs: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Per aligned grey level: (count, sum of truth) over (aligned, truth, mask) uint8 images."""
    count = np.zeros(LEVELS, np.float64)
    total = np.zeros(LEVELS, np.float64)
    for aligned, truth, mask in pairs:
        sel = mask.astype(bool)
        a = aligned[sel].astype(np.int64)
        count += np.bincount(a, minlength=LEVELS)
        total += np.bincount(a, weights=truth[sel].astype(np.float64), minlength=LEVELS)
    return count, total


def isotonic(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted non-decreasing least-squares fit (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [mean, weight, length]
    for v, w in zip(values.tolist(), weights.tolist(), strict=True):
        blocks.append([v, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, n2 = blocks.pop()
            v1, w1, n1 = blocks.pop()
            wt = w1 + w2
            blocks.append([(v1 * w1 + v2 * w2) / wt, wt, n1 + n2])
    return np.concatenate([np.full(int(n), m) for m, _, n in blocks])


def fit_lut(count: np.ndarray, total: np.ndarray) -> np.ndarray:
    """The monotone LUT (256,) in grey levels [0, 255] from ``accumulate``'s sums."""
    seen = count > 0
    if not seen.any():
        return np.arange(LEVELS, dtype=np.float64)
    levels = np.arange(LEVELS)
    means = total[seen] / count[seen]
    fitted = isotonic(means, count[seen])
    # Levels never seen in training: linear interpolation, constant beyond the ends.
    return np.interp(levels, levels[seen], fitted)
