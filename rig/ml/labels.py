"""Diagnosis labels for training and evaluation, from the project's label table.

A dataset folder's ``manifest.csv`` carries one column per label (``rig export`` writes
the project's label table there): binary (1 / 0, one column) or CheXpert-style
(1 positive, 0 negative, −1 uncertain, blank not mentioned).

Training targets, per label, by the run's uncertainty policy (Irvin et al., CheXpert,
AAAI 2019): U-Ignore (default) masks uncertain labels out of the loss, U-Zeros counts
them negative, U-Ones positive. Blank ("not mentioned") counts as negative under every
policy, as in CheXpert's baselines. Evaluation uses definite labels only: an uncertain
case is left out of that label's AUROC (and counted), whatever the training policy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rig.errors import InputError, UsageError

POLICIES = ("u-ignore", "u-zeros", "u-ones")
UNCERTAIN = -1.0


def parse_value(text: str, where: str) -> float | None:
    """1, 0, −1 (also written 1.0 …) or blank (None); anything else is an InputError."""
    t = (text or "").strip()
    if t == "":
        return None
    try:
        value = float(t)
    except ValueError:
        value = 99.0
    if value not in (1.0, 0.0, UNCERTAIN):
        raise InputError(f"{where}: label value {text!r} is not 1, 0, -1 or blank")
    return value


def check_policy(policy: str) -> str:
    if policy not in POLICIES:
        raise UsageError(f"--policy '{policy}': use one of {', '.join(POLICIES)}")
    return policy


def parse_label_names(text: str | Sequence[str]) -> tuple[str, ...]:
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text)]
    names = [n for n in names if n]
    if not names:
        raise UsageError("--labels: give one or more label columns, e.g. --labels Cardiomegaly")
    if len(set(names)) != len(names):
        raise UsageError(f"--labels {','.join(names)}: a label is named twice")
    return tuple(names)


def training_targets(values: Sequence[float | None], policy: str) -> tuple[np.ndarray, np.ndarray]:
    """(target, weight), each (L,) float32: the loss sees label l with weight[l]."""
    target = np.zeros(len(values), np.float32)
    weight = np.ones(len(values), np.float32)
    for i, v in enumerate(values):
        if v == 1.0:
            target[i] = 1.0
        elif v == UNCERTAIN:
            if policy == "u-ignore":
                weight[i] = 0.0
            elif policy == "u-ones":
                target[i] = 1.0
    return target, weight


def evaluation_truth(value: float | None) -> int | None:
    """1, 0, or None (uncertain: not scored)."""
    if value == UNCERTAIN:
        return None
    return 1 if value == 1.0 else 0
