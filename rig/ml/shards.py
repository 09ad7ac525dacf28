"""Training data streamed from WebDataset shards, in an order that resumes exactly.

Shards are tar files holding, per pair, ``<key>.gt.png``, ``<key>.aligned.png``,
``<key>.mask.png`` and ``<key>.json`` (the manifest row): what ``rig shards`` writes from
a folders export, and what ``rig export --format webdataset`` writes. A pattern such as
``data/train-{000000..000031}.tar`` or ``https://host/train-{000000..000031}.tar`` is
expanded (brace notation) and every shard opened by the ``webdataset`` library (local
files, ``http(s)://`` through curl, ``pipe:`` commands for object stores).

**Order.** Pass p over the data deals the shards in the order
``default_rng([seed, p]).permutation``; process (rank) r of W takes every W-th of them,
and DataLoader worker w of K every K-th of those, so every stream reads whole shards no
other stream reads (sharded I/O: nothing is read twice across nodes). Within a shard,
pairs come in tar order; each pair gives ``per_pair`` random patches (from
``default_rng([seed, p, shard, pair])``). A stream's place is ``[pass, slot, offset]``
(slot: index into its shards of that pass; offset: patches already taken from that
shard); after its last shard a stream starts the next pass, so it never runs dry.

**Resume.** Each sample carries its stream's place; the trainer keeps the place after
the last sample it consumed for every (rank, worker) stream, saves them in the
``RunState`` (``data_position``), and a resumed run restarts every stream there: the
same samples, in the same batches, as an uninterrupted run (given the same number of
processes and workers; another count is refused).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from rig.errors import InputError
from rig.ml.data import LoadedPair, cut_patch, mask_integral
from rig.ml.photonorm import InputNorm

MEMBERS = ("gt.png", "aligned.png", "mask.png")


def expand_shards(pattern: str) -> list[str]:
    """Shard URLs of a pattern: brace-expanded; local paths may also use * and ?."""
    from braceexpand import braceexpand

    urls: list[str] = []
    for part in braceexpand(pattern):
        local = "://" not in part and not part.startswith("pipe:")
        if local and any(c in part for c in "*?["):
            urls += sorted(glob.glob(part))
        else:
            urls.append(part)
    missing = [u for u in urls if "://" not in u and not u.startswith("pipe:") and not os.path.isfile(u)]
    if not urls or missing:
        raise InputError(f"--shards {pattern}: {'no shards' if not urls else 'missing ' + missing[0]}; "
                         "write shards with 'rig shards DATA -o DIR'")
    return urls


def shards_fingerprint(urls: list[str]) -> str:
    """Names and (for local files) sizes: cheap enough for 10^5 pairs, and a resumed run
    refuses a changed shard list."""
    digest = hashlib.sha256()
    for u in urls:
        size = os.path.getsize(u) if os.path.isfile(u) else -1
        digest.update(f"{u}\t{size}\n".encode())
    return digest.hexdigest()


def iter_shard(url: str) -> Iterator[dict[str, Any]]:
    """The samples of one shard, in tar order (``__key__`` and one entry per member)."""
    from webdataset.tariterators import tarfile_samples

    yield from tarfile_samples([{"url": url}])


def decode_pair(sample: dict[str, Any], url: str) -> tuple[LoadedPair, dict[str, Any]]:
    """A shard sample as a loaded pair and its manifest row."""
    import cv2

    missing = [m for m in MEMBERS if m not in sample]
    if missing:
        raise InputError(f"{url}: sample {sample.get('__key__')} has no {missing[0]}; "
                         "shards need gt.png, aligned.png and mask.png per pair")
    arrays = []
    for m in MEMBERS:
        image = cv2.imdecode(np.frombuffer(sample[m], np.uint8), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise InputError(f"{url}: {sample['__key__']}.{m} is not a readable image")
        arrays.append(image)
    aligned, truth, mask = arrays
    if not aligned.shape == truth.shape == mask.shape:
        raise InputError(f"{url}: pair {sample['__key__']}: aligned, ground truth and mask differ in size")
    row = json.loads(sample["json"]) if "json" in sample else {}
    return LoadedPair(aligned, truth, mask > 127), row


def first_pairs(urls: list[str], n: int) -> list[LoadedPair]:
    """The first ``n`` pairs in shard order (validation, tone fits)."""
    out: list[LoadedPair] = []
    for url in urls:
        for sample in iter_shard(url):
            if len(out) >= n:
                return out
            out.append(decode_pair(sample, url)[0])
    return out


@dataclass(frozen=True)
class StreamPlan:
    """Which shards a stream reads: pure position arithmetic."""

    n_shards: int
    seed: int
    world: int
    rank: int
    workers: int

    def check(self, pattern: str) -> None:
        if self.n_shards < self.world * self.workers:
            raise InputError(f"--shards {pattern}: {self.n_shards} shard(s) for {self.world} process(es) x "
                             f"{self.workers} worker(s); write at least {self.world * self.workers} "
                             "(rig shards --shard-size smaller)")

    def shards(self, pass_: int, worker: int) -> list[int]:
        order = np.random.default_rng([self.seed, pass_]).permutation(self.n_shards)
        return [int(i) for i in order[self.rank :: self.world][worker :: self.workers]]


def worker_batches(steps: int, worker: int, workers: int) -> int:
    """Batches worker ``worker`` of ``workers`` gives in an epoch of ``steps`` batches
    (the DataLoader takes them round-robin: batch j from worker j mod K)."""
    return len(range(worker, steps, workers))


class ShardPatches(IterableDataset[tuple[torch.Tensor, ...]]):
    """Restoration patches streamed from shards: (aligned, truth, mask, place) per sample,
    place = (worker, pass, slot, offset) int64, stripped by the trainer."""

    streaming = True

    def __init__(self, urls: list[str], pattern: str, patch: int, batch: int, steps_per_epoch: int,
                 seed: int, norm: InputNorm, per_pair: int = 4) -> None:
        self.urls, self.pattern, self.patch, self.batch = urls, pattern, patch, batch
        self.steps, self.seed, self.norm, self.per_pair = steps_per_epoch, seed, norm, per_pair
        self.world, self.rank, self.workers = 1, 0, 1
        self.places: dict[int, list[int]] = {}

    def set_epoch(self, epoch: int) -> None:  # the places, not the epoch, say where to go on
        pass

    def place(self, world: int, rank: int, workers: int) -> None:
        """This process's share (set by the trainer before the first epoch)."""
        self.world, self.rank, self.workers = world, rank, max(1, workers)
        StreamPlan(len(self.urls), self.seed, world, rank, self.workers).check(self.pattern)

    def seek(self, places: dict[int, list[int]]) -> None:
        """Where each worker's stream continues: worker -> [pass, slot, offset]."""
        self.places = {int(k): list(v) for k, v in places.items()}

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        info = get_worker_info()
        worker = info.id if info is not None else 0
        plan = StreamPlan(len(self.urls), self.seed, self.world, self.rank, self.workers)
        left = worker_batches(self.steps, worker, self.workers) * self.batch
        pass_, slot, offset = self.places.get(worker, [0, 0, 0])
        while left > 0:
            mine = plan.shards(pass_, worker)
            if slot >= len(mine):
                pass_, slot, offset = pass_ + 1, 0, 0
                continue
            for sample in self._shard(mine[slot], pass_, offset):
                yield (*sample, torch.tensor([worker, pass_, slot, offset], dtype=torch.int64))
                offset += 1
                left -= 1
                if left == 0:
                    return
            slot, offset = slot + 1, 0

    def _shard(self, shard: int, pass_: int, offset: int) -> Iterator[tuple[torch.Tensor, ...]]:
        """Patches of one shard from patch ``offset`` on (earlier pairs skipped undecoded)."""
        url = self.urls[shard]
        for pair_idx, sample in enumerate(iter_shard(url)):
            if (pair_idx + 1) * self.per_pair <= offset:
                continue
            raw, _ = decode_pair(sample, url)
            if min(raw.truth.shape) < self.patch:
                raise InputError(f"{url}: pair {sample['__key__']} is smaller than the {self.patch}px patch")
            pair = LoadedPair(self.norm.apply(raw.aligned), raw.truth, raw.mask)
            integral = mask_integral(pair.mask)
            rng = np.random.default_rng([self.seed, pass_, shard, pair_idx])
            for sub in range(self.per_pair):
                patch = cut_patch(pair, integral, self.patch, rng)
                if pair_idx * self.per_pair + sub >= offset:
                    yield patch


def write_shards(data_dir: Path, out: Path, shard_size: int) -> dict[str, list[str]]:
    """A folders export as shards: ``out/<split>-NNNNNN.tar``, ``shard_size`` pairs each."""
    import csv
    import tarfile

    from rig.export.layouts import _add_bytes  # fixed tar metadata: the same data, the same bytes
    from rig.ml.data import read_manifest

    manifest = read_manifest(data_dir)
    with (data_dir / "manifest.csv").open(newline="", encoding="utf-8") as handle:
        rows = {r["pair_id"]: r for r in csv.DictReader(handle)}
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[str]] = {}
    for split in ("train", "valid", "test"):
        records = manifest.split(split)
        for start in range(0, len(records), shard_size):
            name = f"{split}-{start // shard_size:06d}.tar"
            tmp = out / f".{name}.tmp"
            with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tar:
                for rec in records[start : start + shard_size]:
                    for member, path in zip(MEMBERS, (rec.ground_truth, rec.aligned, rec.mask), strict=True):
                        _add_bytes(tar, f"{rec.pair_id}.{member}", path.read_bytes())
                    _add_bytes(tar, f"{rec.pair_id}.json",
                               json.dumps(rows[rec.pair_id], sort_keys=True).encode())
            os.replace(tmp, out / name)
            written.setdefault(split, []).append(name)
    return written


def pattern_of(out: Path, names: list[str]) -> str:
    """The brace pattern naming ``names`` (consecutive shards of one split)."""
    if len(names) == 1:
        return str(out / names[0])
    stem = names[0].rsplit("-", 1)[0]
    first, last = (n.rsplit("-", 1)[1].split(".")[0] for n in (names[0], names[-1]))
    return str(out / f"{stem}-{{{first}..{last}}}.tar")

