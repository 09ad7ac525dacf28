"""What exists, for the console's pickers and sessions panel (no Qt here).

Pickers list real choices instead of asking technicians to type URLs from memory:
cameras that are attached (rig.devices.discovery, as ``rig devices list``) next to the
simulated ones, source queries with how many images each selects, the compositor's
placements and the bundled camera presets. Each choice keeps the exact text the
plan takes (``value``) apart from what the operator reads (``label``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from rig.errors import UsageError
from rig.project import Project
from rig.session.states import SESSION_TRANSITIONS
from rig.session.store import SessionListing, SessionRecord, SessionStore


@dataclass(frozen=True)
class Choice:
    value: str  # what goes into the plan (camera URL, source query, …)
    label: str  # what the operator reads


def camera_choices(
    attached: Iterable[dict[str, Any]], presets: Iterable[str]
) -> list[Choice]:  # fmt: skip
    """The simulated phone, a real phone, attached cameras, then one simulated device per preset."""
    out = [
        Choice("sim", "sim — simulated phone (protocol over loopback)"),
        Choice("phone", "phone — the tripod phone pairs by the QR code"),
    ]
    for cam in attached:
        if not cam.get("capture_node", True):
            continue  # UVC metadata nodes cannot take pictures
        name = cam.get("name") or cam.get("model") or ""
        out.append(Choice(str(cam["url"]), f"{cam['url']} — {name}".rstrip(" —")))
    out += [Choice(f"sim:{p}", f"sim:{p} — simulated camera, preset {p}") for p in presets]
    return out


def attached_cameras(
    discover: Callable[[], dict[str, list[dict[str, Any]]]] | None = None,
) -> list[dict[str, Any]]:
    """Cameras on this computer, as ``rig devices list`` finds them (empty if listing fails)."""
    if discover is None:
        from rig.devices.discovery import list_devices

        discover = list_devices
    try:
        return list(discover().get("cameras", []))
    except OSError:
        return []


def preset_names() -> list[str]:
    from rig.camsim.params import preset_names as bundled

    return bundled()


def placements() -> list[str]:
    """The compositor's placements, read from where they are defined."""
    from rig.imaging.compositor import PLACEMENTS

    return list(PLACEMENTS)


def source_choices(db: sqlite_utils.Database) -> list[Choice]:
    """``all``, one ``label:NAME=1`` per label that marks any image, and the id range."""
    total, lo, hi = db.execute("SELECT count(*), min(id), max(id) FROM sources").fetchone()
    out = [Choice("all", f"all — {_images(total)}")]
    for name, n in db.execute(
        "SELECT name, count(*) FROM labels WHERE value = 1 GROUP BY name ORDER BY name"
    ).fetchall():
        out.append(Choice(f"label:{name}=1", f"label:{name}=1 — {_images(n)}"))
    if total:
        ids = f"ids:{lo}-{hi}" if lo != hi else f"ids:{lo}"
        gaps = "" if hi - lo + 1 == total else " (some ids missing)"
        out.append(Choice(ids, f"{ids} — {_images(total)}{gaps}"))
    return out


def list_sessions(project: Project) -> list[SessionListing]:
    """Every session of the project, newest first, with its progress."""
    with SessionStore.open(project) as store:
        return store.list_sessions()[::-1]


def can_resume(row: SessionListing) -> bool:
    """A runner may start it again (states.py) and some item still lacks a verified photo."""
    return (row.state, "start") in SESSION_TRANSITIONS and row.verified < row.items


def can_abort(row: SessionListing) -> bool:
    return (row.state, "abort") in SESSION_TRANSITIONS


def session_record(project: Project, session_id: str) -> SessionRecord | None:
    """The stored session, or None when there is none (a run that never started leaves none)."""
    with SessionStore.open(project) as store:
        try:
            return store.session(session_id)
        except UsageError:
            return None


@dataclass(frozen=True)
class ItemObjects:
    """The three pictures of one capture attempt (content hashes in objects/)."""

    photo: str | None
    aligned: str | None
    truth: str | None


def item_objects(db: sqlite_utils.Database, session_id: str, idx: int, attempt: int) -> ItemObjects:
    """Photo, aligned photo and ground truth of item ``idx``, attempt ``attempt``: one item."""
    row = db.execute(
        "SELECT c.photo_sha256, r.aligned_sha256, f.object_sha256 FROM items i "
        "LEFT JOIN captures c ON c.session_id = i.session_id AND c.idx = i.idx AND c.attempt = ? "
        "LEFT JOIN registrations r ON r.capture_id = c.id "
        "LEFT JOIN frames f ON f.id = i.frame_id WHERE i.session_id = ? AND i.idx = ?",
        [attempt, session_id, idx],
    ).fetchone()
    return ItemObjects(*row) if row else ItemObjects(None, None, None)


def _images(n: int) -> str:
    return f"{n} image" if n == 1 else f"{n} images"
