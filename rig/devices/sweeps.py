"""Condition sweeps: which capture conditions apply to each item of a session.

``--sweep lights=off,on,dim --sweep-every 300`` means: items 0..299 with the lights
off, 300..599 on, 600..899 dim, then off again. With several sweeps the blocks walk
through every combination like an odometer, the first sweep changing fastest, so a
long enough session covers the full factorial design. Pure functions: the session
engine calls the rig controller only when the conditions change between items.
"""

from __future__ import annotations

import re

from rig.devices.controller import canonical_conditions
from rig.errors import UsageError

_KEY = re.compile(r"[a-z][a-z0-9_.]*")
_VALUE = re.compile(r"[A-Za-z0-9_.+-]+")


def parse_sweep(text: str) -> tuple[str, list[str]]:
    """``"lights=off,on,dim"`` -> ``("light", ["off", "on", "dim"])`` (aliases resolved)."""
    key, eq, raw = text.partition("=")
    key = key.strip()
    values = [v.strip() for v in raw.split(",")]
    if not eq or not _KEY.fullmatch(key):
        raise UsageError(f"--sweep '{text}': expected name=value1,value2 (e.g. lights=off,on,dim)")
    bad = [v for v in values if not _VALUE.fullmatch(v)]
    if bad or not values:
        raise UsageError(f"--sweep '{text}': empty or invalid value {bad[0] if bad else ''!r}")
    (name,) = canonical_conditions({key: ""})
    return name, values


def parse_sweeps(texts: list[str]) -> dict[str, list[str]]:
    """Several ``--sweep`` options -> one mapping; a repeated name is an error."""
    out: dict[str, list[str]] = {}
    for text in texts:
        name, values = parse_sweep(text)
        if name in out:
            raise UsageError(f"--sweep '{text}': '{name}' is swept twice")
        out[name] = values
    return out


def sweep_schedule(n_items: int, sweeps: dict[str, list[str]], every: int) -> list[dict[str, str]]:
    """The conditions for item 0..n_items-1: block ``i // every`` indexes the combinations."""
    if every < 1:
        raise UsageError(f"--sweep-every must be >= 1, got {every}")
    if n_items < 0:
        raise UsageError(f"number of items must be >= 0, got {n_items}")
    if any(not values for values in sweeps.values()):
        raise UsageError("every --sweep needs at least one value")
    schedule = []
    for item in range(n_items):
        block = item // every
        conditions = {}
        for name, values in sweeps.items():
            conditions[name] = values[block % len(values)]
            block //= len(values)
        schedule.append(conditions)
    return schedule


def changes(schedule: list[dict[str, str]]) -> list[tuple[int, dict[str, str]]]:
    """(item index, conditions) where the conditions differ from the previous item."""
    out: list[tuple[int, dict[str, str]]] = []
    previous: dict[str, str] | None = None
    for index, conditions in enumerate(schedule):
        if conditions != previous:
            out.append((index, conditions))
            previous = conditions
    return out
