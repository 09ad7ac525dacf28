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
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlite_utils

from rig.config import DisplayConfig
from rig.errors import UsageError

if TYPE_CHECKING:
    from rig.session.settle import SettleBounds

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
    # Unset (None / ""): rig.toml [display] decides when the session is created
    # (``settled``), else the defaults (rig.imaging.compositor.resolve_screen, _placement).
    screen_width: int | None = None
    screen_height: int | None = None
    placement: str = ""
    layout: dict[str, Any] = field(default_factory=dict)  # calibration.fiducials.FiducialLayout
    # The settle between "frame presented" and "shoot" (rig.session.settle): settle_ms is the
    # first value — the physical minimum, two refresh intervals — and, adaptive, it moves
    # within [settle_ms_min, settle_ms_max] as the frame codes of the photos prove it must.
    settle_ms: int = 33
    settle_ms_min: int = 33
    settle_ms_max: int = 500
    settle_adaptive: bool = True
    max_attempts: int = 4
    # None: the camera's own limits decide (shot + transfer + margin, rig.session.capture);
    # a value can only lengthen that deadline, never cut a capture the camera still runs.
    capture_timeout_s: float | None = None
    conditions: dict[str, str] = field(default_factory=dict)
    sweeps: dict[str, list[str]] = field(default_factory=dict)
    sweep_every: int = 0
    controller: str | None = None
    insecure_chexpeditor: bool = False  # allow the unauthenticated CheXpeditor protocol
    replay_of: str | None = None  # the recorded session this one replays (rig session replay)
    # Quality gate (docs/quality.md): None takes rig.toml [quality] min_grade; 1 turns it off.
    min_grade: int | None = None
    quality_gate: str | None = None  # a 'rig train quality' run: P(bad) of every photo
    classifier: str | None = None  # a 'rig train classify' run: P(label) of every verified photo

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "plan") -> CapturePlan:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UsageError(f"{where}: unknown plan setting(s) {', '.join(unknown)}")
        try:
            plan = cls(**data)
        except TypeError as exc:
            raise UsageError(f"{where}: {exc}") from exc
        plan.validate(where)
        return plan

    @property
    def chosen_screen(self) -> tuple[int, int] | None:
        """The screen size the plan sets, or None (rig.toml decides)."""
        if self.screen_width is None or self.screen_height is None:
            return None
        return (self.screen_width, self.screen_height)

    @property
    def screen_wh(self) -> tuple[int, int]:
        """The screen size of a settled plan (an unsettled one gets the default)."""
        from rig.imaging.compositor import resolve_screen

        return resolve_screen(None, self.chosen_screen)

    def settled(self, display: DisplayConfig) -> CapturePlan:
        """The plan with what it leaves unset (screen size, placement) taken from
        rig.toml's ``[display]``, else the defaults. This is what a session stores and
        runs, so resume and replay use exactly what ran even if rig.toml changes."""
        from rig.imaging.compositor import resolve_placement, resolve_screen

        width, height = resolve_screen(None, self.chosen_screen, display.screen_wh)
        placement = resolve_placement(None, self.placement, display.placement)
        return replace(self, screen_width=width, screen_height=height, placement=placement)

    def settle_bounds(self) -> SettleBounds:
        """The settle's first value and bounds (which always include ``settle_ms``)."""
        from rig.session.settle import SettleBounds

        return SettleBounds(
            self.settle_ms, min(self.settle_ms_min, self.settle_ms),
            max(self.settle_ms_max, self.settle_ms), self.settle_adaptive,
        )  # fmt: skip

    def validate(self, where: str = "plan") -> None:
        """Usage errors naming the setting, before anything is stored."""
        from rig.imaging.compositor import check_placement, check_screen

        if self.order not in ("listed", "shuffled"):
            raise UsageError(f"{where}: order must be 'listed' or 'shuffled'")
        if self.repeats < 1 or self.max_attempts < 1 or self.max_attempts > 15:
            raise UsageError(f"{where}: repeats >= 1 and 1 <= max_attempts <= 15")
        if self.limit is not None and self.limit < 1:
            raise UsageError(f"{where}: limit must be >= 1, got {self.limit}")
        if self.placement:
            check_placement(f"{where}: placement", self.placement)
        if self.settle_ms < 0 or (
            self.capture_timeout_s is not None and self.capture_timeout_s <= 0
        ):
            raise UsageError(f"{where}: settle_ms >= 0 and capture_timeout_s > 0")
        if not 0 <= self.settle_ms_min <= self.settle_ms_max:
            raise UsageError(f"{where}: settle_ms_min/settle_ms_max: 0 <= min <= max")
        if (self.screen_width is None) != (self.screen_height is None):
            raise UsageError(f"{where}: set both screen_width and screen_height, or neither")
        if self.chosen_screen is not None:
            check_screen(f"{where}: screen", self.chosen_screen)
        if self.min_grade is not None and not 1 <= self.min_grade <= 4:
            raise UsageError(f"{where}: min_grade must be 1..4 (1: no quality gate)")


@dataclass(frozen=True)
class PlanOverrides:
    """What the command line (or the GUI) sets on top of a plan; None keeps the plan's."""

    sources: str | None = None
    camera: str | None = None
    limit: int | None = None
    placement: str | None = None
    conditions: dict[str, str] = field(default_factory=dict)  # merged into the plan's
    controller: str | None = None
    sweeps: dict[str, list[str]] = field(default_factory=dict)
    sweep_every: int | None = None
    insecure_chexpeditor: bool = False
    # Options set on the camera URL, e.g. --bind/--advertise/--udp-port/--http-port of
    # --camera phone: stored with the plan (so resume keeps them) and checked by the camera's
    # backend, like any option written in the URL, before a session exists.
    camera_options: dict[str, str] = field(default_factory=dict)
    min_grade: int | None = None
    quality_gate: str | None = None
    classifier: str | None = None

    def apply(self, plan: CapturePlan, where: str = "command line") -> CapturePlan:
        """The plan with these settings on top, validated (a limit of 0 is an error, not 'all')."""
        changes: dict[str, Any] = {
            k: v
            for k in ("sources", "camera", "limit", "placement", "controller", "sweep_every",
                      "min_grade", "quality_gate", "classifier")
            if (v := getattr(self, k)) is not None
        }
        if self.conditions:
            changes["conditions"] = {**plan.conditions, **self.conditions}
        if self.sweeps:
            changes["sweeps"] = self.sweeps
        if self.insecure_chexpeditor:
            changes["insecure_chexpeditor"] = True
        if self.camera_options:
            changes["camera"] = with_camera_options(changes.get("camera", plan.camera),
                                                    self.camera_options)  # fmt: skip
        merged = replace(plan, **changes)
        merged.validate(where)
        return merged


def load_plan(path: Path) -> CapturePlan:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read plan ({exc})") from exc
    return CapturePlan.from_dict(data, str(path))


def with_camera_options(camera: str, options: dict[str, str]) -> str:
    """The camera URL with ``options`` set (replacing the URL's own values of the same keys)."""
    from rig.devices.urls import CameraUrl, parse_camera_url

    url = parse_camera_url(camera)
    kept = tuple((k, v) for k, v in url.options if k not in options)
    return str(CameraUrl(url.scheme, url.target, kept + tuple(options.items())))


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
        try:
            wanted_value = float(value or 1)
        except ValueError as exc:
            raise UsageError(f"--sources {query}: the label value must be 1, 0 or -1") from exc
        rows = db.query(
            "SELECT source_id FROM labels WHERE name = ? AND value = ? ORDER BY source_id",
            [name, wanted_value],
        )
        return [r["source_id"] for r in rows]
    if kind == "range":
        start, _, stop = arg.partition(":")
        try:
            return library[int(start or 0) : int(stop) if stop else None]
        except ValueError as exc:
            raise UsageError(f"--sources {query}: write range:START:STOP with integers") from exc
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
