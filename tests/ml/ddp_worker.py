"""Run by tests/ml/test_ml_ddp.py under torchrun (and once without it): one tiny
training run of the given kind, so two processes can be compared with one."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from rig.ml.classify import ClassifyConfig, train_classifier
from rig.ml.train import TrainConfig, train_from_folder

STEPS, EPOCHS = 3, 2


def main(kind: str, data: Path, run: Path, batch: int) -> None:
    torch.set_num_threads(1)
    if kind == "restore":
        # The U-Net has no BatchNorm: per-rank statistics would make DDP differ by design.
        cfg = TrainConfig(model="unet", model_options={"base_channels": 4, "levels": 2},
                          epochs=EPOCHS, steps_per_epoch=STEPS, patch=32, batch=batch, lr=3e-3,
                          val_max_images=1, device="cpu", tile=64, patience=100)
        train_from_folder(data, run, cfg)
    else:
        cfg2 = ClassifyConfig(model="tinycnn", labels=("Finding", "Other"), input_size=48,
                              epochs=EPOCHS, steps_per_epoch=STEPS, batch=batch, lr=3e-3,
                              device="cpu", patience=100)
        train_classifier(data, run, cfg2)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
