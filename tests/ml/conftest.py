"""Tiny paired folders for the ML tests: truth = smooth random images, aligned = a known
monotone tone curve of the truth plus Gaussian noise (the degradation is known)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest


def known_curve(x: np.ndarray) -> np.ndarray:
    """The degradation: lifted blacks, compressed highlights (monotone, 0..255 -> 0..255)."""
    return 40.0 + 180.0 * (np.asarray(x, np.float64) / 255.0) ** 0.6


def smooth_image(rng: np.random.Generator, size: int) -> np.ndarray:
    noise = rng.standard_normal((size, size)).astype(np.float32)
    img = cv2.GaussianBlur(noise, (0, 0), size / 10)
    img = (img - img.min()) / (np.ptp(img) + 1e-6)
    return np.asarray(np.rint(img * 255), np.uint8)


def write_folder(root: Path, n: int = 8, size: int = 64, seed: int = 0, noise: float = 2.0,
                 splits: tuple[str, ...] | None = None, exposure_spread: float = 0.0) -> Path:
    """``exposure_spread`` > 0: each photo also gets its own gain (1 ± spread) and offset
    (0..60 · spread grey levels), as exposure and room light vary between real photos."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for sub in ("ground_truth", "aligned", "masks"):
        (root / sub).mkdir(exist_ok=True)
    rows = []
    splits = splits or tuple(["train"] * (n - 4) + ["valid"] * 2 + ["test"] * 2)
    for k in range(n):
        truth = smooth_image(rng, size)
        gain, offset = 1.0, 0.0
        if exposure_spread > 0:
            gain = 1.0 + exposure_spread * rng.uniform(-1.0, 1.0)
            offset = 60.0 * exposure_spread * rng.uniform(0.0, 1.0)
        photo = gain * (known_curve(truth) - 40.0) + 40.0 + offset
        aligned = np.clip(np.rint(photo + rng.normal(0, noise, truth.shape)), 0, 255)
        mask = np.full(truth.shape, 255, np.uint8)
        mask[:, : size // 8] = 0  # a strip the camera did not see
        pid = f"p{k:03d}"
        cv2.imwrite(str(root / "ground_truth" / f"{pid}.png"), truth)
        cv2.imwrite(str(root / "aligned" / f"{pid}.png"), aligned.astype(np.uint8))
        cv2.imwrite(str(root / "masks" / f"{pid}.png"), mask)
        rows.append({"pair_id": pid, "split": splits[k], "patient": f"anon{k}", "study": "1",
                     "photo": "", "ground_truth": f"ground_truth/{pid}.png",
                     "aligned": f"aligned/{pid}.png", "mask": f"masks/{pid}.png",
                     "preset": "synthetic", "Cardiomegaly": k % 2,
                     "cond_room_light": "on" if k % 2 else "off"})
    with (root / "manifest.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return root


@pytest.fixture
def tiny_folder(tmp_path: Path) -> Path:
    return write_folder(tmp_path / "data")


@pytest.fixture
def make_folder(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str = "data", **kwargs: object) -> Path:
        return write_folder(tmp_path / name, **kwargs)  # type: ignore[arg-type]

    return make
