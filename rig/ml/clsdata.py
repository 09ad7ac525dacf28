"""Classifier training samples: one image per sample, randomly augmented, deterministic.

Sample i of epoch e draws from ``default_rng([seed, e, i])`` only: which record (a
per-epoch permutation, so every image is seen once per pass), which view (``mixed``
runs), and the augmentation. So batches do not depend on workers, processes or
resumption, as the shared trainer requires.

Augmentation ("random augmentation", as the screen-photo study trained its Xception on
DICOMs): a small random affine (rotation ±7°, scale 0.92–1.08, shift ±4 %), gamma
0.7–1.4, contrast 0.75–1.25 and brightness ±0.08, and with probability 0.3 each a
Gaussian blur (σ 0.3–1.2 px) and Gaussian noise (σ ≤ 0.03). No flips: a chest
radiograph's left and right are anatomy (the heart's side).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from rig.ml.data import PairRecord
from rig.ml.views import ViewImages

MEAN, STD = 0.5, 0.25  # fixed input scaling of [0, 1] grey levels


def augment(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(S, S) uint8 -> (S, S) float32 in [0, 1], randomly transformed."""
    s = image.shape[0]
    angle = rng.uniform(-7.0, 7.0)
    scale = rng.uniform(0.92, 1.08)
    shift = rng.uniform(-0.04, 0.04, 2) * s
    m = cv2.getRotationMatrix2D((s / 2.0, s / 2.0), angle, scale)
    m[:, 2] += shift
    out = cv2.warpAffine(image, m, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    x = out.astype(np.float32) / 255.0
    x = x ** np.float32(np.exp(rng.uniform(np.log(0.7), np.log(1.4))))
    x = (x - x.mean()) * np.float32(rng.uniform(0.75, 1.25)) + x.mean() + np.float32(rng.uniform(-0.08, 0.08))
    if rng.random() < 0.3:
        x = cv2.GaussianBlur(x, (0, 0), float(rng.uniform(0.3, 1.2)))
    if rng.random() < 0.3:
        x = x + rng.normal(0.0, rng.uniform(0.0, 0.03), x.shape).astype(np.float32)
    return np.clip(x, 0.0, 1.0).astype(np.float32)


def to_tensor(image01: np.ndarray) -> torch.Tensor:
    """(S, S) float in [0, 1] -> (1, S, S) network input."""
    return torch.from_numpy((np.asarray(image01, np.float32) - MEAN) / STD)[None]


class ClassifyDataset(Dataset[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]):
    """(image (1, S, S), target (L,), weight (L,)) samples for ``rig.ml.trainer``."""

    def __init__(self, records: Sequence[PairRecord], targets: np.ndarray, weights: np.ndarray,
                 images: ViewImages, views: tuple[str, ...], samples_per_epoch: int, seed: int,
                 augment_images: bool = True) -> None:
        self.records, self.targets, self.weights = list(records), targets, weights
        self.images, self.views, self.seed = images, views, seed
        self.samples, self.augment_images = samples_per_epoch, augment_images
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.samples

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.records))
        k = int(order[i % len(order)])
        rng = np.random.default_rng([self.seed, self.epoch, i])
        view = self.views[int(rng.integers(len(self.views)))] if len(self.views) > 1 else self.views[0]
        image = self.images.get(self.records[k], view)
        x = augment(image, rng) if self.augment_images else image.astype(np.float32) / 255.0
        return (to_tensor(x), torch.from_numpy(self.targets[k]), torch.from_numpy(self.weights[k]))
