"""Ground-truth frames: a source rendered to 8 bits, stored once with how it was made.

When the screen shows a source reduced (placement ``auto``/``integer`` on an image
larger than the screen, or ``fit`` below 1:1), the ground truth of its photos is
the frame as displayed: ``ensure_displayed_frame`` stores it as a frame of its
own, whose facts carry ``display`` (mode, scale, reduction, sizes, and the full
resolution frame it was made from), so exports hold the displayed truth and can
also carry the original and the mapping between them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import sqlite_utils

from rig.errors import StoreError
from rig.imaging import codec
from rig.imaging.compositor import Placement
from rig.imaging.render import RenderOptions, render_path
from rig.library.sources import resolve_source
from rig.project import Project
from rig.store.db import utc_now


@dataclass(frozen=True)
class GroundTruth:
    frame_id: int
    source_id: int
    object_sha256: str
    pixels: np.ndarray  # uint8 (H, W) or (H, W, 3) RGB
    facts: dict[str, Any]


def render_key(options: RenderOptions) -> str:
    """Stable hash of the render options (the frame is part of the source, not the key)."""
    data = asdict(options)
    data.pop("frame", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def encode_png(pixels: np.ndarray) -> bytes:
    """PNG bytes of an 8-bit gray or RGB frame (cv2 wants BGR)."""
    return codec.encode_png(pixels, order=codec.RGB, what="ground-truth frame", error=StoreError)


def decode_png(data: bytes) -> np.ndarray:
    return codec.decode(data, order=codec.RGB, what="stored frame", error=StoreError)


def ensure_frame(
    project: Project, source_id: int, options: RenderOptions | None = None
) -> GroundTruth:
    """Render ``source_id`` (or load its stored rendering) and return the ground truth."""
    ref = resolve_source(project, source_id)
    opts = RenderOptions(
        frame=ref.frame,
        window=options.window if options else None,
        voi_index=options.voi_index if options else None,
        burn_overlays=options.burn_overlays if options else project.config.render.burn_overlays,
    )
    key = render_key(opts)
    db = project.db()
    try:
        rows = list(
            db.query(
                "SELECT id, object_sha256, facts FROM frames WHERE source_id=? AND render_key=?",
                [source_id, key],
            )
        )
        if rows:
            row = rows[0]
            pixels = decode_png(project.objects.get(row["object_sha256"]))
            return GroundTruth(
                row["id"], source_id, row["object_sha256"], pixels, json.loads(row["facts"])
            )
        rendered = render_path(ref.path, opts)
        return _store_frame(project, db, source_id, key, rendered.pixels, rendered.facts)
    finally:
        db.close()


def _store_frame(
    project: Project,
    db: sqlite_utils.Database,
    source_id: int,
    key: str,
    pixels: np.ndarray,
    facts: dict[str, Any],
) -> GroundTruth:
    """Store ``pixels`` as the frame (source_id, key): object first, then the row."""
    sha = project.objects.put(encode_png(pixels))
    with db.conn:
        # Another thread may have stored the same frame meanwhile (prefetch of a
        # repeated item): the UNIQUE key keeps one row, and we read its id back.
        db.table("frames").insert(
            {
                "source_id": source_id,
                "render_key": key,
                "object_sha256": sha,
                "width": int(pixels.shape[1]),
                "height": int(pixels.shape[0]),
                "channels": 1 if pixels.ndim == 2 else 3,
                "facts": json.dumps(facts, sort_keys=True, default=str),
                "created_at": utc_now(),
            },
            ignore=True,
        )
        frame_id = db.execute(
            "SELECT id FROM frames WHERE source_id=? AND render_key=?", [source_id, key]
        ).fetchone()[0]
    return GroundTruth(int(frame_id), source_id, sha, pixels, facts)


def display_facts(truth: GroundTruth, placement: Placement) -> dict[str, Any]:
    """How the displayed frame relates to the full-resolution ground truth."""
    height, width = truth.pixels.shape[:2]
    return {
        "mode": placement.mode,
        "scale": placement.scale,
        "reduction": placement.reduction,
        "width": placement.width,
        "height": placement.height,
        "source_width": width,
        "source_height": height,
        "source_frame_id": truth.frame_id,
        "source_sha256": truth.object_sha256,
        # screen pixel j of the image shows source pixels [k*j, k*j + k) (box filter),
        # or the source pixel under its centre (nearest neighbour, 'fit')
        "resampling": "box" if placement.reduction > 1 else "nearest",
    }


def ensure_displayed_frame(
    project: Project, truth: GroundTruth, displayed: np.ndarray, placement: Placement
) -> GroundTruth:
    """The ground truth as the screen showed it: ``truth`` itself when shown at full
    resolution or enlarged (its pixels are all there), else the reduced ``displayed``
    image (uint8, as ``truth.pixels``), stored once as a frame of its own."""
    if placement.scale >= 1 or displayed.shape[:2] == truth.pixels.shape[:2]:
        return truth
    facts = {**truth.facts, "display": display_facts(truth, placement)}
    db = project.db()
    try:
        key_row = db.execute(
            "SELECT render_key FROM frames WHERE id=?", [truth.frame_id]
        ).fetchone()
        if key_row is None:
            raise StoreError(f"frame {truth.frame_id} is not stored")
        key = f"{key_row[0]}@{placement.mode}:{placement.width}x{placement.height}"
        rows = list(
            db.query(
                "SELECT id, object_sha256 FROM frames WHERE source_id=? AND render_key=?",
                [truth.source_id, key],
            )
        )
        if rows:
            return GroundTruth(
                rows[0]["id"], truth.source_id, rows[0]["object_sha256"], displayed, facts
            )
        return _store_frame(project, db, truth.source_id, key, displayed, facts)
    finally:
        db.close()
