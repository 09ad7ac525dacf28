"""A capture plan is data: which sources, in what order, with which camera and conditions.

Plans come from ``--plan PLAN.toml`` or from command-line flags; both produce the
same frozen ``CapturePlan``, which is stored with the session (so ``resume`` and
``replay`` use exactly what ran).

Source queries (``--sources``): ``all`` · ``ids:1,2,5-9`` · ``label:NAME=1`` ·
``csv:FILE`` (a CSV with a ``source_id`` column) · ``range:START:STOP`` (positions
in the library, 0-based, stop exclusive).
"""

from __future__ import annotations

import csv
import random
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import sqlite_utils

from rig.errors import InputError, UsageError

CONDITION_KEYS = (
    "room_light", "blinds", "monitor_model", "monitor_settings", "phone_model",
    "orientation", "distance_mm", "notes",
)  # fmt: skip


@dataclass(frozen=True)
class CapturePlan:
    sources: str = "all"
    order: str = "listed"  # listed | shuffled
    seed: int = 0
    repeats: int = 1
    limit: int | None = None
    camera: str = "sim"
    screen_width: int = 1920
    screen_height: int = 1080
    placement: str = ""  # "" = not chosen by the plan (rig.imaging.compositor.resolve_placement)
    layout: dict[str, Any] = field(default_factory=dict)  # calibration.fiducials.FiducialLayout
    settle_ms: int = 120
    max_attempts: int = 4
    capture_timeout_s: float = 30.0
    conditions: dict[str, str] = field(default_factory=dict)
    sweeps: dict[str, list[str]] = field(default_factory=dict)
    sweep_every: int = 0
    controller: str | None = None
    insecure_chexpeditor: bool = False  # allow the unauthenticated CheXpeditor protocol
    replay_of: str | None = None  # the recorded session this one replays (rig session replay)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "plan") -> CapturePlan:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"{where}: unknown plan setting(s) {', '.join(unknown)}")
        plan = cls(**data)
        plan.validate(where)
        return plan

    def validate(self, where: str = "plan") -> None:
        if self.order not in ("listed", "shuffled"):
            raise InputError(f"{where}: order must be 'listed' or 'shuffled'")
        if self.repeats < 1 or self.max_attempts < 1 or self.max_attempts > 15:
            raise InputError(f"{where}: repeats ≥ 1 and 1 ≤ max_attempts ≤ 15")
        if self.limit is not None and self.limit < 1:
            raise InputError(f"{where}: limit must be ≥ 1")


def load_plan(path: Path) -> CapturePlan:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read plan ({exc})") from exc
    return CapturePlan.from_dict(data, str(path))


def split_camera(camera: str) -> tuple[str, dict[str, str]]:
    """``sim?preset=P&faults=SPEC`` → (``sim``, {preset: P, faults: SPEC}); one parser for all."""
    from urllib.parse import parse_qsl

    base, _, query = camera.partition("?")
    return base, dict(parse_qsl(query))


def parse_conditions(pairs: list[str]) -> dict[str, str]:
    """``k=v`` strings → dict; unknown keys are allowed (free-form conditions)."""
    out = {}
    for item in pairs:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--condition '{item}': write it as key=value, e.g. room_light=off")
        out[key.strip()] = value.strip()
    return out


def _parse_ids(text: str) -> list[int]:
    ids: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        try:
            ids += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
        except ValueError as exc:
            raise UsageError(f"--sources ids:{text}: '{part}' is not an id or a range a-b") from exc
    return ids


def select_sources(db: sqlite_utils.Database, query: str) -> list[int]:
    """Source ids matching a query, in library order."""
    kind, _, arg = query.partition(":")
    library = [r["id"] for r in db.query("SELECT id FROM sources ORDER BY id")]
    if kind == "all":
        return library
    if kind == "ids":
        wanted = _parse_ids(arg)
        missing = sorted(set(wanted) - set(library))
        if missing:
            raise UsageError(f"--sources: no source with id {missing[0]}; see 'rig sources list'")
        return wanted
    if kind == "label":
        name, _, value = arg.partition("=")
        rows = db.query(
            "SELECT source_id FROM labels WHERE name = ? AND value = ? ORDER BY source_id",
            [name, float(value or 1)],
        )
        return [r["source_id"] for r in rows]
    if kind == "range":
        start, _, stop = arg.partition(":")
        return library[int(start or 0) : int(stop) if stop else None]
    if kind == "csv":
        return _ids_from_csv(Path(arg), set(library))
    raise UsageError(
        f"--sources '{query}': use all, ids:1,2,5-9, label:NAME=1, csv:FILE or range:A:B"
    )


def _ids_from_csv(path: Path, library: set[int]) -> list[int]:
    try:
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise UsageError(f"--sources csv:{path}: cannot read ({exc.strerror})") from exc
    try:
        ids = [int(r["source_id"]) for r in rows]
    except (KeyError, ValueError) as exc:
        raise UsageError(f"--sources csv:{path}: needs a source_id column of integers") from exc
    if missing := [i for i in ids if i not in library]:
        raise UsageError(f"--sources csv:{path}: no source with id {missing[0]}")
    return ids


def expand_items(plan: CapturePlan, source_ids: list[int]) -> list[int]:
    """Display order: repeats, optional seeded shuffle, then the limit."""
    items = [s for s in source_ids for _ in range(plan.repeats)]
    if plan.order == "shuffled":
        random.Random(plan.seed).shuffle(items)
    return items[: plan.limit] if plan.limit else items
