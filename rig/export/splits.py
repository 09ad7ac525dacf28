"""Patient-level splits: no patient in two splits, stratified by label, reproducible, kept.

A split scheme is the fractions plus the seed (``train=0.8,valid=0.1,test=0.1;seed=0``).
Assignments are stored in the ``splits`` table under the scheme, so a later export
with the same scheme keeps every known patient where it was and only places new ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import sqlite_utils

from rig.errors import UsageError
from rig.store.db import utc_now

DEFAULT_SPLIT = "train=0.8,valid=0.1,test=0.1"


def parse_split(text: str) -> dict[str, float]:
    """``train=0.8,valid=0.1,test=0.1`` → fractions (normalised; must be positive)."""
    fractions: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name = name.strip()
        try:
            frac = float(value)
        except ValueError:
            frac = -1.0
        if not sep or not name or frac < 0:
            raise UsageError(f"--split '{text}': write it like train=0.8,valid=0.1,test=0.1")
        fractions[name] = frac
    total = sum(fractions.values())
    if total <= 0:
        raise UsageError(f"--split '{text}': fractions must add up to more than 0")
    return {name: frac / total for name, frac in fractions.items()}


def scheme_name(fractions: Mapping[str, float], seed: int) -> str:
    body = ",".join(f"{k}={v:g}" for k, v in fractions.items())
    return f"{body};seed={seed}"


def _rank(seed: int, patient: str) -> str:
    return hashlib.sha256(f"{seed}:{patient}".encode()).hexdigest()


def assign_splits(
    patient_strata: Mapping[str, str],
    fractions: Mapping[str, float],
    seed: int,
    fixed: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Place each patient in a split (stratified systematic allocation).

    Patients are visited stratum by stratum in a seeded order, and each goes to
    the split furthest below its target share of everything placed so far; so
    every stratum, and the whole, is spread in proportion to ``fractions``.
    ``patient_strata`` maps patient → stratum key (e.g. its positive labels);
    ``fixed`` holds earlier assignments, which are kept as they are.
    """
    result = {p: s for p, s in (fixed or {}).items() if p in patient_strata}
    counts = {name: 0 for name in fractions}
    for split in result.values():
        if split in counts:
            counts[split] += 1
    todo = sorted(
        (p for p in patient_strata if p not in result),
        key=lambda p: (patient_strata[p], _rank(seed, p)),
    )
    for patient in todo:
        placed = sum(counts.values()) + 1
        name = max(fractions, key=lambda n: (fractions[n] * placed - counts[n], fractions[n]))
        result[patient] = name
        counts[name] += 1
    return result


def load_or_assign(
    db: sqlite_utils.Database,
    patient_strata: Mapping[str, str],
    fractions: Mapping[str, float],
    seed: int,
) -> dict[str, str]:
    """Assign splits, reusing and extending the stored assignment of this scheme."""
    scheme = scheme_name(fractions, seed)
    stored = {
        row["patient_id"]: row["split"]
        for row in db.query("SELECT patient_id, split FROM splits WHERE scheme = ?", [scheme])
    }
    result = assign_splits(patient_strata, fractions, seed, stored)
    new = [p for p in result if p not in stored]
    if new:
        now = utc_now()
        with db.conn:
            db.table("splits").insert_all(
                [
                    {"patient_id": p, "scheme": scheme, "split": result[p], "created_at": now}
                    for p in new
                ],
                pk=("patient_id", "scheme"),
            )
    return result
