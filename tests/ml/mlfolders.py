"""Tiny dataset folders for the ML tests: truth = smooth random images, aligned = a known
monotone tone curve of the truth plus Gaussian noise (the degradation is known)."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np


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


def write_labelled_folder(root: Path, n: int = 24, size: int = 64, seed: int = 0,
                          per_patient: int = 2) -> Path:
    """A folders export with learnable labels: 'Finding' = a bright disc in the image
    (1/0), 'Other' = CheXpert-style values (1, 0, -1, blank) unrelated to the pixels.
    Photos are the known tone curve of the truth plus noise; ``per_patient`` images per
    patient; splits by patient (train / valid / test about 50/25/25 %)."""
    rng = np.random.default_rng(seed)
    for sub in ("ground_truth", "aligned", "masks"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:size, 0:size]
    rows = []
    patients = -(-n // per_patient)
    for k in range(n):
        patient = k // per_patient
        split = "train" if patient < patients // 2 else ("valid" if patient < 3 * patients // 4 else "test")
        positive = int(rng.random() < 0.5)
        truth = smooth_image(rng, size).astype(np.float64) * 0.6
        if positive:
            cy, cx = rng.uniform(0.3, 0.7, 2) * size
            truth += 110.0 * (((yy - cy) ** 2 + (xx - cx) ** 2) < (size / 7) ** 2)
        truth = np.clip(np.rint(truth), 0, 255).astype(np.uint8)
        aligned = np.clip(np.rint(known_curve(truth) + rng.normal(0, 4.0, truth.shape)), 0, 255)
        pid = f"c{k:03d}"
        cv2.imwrite(str(root / "ground_truth" / f"{pid}.png"), truth)
        cv2.imwrite(str(root / "aligned" / f"{pid}.png"), aligned.astype(np.uint8))
        cv2.imwrite(str(root / "masks" / f"{pid}.png"), np.full(truth.shape, 255, np.uint8))
        other = ["1.0", "0.0", "-1.0", ""][k % 4]
        rows.append({"pair_id": pid, "split": split, "patient": f"anon{patient:03d}", "study": "1",
                     "photo": "", "ground_truth": f"ground_truth/{pid}.png",
                     "aligned": f"aligned/{pid}.png", "mask": f"masks/{pid}.png",
                     "preset": "synthetic", "Finding": f"{positive}.0", "Other": other,
                     "cond_room_light": "on" if k % 2 else "off"})
    with (root / "manifest.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return root


