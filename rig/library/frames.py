"""Ground-truth frames: a source rendered to 8 bits, stored once with how it was made."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rig.errors import StoreError
from rig.imaging import codec
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
        sha = project.objects.put(encode_png(rendered.pixels))
        with db.conn:
            # Another thread may have rendered the same source meanwhile (prefetch of a
            # repeated item): the UNIQUE key keeps one row, and we read its id back.
            db.table("frames").insert(
                {
                    "source_id": source_id,
                    "render_key": key,
                    "object_sha256": sha,
                    "width": int(rendered.pixels.shape[1]),
                    "height": int(rendered.pixels.shape[0]),
                    "channels": 1 if rendered.pixels.ndim == 2 else 3,
                    "facts": json.dumps(rendered.facts, sort_keys=True, default=str),
                    "created_at": utc_now(),
                },
                ignore=True,
            )
            frame_id = db.execute(
                "SELECT id FROM frames WHERE source_id=? AND render_key=?", [source_id, key]
            ).fetchone()[0]
        return GroundTruth(int(frame_id), source_id, sha, rendered.pixels, rendered.facts)
    finally:
        db.close()
