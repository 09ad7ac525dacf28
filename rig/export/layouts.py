"""The three export layouts, behind one small interface and a registry.

- ``chexphoto``: ``<split>/<patient>/<study>/view<k>_<pair>.jpg`` with the ground
  truth beside it (``…_gt.png``) and one CSV per split (``train.csv`` …) holding
  ``Path``, ``GroundTruthPath``, ``Patient``, ``Study``, the labels and conditions,
  like the CheXphoto release (paths relative to the export folder). Every split's
  CSV is written, header only when the split is empty.
- ``folders``: ``photos/ ground_truth/ aligned/ masks/`` side by side with one
  ``manifest.csv`` (a ``split`` column); this is what ``rig train`` reads.

The ground truth is the image as the screen showed it. When the placement reduced
the source (``auto``/``integer`` on a large image, ``fit``), every layout also
carries the full-resolution rendering (``originals/``, ``…_gt_original.png``,
``<key>.original.png``) and every table the mapping columns ``gt_scale``,
``gt_reduction`` (box filter k: ground-truth pixel j covers source pixels
[k·j, k·j + k)), ``gt_width``/``gt_height``, ``source_width``/``source_height``.
- ``webdataset``: ``shards/<split>-NNNNNN.tar`` with ``<key>.jpg``, ``<key>.gt.png``,
  ``<key>.aligned.png``, ``<key>.mask.png`` and ``<key>.json`` per pair, for
  streaming training at scale. Tar members are written with fixed metadata so the
  same export is byte-identical.
"""

from __future__ import annotations

import csv
import io
import json
import tarfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from rig.export.pairs import Pair

Fetch = Callable[[str], bytes]  # object sha256 → verified bytes


def base_row(pair: Pair) -> dict[str, Any]:
    """Columns every layout's table shares (labels and conditions flattened)."""
    row: dict[str, Any] = {
        "pair_id": pair.pair_id,
        "split": pair.split,
        "Patient": pair.patient,
        "Study": pair.study,
        "session": pair.session_id,
        "item": pair.idx,
        "attempt": pair.attempt,
        "verified": int(pair.verified),
    }
    row.update({f"q_{k}": v for k, v in pair.quality.items()})
    row.update(pair.display)
    row.update({k: ("" if v is None else v) for k, v in pair.labels.items()})
    row.update(
        {
            f"cond_{k}": v if isinstance(v, str | int | float) else json.dumps(v)
            for k, v in pair.conditions.items()
        }
    )
    return row


def columns_of(rows: list[dict[str, Any]], first: list[str]) -> list[str]:
    """``first``, then every other key in the order rows bring them."""
    columns = list(first)
    for row in rows:
        columns += [k for k in row if k not in columns]
    return columns


def write_csv(
    path: Path, rows: list[dict[str, Any]], first: list[str], columns: list[str] | None = None
) -> None:
    """A CSV of ``rows``; with no rows, the header alone (``columns`` or ``first``)."""
    columns = columns or columns_of(rows, first)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)


class Layout(Protocol):
    def write(
        self, out: Path, pairs: list[Pair], fetch: Fetch, splits: Sequence[str]
    ) -> dict[str, Any]:
        """Write ``pairs`` (each with its split, one of ``splits``) under ``out``."""
        ...


class CheXphotoLayout:
    def write(
        self, out: Path, pairs: list[Pair], fetch: Fetch, splits: Sequence[str]
    ) -> dict[str, Any]:
        by_split: dict[str, list[dict[str, Any]]] = {name: [] for name in splits}
        views: dict[tuple[str, str], int] = {}
        for pair in pairs:
            k = views[(pair.patient, pair.study)] = views.get((pair.patient, pair.study), 0) + 1
            rel = Path(pair.split) / pair.patient / pair.study
            (out / rel).mkdir(parents=True, exist_ok=True)
            photo = rel / f"view{k}_{pair.pair_id}.jpg"
            truth = rel / f"view{k}_{pair.pair_id}_gt.png"
            (out / photo).write_bytes(fetch(pair.photo_sha256))
            (out / truth).write_bytes(fetch(pair.ground_truth_sha256))
            row = {"Path": photo.as_posix(), "GroundTruthPath": truth.as_posix(), **base_row(pair)}
            if pair.original_sha256:  # shown reduced: the full-resolution rendering too
                original = rel / f"view{k}_{pair.pair_id}_gt_original.png"
                (out / original).write_bytes(fetch(pair.original_sha256))
                row["OriginalGroundTruthPath"] = original.as_posix()
            if pair.view:
                row["AP/PA"] = pair.view
            by_split.setdefault(pair.split, []).append(row)
        # Every split's CSV, with the same columns, even when a split is empty.
        first = ["Path", "GroundTruthPath", "Patient", "Study"]
        columns = columns_of([r for rows in by_split.values() for r in rows], first)
        for split, rows in by_split.items():
            write_csv(out / f"{split}.csv", rows, first, columns)
        return {"csv": sorted(f"{s}.csv" for s in by_split)}


class FoldersLayout:
    FOLDERS = ("photos", "ground_truth", "aligned", "masks", "originals")

    def write(
        self, out: Path, pairs: list[Pair], fetch: Fetch, splits: Sequence[str]
    ) -> dict[str, Any]:
        for name in self.FOLDERS:
            (out / name).mkdir(parents=True, exist_ok=True)
        rows = []
        for pair in pairs:
            files = {
                "photo": (f"photos/{pair.pair_id}.jpg", pair.photo_sha256),
                "ground_truth": (f"ground_truth/{pair.pair_id}.png", pair.ground_truth_sha256),
                "aligned": (f"aligned/{pair.pair_id}.png", pair.aligned_sha256),
                "mask": (f"masks/{pair.pair_id}.png", pair.mask_sha256),
                "ground_truth_original": (f"originals/{pair.pair_id}.png", pair.original_sha256),
            }
            row = base_row(pair)
            for column, (rel, sha) in files.items():
                if sha:
                    (out / rel).write_bytes(fetch(sha))
                row[column] = rel if sha else ""
            row["patient"], row["study"] = pair.patient, pair.study
            row["preset"] = pair.conditions.get("preset", "")
            rows.append(row)
        first = ["pair_id", "split", "patient", "study", "photo", "ground_truth", "aligned", "mask"]
        write_csv(out / "manifest.csv", rows, first)
        return {"manifest": "manifest.csv"}


class WebDatasetLayout:
    def __init__(self, pairs_per_shard: int = 1000) -> None:
        self.pairs_per_shard = pairs_per_shard

    def write(
        self, out: Path, pairs: list[Pair], fetch: Fetch, splits: Sequence[str]
    ) -> dict[str, Any]:
        (out / "shards").mkdir(parents=True, exist_ok=True)
        shards: list[str] = []
        for split in sorted({p.split for p in pairs}):
            members = [p for p in pairs if p.split == split]
            for start in range(0, len(members), self.pairs_per_shard):
                name = f"shards/{split}-{start // self.pairs_per_shard:06d}.tar"
                with tarfile.open(out / name, "w", format=tarfile.USTAR_FORMAT) as tar:
                    for pair in members[start : start + self.pairs_per_shard]:
                        self._add_pair(tar, pair, fetch)
                shards.append(name)
        return {"shards": shards}

    def _add_pair(self, tar: tarfile.TarFile, pair: Pair, fetch: Fetch) -> None:
        key = pair.pair_id
        parts = {
            "jpg": pair.photo_sha256,
            "gt.png": pair.ground_truth_sha256,
            "aligned.png": pair.aligned_sha256,
            "mask.png": pair.mask_sha256,
            "original.png": pair.original_sha256,
        }
        for ext, sha in parts.items():
            if sha:
                _add_bytes(tar, f"{key}.{ext}", fetch(sha))
        meta = json.dumps(base_row(pair), sort_keys=True, default=str).encode()
        _add_bytes(tar, f"{key}.json", meta)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    tar.addfile(info, io.BytesIO(data))


LAYOUTS: dict[str, Callable[[], Layout]] = {
    "chexphoto": CheXphotoLayout,
    "folders": FoldersLayout,
    "webdataset": WebDatasetLayout,
}
