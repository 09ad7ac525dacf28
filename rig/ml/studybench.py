"""``rig bench study``: the screen-photo study's wall time per executor, and its projection.

The same small study (generated pairs from ``benchdata``, fixed steps, fixed seeds) runs
once per executor into its own folder — ``local`` first (the baseline, in the same
run), then ``processes`` with ``--workers`` — and the bench reports each wall time,
the speed-up over local, whether every run's result is identical across executors
(paths aside), and each run's measured cost. From the local costs it projects the
study on N parallel slots (GPUs, or Slurm tasks): the study's jobs list-scheduled as
the process executor schedules them (a split's classifiers after its restoration,
longest wait first), for this study and for the full 10 x 3 protocol (each split's runs
costing what the measured ones cost on average). A slot is assumed as fast as one
process here; a GPU's factor per run is what ``rig bench restore`` / ``classify``
measure on it.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rig.config import ExecutorConfig
from rig.ml.benchdata import BenchSpec, build_bench_folder
from rig.ml.benchkit import machine_record
from rig.ml.executors import make_executor
from rig.ml.jobs import RESULT
from rig.ml.study import StudyConfig, run_study
from rig.ml.trainer import EventSink

PATH_KEYS = ("run_dir", "data_dir")
PROJECT_SLOTS = (1, 2, 4, 8, 16, 32)


@dataclass(frozen=True)
class StudyBenchPlan:
    splits: int = 2
    repeats: int = 2
    workers: int = 2
    pairs: int = 24
    model: str = "tinycnn"
    input_size: int = 64
    epochs: int = 2
    steps: int = 10
    restore_model: str = "dncnn"
    restore_steps: int = 30

    def study(self) -> StudyConfig:
        return StudyConfig(splits=self.splits, repeats=self.repeats, model=self.model,
                           input_size=self.input_size, epochs=self.epochs, steps_per_epoch=self.steps,
                           restore_model=self.restore_model, restore_steps=self.restore_steps,
                           device="cpu")

    def command(self) -> str:
        return (f"rig bench study --splits {self.splits} --repeats {self.repeats} --workers {self.workers} "
                f"--pairs {self.pairs} --steps {self.steps} --restore-steps {self.restore_steps} --json")


def makespan(restore_s: list[float], classify_s: list[list[float]], slots: int) -> float:
    """Wall time of the study's jobs on ``slots`` parallel slots: greedy list scheduling,
    restorations first, each split's classifiers once its restoration is done."""
    free = [0.0] * slots
    ready_at = []
    for cost in restore_s:
        i = min(range(slots), key=free.__getitem__)
        free[i] += cost
        ready_at.append(free[i])
    pending = sorted(((ready_at[k], c) for k, costs in enumerate(classify_s) for c in costs))
    for ready, cost in pending:
        i = min(range(slots), key=free.__getitem__)
        free[i] = max(free[i], ready) + cost
    return max(free)


def _costs(seconds: dict[str, float], plan: StudyBenchPlan) -> tuple[list[float], list[list[float]]]:
    restore = [seconds[f"split-{k:02d}/restore"] for k in range(plan.splits)]
    classify = [[seconds[f"split-{k:02d}/repeat-{r}"] for r in range(plan.repeats)]
                for k in range(plan.splits)]
    return restore, classify


def projection(seconds: dict[str, float], plan: StudyBenchPlan) -> dict[str, Any]:
    """This study and the full 10 x 3 protocol on N slots, from the measured run costs."""
    restore, classify = _costs(seconds, plan)
    mean_r = sum(restore) / len(restore)
    mean_c = sum(sum(c) for c in classify) / sum(len(c) for c in classify)
    full_r, full_c = [mean_r] * 10, [[mean_c] * 3 for _ in range(10)]
    return {"mean_restore_s": round(mean_r, 2), "mean_classifier_s": round(mean_c, 2),
            "this_study_s": {str(n): round(makespan(restore, classify, n), 1) for n in PROJECT_SLOTS},
            "full_protocol_10x3_s": {str(n): round(makespan(full_r, full_c, n), 1) for n in PROJECT_SLOTS}}


def _run_results(study_dir: Path) -> dict[str, Any]:
    """Every run's result.json without its paths (they name the study folder)."""
    import json

    out = {}
    for path in sorted((study_dir / "runs").glob(f"*/*/{RESULT}")):
        data = json.loads(path.read_text())
        key = f"{path.parent.parent.name}/{path.parent.name}"
        out[key] = {k: v for k, v in data.items() if k not in PATH_KEYS}
    return out


def _timing_free(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if not k.endswith("time_s")}


def max_difference(a: Any, b: Any) -> float:
    """Largest absolute difference between two JSON values' numbers (inf: shapes differ)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return float("inf")
        return max((max_difference(a[k], b[k]) for k in a), default=0.0)
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return float("inf")
        return max((max_difference(x, y) for x, y in zip(a, b, strict=True)), default=0.0)
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return abs(float(a) - float(b)) if a != b else 0.0
    return 0.0 if a == b else float("inf")


def run_study_bench(work_dir: Path, plan: StudyBenchPlan, *, on_status: Callable[[str], None] = print,
                    on_event: EventSink | None = None,
                    clock: Callable[[], float] = time.perf_counter) -> dict[str, Any]:
    """Run the study with every executor; wall times, identity of results, projection."""
    data = work_dir / "data"
    if not (data / "manifest.csv").is_file():
        on_status(f"generating {plan.pairs} pairs into {data}")
        build_bench_folder(data, BenchSpec(pairs=plan.pairs, rows=240, columns=200, seed=5),
                           workers=min(2, os.cpu_count() or 1))
    machine = machine_record()
    executors = {"local": ExecutorConfig(kind="local"),
                 "processes": ExecutorConfig(kind="processes", workers=plan.workers)}
    walls, seconds, results = {}, {}, {}
    for name, config in executors.items():
        study_dir = work_dir / f"study-{name}"
        shutil.rmtree(study_dir, ignore_errors=True)
        on_status(f"study with --executor {name}")
        start = clock()
        summary = run_study(data, study_dir, plan.study(), on_status=on_status,
                            on_event=on_event if name == "local" else None,
                            executor=make_executor(config, study_dir))
        walls[name] = round(clock() - start, 2)
        seconds[name] = summary["execution"]["seconds"]
        results[name] = _run_results(study_dir)
    # Equal up to float summation order: a run with 1 thread (processes) and one with 2
    # (local) reduce convolution gradients in another order (oneDNN), ~1e-5 relative.
    diffs = {k: max_difference(_timing_free(results["local"][k]), _timing_free(results["processes"].get(k, {})))
             for k in results["local"]}
    return {"bench": {"command": plan.command(), "plan": asdict(plan), "machine": machine,
                      "load_avg_1min_end": round(os.getloadavg()[0], 2)},
            "wall_s": walls, "speedup_processes_vs_local": round(walls["local"] / walls["processes"], 3),
            "run_s": {n: {k: round(v, 2) for k, v in s.items()} for n, s in seconds.items()},
            "results_max_difference": {k: float(f"{d:.3g}") for k, d in diffs.items()},
            "all_identical": all(d == 0.0 for d in diffs.values()),
            "projection_from_local_costs": projection(seconds["local"], plan)}

