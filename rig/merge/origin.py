"""A rig whose project is merged: its project read as one snapshot, its name, monitor and
the camera that took each photo.

The rig is described by its project's ``rig.toml``: ``[rig] name`` (else the project's
name), ``monitor`` and ``room``, and ``[display]`` for the screen size. The camera is
read from each photo where a real phone says it (EXIF Make and Model, PS: JEITA CP-3451
tags 0x010F/0x0110), else from what the session recorded about its camera.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils
from PIL import Image, UnidentifiedImageError

from rig.errors import UsageError
from rig.export.pairs import camera_preset
from rig.project import Project, open_project
from rig.session.plan import split_camera
from rig.store.versions import check_schema, open_snapshot

EXIF_MAKE, EXIF_MODEL = 0x010F, 0x0110


@dataclass
class RigOrigin:
    """One rig's project, open on a read-only snapshot (``close`` when done)."""

    project: Project
    db: sqlite_utils.Database

    @property
    def name(self) -> str:
        return self.project.config.rig_name

    def rig_row(self, now: str) -> dict[str, Any]:
        rig, display = self.project.config.rig, self.project.config.display
        return {
            "name": self.name,
            "monitor": rig.monitor,
            "room": rig.room,
            "screen": f"{display.screen_width}x{display.screen_height}",
            "merged_at": now,
        }

    def conditions(self) -> dict[str, str]:
        """What every pair of this rig records about it (rig.toml [rig])."""
        return self.project.config.rig_conditions

    def close(self) -> None:
        self.db.conn.close()


def open_origins(roots: list[Path], target: Path) -> list[RigOrigin]:
    """Open every rig's project, checking its schema; rigs must have distinct names."""
    origins: list[RigOrigin] = []
    try:
        for root in dict.fromkeys(r.resolve() for r in roots):
            if root == target.resolve():
                raise UsageError(f"{root}: is the research project itself; merge other projects")
            project = open_project(root)
            origins.append(RigOrigin(project, open_snapshot(project.db_path)))
            check_schema(origins[-1].db, str(root), f"rig -p {root} session list")
            if next(iter(origins[-1].db.query("SELECT count(*) AS n FROM merged_sessions")))["n"]:
                raise UsageError(
                    f"{root}: is a research project made by 'rig merge'; merge the rigs' own "
                    "projects instead (with it, or into it with -o)"
                )
        names = [o.name for o in origins]
        if dupes := sorted({n for n in names if names.count(n) > 1}):
            raise UsageError(
                f"two projects are both rig '{dupes[0]}'; give each its own name in its "
                'rig.toml ([rig] name = "...")'
            )
    except BaseException:
        for origin in origins:
            origin.close()
        raise
    return origins


def camera_identity(device: dict[str, Any], camera_url: str, photo: bytes) -> str:
    """Which camera took ``photo``: EXIF make and model when the phone wrote them, else
    the simulated camera's preset or the device model the session recorded."""
    if exif := exif_make_model(photo):
        return exif
    base, _ = split_camera(camera_url)
    if base == "sim":  # the simulated phone (protocol over loopback)
        preset = camera_preset(camera_url)
        return f"simulated phone ({'no camera model' if preset == 'none' else preset})"
    if base.startswith("sim:"):
        return f"simulated camera ({camera_preset(camera_url)})"
    if device.get("model"):
        return str(device["model"])
    return "phone (no EXIF make/model)" if base == "phone" else base


def exif_make_model(photo: bytes) -> str | None:
    """'Make Model' from a JPEG's EXIF, or None (no EXIF, not an image)."""
    try:
        with Image.open(io.BytesIO(photo)) as image:
            exif = image.getexif()
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    make = str(exif.get(EXIF_MAKE, "") or "").strip("\x00 ")
    model = str(exif.get(EXIF_MODEL, "") or "").strip("\x00 ")
    if model.startswith(make):
        make = ""  # many phones repeat the make in the model
    return " ".join(p for p in (make, model) if p) or None
