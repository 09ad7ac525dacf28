"""Patient-level splits: no patient in two splits, stratified by label, reproducible, kept.

A split scheme is the fractions (adding up to 1) plus the seed (``train=0.8,valid=0.1,test=0.1;seed=0``).
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


SUM_TOLERANCE = 1e-6


def parse_split(text: str) -> dict[str, float]:
    """``train=0.8,valid=0.1,test=0.1`` → fractions (each ≥ 0, adding up to 1 ± 1e-6)."""
    fractions: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name = name.strip()
        try:
            frac = float(value)
        except ValueError:
            frac = -1.0
        if not sep or not name or not frac >= 0 or name in fractions:
            raise UsageError(f"--split '{text}': write it like train=0.8,valid=0.1,test=0.1")
        fractions[name] = frac
    total = sum(fractions.values())
    if abs(total - 1.0) > SUM_TOLERANCE:
        raise UsageError(f"--split '{text}': the fractions add up to {total:g}, not 1")
    return fractions


def scheme_name(fractions: Mapping[str, float], seed: int) -> str:
    body = ",".join(f"{k}={v:g}" for k, v in fractions.items())
    return f"{body};seed={seed}"


def _rank(seed: int, patient: str) -> str:
    return hashlib.sha256(f"{seed}:{patient}".encode()).hexdigest()


def split_targets(n_patients: int, fractions: Mapping[str, float]) -> dict[str, int]:
    """Patients per split: largest-remainder apportionment of ``n_patients``, then at
    least one for every split with a non-zero fraction when there are enough patients
    (taken from the largest split, which then still holds at least one)."""
    quotas = {name: frac * n_patients for name, frac in fractions.items()}
    targets = {name: int(q) for name, q in quotas.items()}
    order = sorted(fractions, key=lambda n: (-(quotas[n] - targets[n]), -fractions[n]))
    for name in order[: n_patients - sum(targets.values())]:
        targets[name] += 1
    wanted = [n for n in fractions if fractions[n] > 0]
    if n_patients >= len(wanted):
        for name in wanted:
            if targets[name] == 0:
                donor = max(wanted, key=lambda n: (targets[n], fractions[n]))
                targets[donor] -= 1
                targets[name] = 1
    return targets


def assign_splits(
    patient_strata: Mapping[str, str],
    fractions: Mapping[str, float],
    seed: int,
    fixed: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Place each patient in a split (stratified systematic allocation to fixed targets).

    The whole is apportioned first (``split_targets``: largest remainder, every
    non-empty fraction gets a patient when there are enough). Patients are then
    visited stratum by stratum in a seeded order, and each goes to the split
    furthest below its share of everything placed so far among the splits still
    under target; so every stratum is spread in proportion too, and the totals
    are the targets. ``patient_strata`` maps patient → stratum key (e.g. its
    positive labels); ``fixed`` holds earlier assignments, which are kept as they
    are (new patients fill the splits that fell short; the last ones go to any split
    still empty).
    """
    result = {p: s for p, s in (fixed or {}).items() if p in patient_strata and s in fractions}
    targets = split_targets(len(patient_strata), fractions)
    total = max(1, len(patient_strata))
    counts = {name: 0 for name in fractions}
    for split in result.values():
        counts[split] += 1
    todo = sorted(
        (p for p in patient_strata if p not in result),
        key=lambda p: (patient_strata[p], _rank(seed, p)),
    )
    for left, patient in zip(range(len(todo), 0, -1), todo, strict=True):
        placed = sum(counts.values()) + 1
        open_ = [n for n in fractions if counts[n] < targets[n]] or list(fractions)
        # Earlier (fixed) assignments can crowd the targets: the last new patients
        # go to splits still empty rather than leave them empty.
        empty = [n for n in fractions if counts[n] == 0 and targets[n] > 0]
        name = max(
            empty if 0 < len(empty) >= left else open_,
            key=lambda n: (targets[n] * placed / total - counts[n], fractions[n]),
        )
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
