"""What every learning benchmark shares: seeds and spread, paired differences, goals
judged beyond the spread, and the record of the machine it ran on.

A learning benchmark trains a fixed amount of work (optimiser steps x batch) by
default, so that another machine runs the same computation and lands within the
reported spread; a time budget is a quick look and is labelled as one. Every model runs
on every seed; a comparison of two models is the paired difference seed by seed (same
seed: same data order, same initialisation stream); a goal counts as met only when
every seed meets it (the whole spread is beyond the goal).
"""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rig.ml.benchdata import BenchSpec, bench_spec
from rig.ml.stats import Spread

MODE_FIXED, MODE_QUICK, MODE_BUDGET = "fixed steps", "quick (fixed steps, a fraction)", "time budget (a quick look)"
DEFAULT_SEEDS = 3


def mode_of(budget_min: float | None, quick: bool) -> str:
    """How a benchmark's work was set: fixed steps, a quick fraction, or minutes."""
    if budget_min is not None:
        return MODE_BUDGET
    return MODE_QUICK if quick else MODE_FIXED


class PlanMode:
    """What a benchmark plan's work is (for dataclass plans with these three fields)."""

    pairs: int
    budget_min: float | None
    quick: bool

    @property
    def mode(self) -> str:
        return mode_of(self.budget_min, self.quick)

    @property
    def spec(self) -> BenchSpec:
        return bench_spec(self.pairs, self.quick)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_record() -> dict[str, Any]:
    """What the benchmark ran on: a reader can tell a slower machine from a worse model."""
    import cv2
    import numpy as np
    import torch

    from rig.ml.trainer import cpu_has_bf16

    versions = {"torch": torch.__version__, "numpy": np.__version__, "opencv": cv2.__version__,
                "python": platform.python_version()}
    try:
        import timm

        versions["timm"] = timm.__version__
    except ImportError:  # timm is only needed by the classifier benchmark
        pass
    return {"cpu_model": cpu_model(), "cpu_cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "platform": f"{platform.system()} {platform.machine()}", "cuda": torch.cuda.is_available(),
            "cpu_bf16_capable": cpu_has_bf16(), "load_avg_1min_start": round(os.getloadavg()[0], 2),
            "versions": versions}


def seeds_of(count: int, first: int = 0) -> tuple[int, ...]:
    from rig.errors import UsageError

    if count < 1:
        raise UsageError("--seeds must be >= 1")
    return tuple(range(first, first + count))


def spread(per_seed: Sequence[dict[str, Any]], key: str) -> dict[str, Any]:
    return Spread.of([r[key] for r in per_seed if r.get(key) is not None]).to_json()


def paired(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]], key: str) -> dict[str, Any]:
    """a − b seed by seed (both lists in the same seed order)."""
    diffs = []
    for ra, rb in zip(a, b, strict=True):
        assert ra["seed"] == rb["seed"], "paired differences need the same seeds"
        va, vb = ra.get(key), rb.get(key)
        diffs.append(None if va is None or vb is None else round(va - vb, 5))
    return {"per_seed": diffs, **Spread.of([d for d in diffs if d is not None]).to_json()}


@dataclass(frozen=True)
class Goal:
    text: str
    values: tuple[float | None, ...]  # one per seed
    test: Callable[[float], bool]

    def judge(self) -> dict[str, Any]:
        finite = [v for v in self.values if v is not None and math.isfinite(v)]
        met = bool(finite) and len(finite) == len(self.values) and all(self.test(v) for v in finite)
        return {"goal": self.text, "met": met, "rule": "every seed",
                "values": [None if v is None else round(v, 4) for v in self.values]}


def per_seed_values(result: dict[str, Any], key: str) -> tuple[float | None, ...]:
    return tuple(r.get(key) for r in result["per_seed"])
