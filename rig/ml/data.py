"""Paired dataset folders (``rig export --format folders``): manifest, images, patches.

Layout: ``manifest.csv`` (pair_id, split, ground_truth, aligned, mask, ... paths relative
to the folder), ``ground_truth/``, ``aligned/`` and ``masks/`` 8-bit grayscale PNGs of
equal size. Training samples random patches (aligned -> ground truth) that lie fully
inside the mask when one can be found (rejection sampling on an integral image) and
always carry the mask for a masked loss. Sample i of epoch e draws from
``default_rng([seed, e, i])`` only, so batches do not depend on workers or resumption.
"""

from __future__ import annotations

import csv
import hashlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from rig.atomic import write_bytes_atomic
from rig.errors import InputError
from rig.imaging import codec
from rig.ml.photonorm import InputNorm
from rig.store.objects import sha256_file

REQUIRED_COLUMNS = ("pair_id", "split", "ground_truth", "aligned", "mask")
SPLITS = ("train", "valid", "test")
CORE_COLUMNS = {*REQUIRED_COLUMNS, "patient", "study", "photo", "preset"}
MAX_CONDITION_VALUES = 12
PLACEMENT_TRIES = 30


@dataclass(frozen=True)
class PairRecord:
    pair_id: str
    split: str
    ground_truth: Path
    aligned: Path
    mask: Path
    preset: str = ""
    conditions: dict[str, str] = field(default_factory=dict)
    patient: str = ""  # pseudonymous patient id ('' when the manifest has none)
    extra: dict[str, str] = field(default_factory=dict)  # every other column, raw (labels …)


@dataclass(frozen=True)
class Manifest:
    root: Path
    records: tuple[PairRecord, ...]
    condition_columns: tuple[str, ...]
    columns: tuple[str, ...] = ()

    def split(self, name: str) -> list[PairRecord]:
        return [r for r in self.records if r.split == name]


def _condition_columns(columns: list[str], rows: list[dict[str, str]]) -> tuple[str, ...]:
    """The categorical capture conditions: ``cond_*`` columns (how ``rig export`` names
    them) with 2–12 distinct values that are neither ids nor continuous measurements.

    Left out: columns whose every row has its own value (ids, timestamps), numeric
    columns with more than 12 values (continuous: distances, exposure times), JSON
    values, and every non-``cond_`` column (labels, quality figures, patient, session,
    item …), so a breakdown never prints dozens of groups of n = 1.
    """
    out = []
    for col in columns:
        if col in CORE_COLUMNS or not col.startswith(("cond_", "condition")):
            continue
        values = [(row.get(col) or "").strip() for row in rows]
        distinct = set(values)
        if not 1 < len(distinct) <= MAX_CONDITION_VALUES:
            continue
        if len(rows) > 3 and len(distinct) == len(rows):
            continue  # one value per row: an id, not a condition
        if any(v.startswith(("{", "[")) for v in distinct):
            continue
        out.append(col)
    return tuple(out)


def read_manifest(data_dir: Path) -> Manifest:
    """Parse and check ``data_dir/manifest.csv`` (InputError naming the problem)."""
    path = data_dir / "manifest.csv"
    if not path.is_file():
        raise InputError(f"{path}: no manifest.csv; give a folder made by 'rig export --format folders'")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = list(reader.fieldnames or [])
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
        rows = list(reader)
    if not rows:
        raise InputError(f"{path}: no pairs listed")
    conds = _condition_columns(columns, rows)
    records = []
    for n, row in enumerate(rows, start=2):
        split = (row["split"] or "").strip()
        if split not in SPLITS:
            raise InputError(f"{path} line {n}: split '{split}' is not one of {', '.join(SPLITS)}")
        records.append(PairRecord(
            pair_id=row["pair_id"], split=split,
            ground_truth=data_dir / row["ground_truth"], aligned=data_dir / row["aligned"],
            mask=data_dir / row["mask"], preset=(row.get("preset") or "").strip(),
            conditions={c: (row.get(c) or "").strip() for c in conds},
            patient=(row.get("patient") or row.get("Patient") or "").strip(),
            extra={c: (row.get(c) or "") for c in columns if c not in CORE_COLUMNS}))
    return Manifest(data_dir, tuple(records), conds, tuple(columns))


def fingerprint(manifest: Manifest) -> str:
    """sha256 over the manifest and every referenced image: a run knows its data."""
    digest = hashlib.sha256(sha256_file(manifest.root / "manifest.csv").encode())
    for rec in manifest.records:
        for p in (rec.ground_truth, rec.aligned, rec.mask):
            digest.update(sha256_file(p).encode() if p.is_file() else b"missing")
    return digest.hexdigest()


def read_gray(path: Path) -> np.ndarray:
    """An 8-bit grayscale image (H, W); colour files are converted (OpenCV luma)."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise InputError(f"{path}: missing or not a readable image")
    return np.asarray(image, dtype=np.uint8)


def write_png(path: Path, image: np.ndarray) -> None:
    """Write an 8-bit image as PNG atomically."""
    write_bytes_atomic(path, codec.encode_png(image, what=str(path)))


@dataclass(frozen=True)
class LoadedPair:
    aligned: np.ndarray  # (H, W) uint8 (float32 in [0, 255] once normalised)
    truth: np.ndarray  # (H, W) uint8
    mask: np.ndarray  # (H, W) bool


def load_pair(rec: PairRecord) -> LoadedPair:
    aligned, truth, mask = read_gray(rec.aligned), read_gray(rec.ground_truth), read_gray(rec.mask)
    if not aligned.shape == truth.shape == mask.shape:
        raise InputError(f"pair {rec.pair_id}: aligned {aligned.shape}, ground truth "
                         f"{truth.shape} and mask {mask.shape} differ in size")
    return LoadedPair(aligned, truth, mask > 127)


def iter_pairs(records: list[PairRecord]) -> Iterator[tuple[PairRecord, LoadedPair]]:
    for rec in records:
        yield rec, load_pair(rec)


class PatchDataset(Dataset[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]):
    """Random (aligned, truth, mask) patches, each (1, P, P) float32 in [0, 1].

    The aligned photo is normalised as a whole (``norm``) before patches are cut, as
    ``rig.ml.infer.restore_array`` does before tiling.
    """

    def __init__(self, records: list[PairRecord], patch: int, samples_per_epoch: int,
                 seed: int, norm: InputNorm = InputNorm("none"), cache_images: int = 256) -> None:
        if not records:
            raise InputError("the train split is empty")
        self.records, self.patch, self.seed, self.norm = records, patch, seed, norm
        self.samples = samples_per_epoch
        self.epoch = 0
        self._cache: OrderedDict[int, tuple[LoadedPair, np.ndarray]] = OrderedDict()
        self._cache_size = cache_images

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.samples

    def _image(self, idx: int) -> tuple[LoadedPair, np.ndarray]:
        if idx in self._cache:
            self._cache.move_to_end(idx)
            return self._cache[idx]
        raw = load_pair(self.records[idx])
        pair = LoadedPair(self.norm.apply(raw.aligned), raw.truth, raw.mask)
        if min(pair.truth.shape) < self.patch:
            raise InputError(f"pair {self.records[idx].pair_id}: image {pair.truth.shape} is "
                             f"smaller than the {self.patch}px patch; use a smaller --patch")
        integral = mask_integral(pair.mask)
        self._cache[idx] = (pair, integral)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return pair, integral

    def image_index(self, i: int) -> int:
        # Consecutive samples come from different images (a batch of patches from one image
        # pulls the net towards that image's tone offset); the order changes every epoch.
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.records))
        return int(order[i % len(order)])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, i])
        pair, integral = self._image(self.image_index(i))
        return cut_patch(pair, integral, self.patch, rng)


def mask_integral(mask: np.ndarray) -> np.ndarray:
    """(H+1, W+1) int32 summed-area table of a boolean mask (for ``cut_patch``)."""
    return np.asarray(cv2.integral(mask.astype(np.uint8)))


def cut_patch(pair: LoadedPair, integral: np.ndarray, p: int, rng: np.random.Generator
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A random (aligned, truth, mask) ``p`` x ``p`` patch, each (1, P, P) float32 in [0, 1],
    inside the mask when one of ``PLACEMENT_TRIES`` placements is, randomly flipped."""
    h, w = pair.truth.shape
    y = x = 0
    for _ in range(PLACEMENT_TRIES):
        y, x = int(rng.integers(0, h - p + 1)), int(rng.integers(0, w - p + 1))
        inside = integral[y + p, x + p] - integral[y, x + p] - integral[y + p, x] + integral[y, x]
        if inside == p * p:
            break
    crops = [a[y : y + p, x : x + p] for a in (pair.aligned, pair.truth, pair.mask)]
    if rng.random() < 0.5:
        crops = [c[:, ::-1] for c in crops]
    if rng.random() < 0.5:
        crops = [c[::-1, :] for c in crops]
    aligned, truth, mask = (np.ascontiguousarray(c, dtype=np.float32) for c in crops)
    return (torch.from_numpy(aligned / 255.0)[None], torch.from_numpy(truth / 255.0)[None],
            torch.from_numpy(mask)[None])
