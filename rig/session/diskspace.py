"""Will the disk hold the session? Free space against the photos a session stores.

Checked before a session row exists (``service.create``: every item), before a resume
(the items left) and before each item (the runner's one pause hook): a session that
would run out of space pauses with one line naming the path, instead of meeting ENOSPC
half-way through a photo. What does meet it anyway (another program filled the disk)
is caught where it is written: objects and uploads refuse a write that would leave
less than ``rig.atomic.RESERVE_BYTES`` (``DiskFullError``), partial files are removed,
and the runner pauses the session on any ``StorageError``.

Estimate per item, in bytes (generous on purpose: running out costs a pause, a refusal
at the start costs a ``--limit``):

- the photo: the camera's pixels × ``JPEG_BYTES_PER_PIXEL``; a real camera is taken to
  be ``REAL_CAMERA_PIXELS`` unless its URL gives ``width``/``height``; the simulated ones
  use their preset's sensor (or the screen, with ``preset=none``). The in-process
  simulated phone keeps its own copy under the session folder (two copies); a photo
  reaching ``objects/`` from the upload store is hard-linked, not copied.
- what registration stores: screen pixels × ``TRUTH_BYTES_PER_SCREEN_PIXEL`` (the
  aligned photo and its mask as PNG, and the ground-truth frame).

A session needs ``items × per item × MARGIN + RESERVE_BYTES``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rig.atomic import RESERVE_BYTES, format_bytes, free_bytes
from rig.errors import DiskFullError, RigError
from rig.project import Project
from rig.session.plan import CapturePlan

JPEG_BYTES_PER_PIXEL = 0.4  # phone JPEGs of a screen: 0.2-0.35 B/px; the simulator's 0.07
REAL_CAMERA_PIXELS = 12_000_000  # a 12 MP phone or webcam, unless the URL says
TRUTH_BYTES_PER_SCREEN_PIXEL = 1.0  # aligned PNG + mask + truth frame: measured 0.6 B/px
MARGIN = 1.25
DEFAULT_PRESET = "paper-lcd-iphone"


@dataclass(frozen=True)
class SpaceEstimate:
    """What one item of a session stores, and what ``n`` items need with the margins."""

    photo_bytes: int
    photo_copies: int
    truth_bytes: int

    @property
    def item_bytes(self) -> int:
        return self.photo_bytes * self.photo_copies + self.truth_bytes

    def need_bytes(self, items: int) -> int:
        return math.ceil(items * self.item_bytes * MARGIN) + RESERVE_BYTES

    def items_fitting(self, free: int) -> int:
        return max(0, int((free - RESERVE_BYTES) / (self.item_bytes * MARGIN)))


def estimate(plan: CapturePlan) -> SpaceEstimate:
    # screen_wh: a settled plan's size, or the default for one rig.toml has not settled yet
    return _estimate(plan.camera, *plan.screen_wh)


@lru_cache(maxsize=32)
def _estimate(camera: str, screen_w: int, screen_h: int) -> SpaceEstimate:
    from rig.devices.urls import parse_camera_url

    screen_px = screen_w * screen_h
    try:
        url = parse_camera_url(camera)
    except RigError:  # validated elsewhere; a size estimate never refuses a URL
        return SpaceEstimate(int(REAL_CAMERA_PIXELS * JPEG_BYTES_PER_PIXEL), 1, screen_px)
    copies = 2 if url.scheme == "simphone" else 1
    photo_px = _photo_pixels(url.scheme, url.target, dict(url.options), screen_px)
    return SpaceEstimate(
        int(photo_px * JPEG_BYTES_PER_PIXEL),
        copies,
        int(screen_px * TRUTH_BYTES_PER_SCREEN_PIXEL),
    )


def _photo_pixels(scheme: str, target: str, options: dict[str, str], screen_px: int) -> int:
    """The camera's pixels: the URL's size (``width``/``height``, or a simulated camera's
    ``sensor.width_px``/``sensor.height_px``), else a simulated camera's preset sensor, else
    ``REAL_CAMERA_PIXELS``."""
    for w, h in (("width", "height"), ("sensor.width_px", "sensor.height_px")):
        try:
            return int(float(options[w])) * int(float(options[h]))
        except (KeyError, ValueError):
            continue
    preset = {"simphone": options.get("preset", DEFAULT_PRESET), "sim": target or DEFAULT_PRESET}
    if scheme in preset:
        return _preset_pixels(preset[scheme], screen_px)
    return REAL_CAMERA_PIXELS


def _preset_pixels(name: str, screen_px: int) -> int:
    if name == "none":  # the plain screen frame is the photo
        return screen_px
    from rig.camsim import load_preset

    try:
        sensor = load_preset(name).sensor
    except RigError:
        return REAL_CAMERA_PIXELS
    return int(sensor.width_px * sensor.height_px)


def session_places(project: Project) -> list[Path]:
    """Where a session writes (rig.db, objects/, sessions/), one per file system."""
    seen: dict[int, Path] = {}
    for path in (project.root, project.root / "objects", project.root / "sessions"):
        probe = path if path.exists() else project.root
        seen.setdefault(os.stat(probe).st_dev, path)
    return list(seen.values())


def ensure_room(
    project: Project, plan: CapturePlan, items: int, what: str, hint: Callable[[int], str]
) -> None:
    """``DiskFullError`` naming the first place without room unless ``items`` more items fit.

    ``what`` says what is checked ("this session's 200 items"); ``hint(n)`` what to do
    when ``n`` items would fit.
    """
    est = estimate(plan)
    need = est.need_bytes(items)
    for place in session_places(project):
        free = free_bytes(place)
        if free < need:
            fitting = est.items_fitting(free)
            raise DiskFullError(
                f"{place}: not enough free space for {what}: {format_bytes(free)} free, about "
                f"{format_bytes(need)} needed (~{format_bytes(est.item_bytes)} per item, "
                f"{format_bytes(RESERVE_BYTES)} kept free for the database); "
                + hint(fitting),
                place,
            )


def ensure_session_room(project: Project, plan: CapturePlan, items: int) -> None:
    """Before a new session exists: room for every item, or say how many would fit."""
    def hint(fitting: int) -> str:
        fewer = f" or capture fewer items (--limit {fitting})" if fitting >= 1 else ""
        return "free some space" + fewer

    ensure_room(project, plan, items, f"this session's {items} items", hint)


def ensure_item_room(project: Project, plan: CapturePlan) -> None:
    """Before each item (the runner's pause hook): room for the next one."""
    ensure_room(project, plan, 1, "the next item", lambda _fitting: "free some space")


def ensure_resume_room(project: Project, session_id: str) -> None:
    """Before a resume: room for the items still without a verified photo."""
    from rig.session.states import ItemState
    from rig.session.store import SessionStore

    with SessionStore.open(project) as store:
        plan = store.session(session_id).plan
        left = sum(store.count_items(session_id, s) for s in (ItemState.PENDING, ItemState.SHOWN))
    if left:
        ensure_room(
            project, plan, left, f"the {left} items left", lambda _fitting: "free some space"
        )
