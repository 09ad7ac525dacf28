"""Run by tests/ml/test_ml_shards.py under torchrun: a tiny restoration run streamed from
shards; with a snapshot folder, rank 0 copies the run folder after the first epoch (a
run killed there), so resuming the copy can be compared with the uninterrupted run."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch

from rig.ml.train import EpochDone, Event, TrainConfig, train_from_shards


def config(workers: int) -> TrainConfig:
    # The U-Net has no BatchNorm (per-rank statistics on CPU); 2 epochs of 3 steps.
    return TrainConfig(model="unet", model_options={"base_channels": 4, "levels": 2}, epochs=2,
                       steps_per_epoch=3, patch=32, batch=2, lr=3e-3, val_max_images=1, device="cpu",
                       tile=64, patience=100, num_workers=workers)


def main(pattern: str, run: Path, snapshot: str, resume: bool, workers: int) -> None:
    torch.set_num_threads(1)

    def on_event(event: Event) -> None:
        if snapshot and isinstance(event, EpochDone) and event.epoch == 0:
            shutil.copytree(run, snapshot)

    train_from_shards(pattern, run, config(workers), resume=resume, on_event=on_event)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4] == "resume", int(sys.argv[5]))
