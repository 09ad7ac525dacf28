"""``rig bench quality``: the quality model against the study's table on simulated photos.

Data: a label set (``rig quality simulate``) of ``patients`` simulated patients, each
photographed once through every camera preset (clean tripod, the default phone, dim
room, hand-held, glossy glare, defocus, motion blur: every grade occurs), kept in the
work folder and reused. Patient-level split train/valid/test 60/20/20 % (split seed 0,
the same for every seed). Every seed trains the model for the same fixed work
(optimiser steps x batch x bag), picks its operating point on validation, and is scored
on the test patients with the baselines computed on the same photos.

Keys: ``auc`` (mean over seeds), ``auc_ci`` (patient bootstrap 95 % CI of the
seed-averaged AUC: the same resampled patients for every seed), ``sensitivity``,
``specificity``, ``ppv``, ``npv`` (means at each seed's validation threshold),
``baseline_auc`` (the best simple baseline's test AUC), ``photos`` (graded photos in
the set), ``infer_photos_per_s`` (whole photos, every tile, batch of one photo), and
``per_seed`` rows; ``bench`` holds the mode, seeds, goals and the machine.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rig.ml.benchkit import Goal, machine_record, mode_of, spread
from rig.ml.stats import Undefined, bootstrap_mean_auroc_ci
from rig.ml.trainer import EventSink
from rig.quality.labelset import existing_ids, write_label_set
from rig.quality.model_eval import evaluate_quality
from rig.quality.simulated import IMAGE_WH, job_id, plan_sweep, sweep
from rig.quality.training import QualityTrainConfig, graded_rows, train_quality

GOAL_AUC, GOAL_PPV, GOAL_MARGIN = 0.92, 0.906, 0.05
STUDY = {"auc": 0.885, "auc_ci": [0.838, 0.933], "sensitivity": 0.829, "specificity": 0.784,
         "ppv": 0.906, "npv": 0.645}


@dataclass(frozen=True)
class QualityBenchPlan:
    seeds: tuple[int, ...] = (0, 1, 2)
    patients: int = 60  # x 7 presets = 420 photos
    backbone: str = "resnet18"
    steps: int = 300
    batch: int = 4
    bag_size: int = 12
    image_wh: tuple[int, int] = IMAGE_WH
    n_boot: int = 2000
    quick: bool = False
    budget_min: float | None = None

    @classmethod
    def quick_plan(cls, seeds: tuple[int, ...]) -> QualityBenchPlan:
        """Plumbing: tiny photos, the tiny backbone, a few steps (numbers mean nothing)."""
        return cls(seeds, patients=10, backbone="tiny", steps=8, batch=2, bag_size=4,
                   image_wh=(448, 320), n_boot=200, quick=True)

    @property
    def mode(self) -> str:
        return mode_of(self.budget_min, self.quick)

    def train_config(self, seed: int) -> QualityTrainConfig:
        per_epoch = max(1, self.steps // 4)
        return QualityTrainConfig(backbone=self.backbone, epochs=-(-self.steps // per_epoch),
                                  steps_per_epoch=per_epoch, batch=self.batch,
                                  bag_size=self.bag_size, seed=seed, patience=10_000,
                                  budget_min=self.budget_min, device="cpu")

    def command(self) -> str:
        if self.quick:
            return "rig bench quality --quick"
        return (f"rig bench quality --patients {self.patients} --seeds {len(self.seeds)} "
                f"--model {self.backbone} --steps {self.steps}")


def ensure_label_set(folder: Path, plan: QualityBenchPlan,
                     on_status: Callable[[str], None]) -> Path:
    """Simulate the photos the set still lacks (an interrupted set continues)."""
    from rig.camsim import preset_names

    # Draw 1 of every preset (a random draw from its ranges, as 'rig quality simulate'
    # writes by default): the grades then spread within each preset too.
    jobs = [(p, name, 1) for p, name, _ in plan_sweep(preset_names(), range(1, plan.patients + 1), 1)]
    done = existing_ids(folder)
    todo = [j for j in jobs if job_id(j) not in done]
    if todo:
        on_status(f"simulating {len(todo)} photos into {folder} ({len(done)} there)")
        write_label_set(folder, sweep(todo, image_wh=plan.image_wh))
    return folder


def _infer_rate(run_dir: Path, data: Path, plan: QualityBenchPlan) -> float:
    from rig.quality.training import QualityRun, load_quality_run_model, predict_rows, rows_by_split

    run = QualityRun.load(run_dir)
    rows = rows_by_split(graded_rows(data), run.splits)["test"]
    model = load_quality_run_model(run_dir)
    start = time.perf_counter()
    predict_rows(model, data, rows, run.patch)
    return len(rows) / max(time.perf_counter() - start, 1e-9)


def _one_seed(data: Path, work: Path, seed: int, plan: QualityBenchPlan,
              on_event: EventSink | None) -> tuple[dict[str, Any], dict[str, Any]]:
    run_dir = work / f"{plan.backbone}-seed{seed}"
    resume = (run_dir / "last.pt").is_file()
    trained = train_quality(data, run_dir, plan.train_config(seed), resume=resume,
                            on_event=on_event)
    result = evaluate_quality(run_dir, n_boot=plan.n_boot)
    t = result["model"]
    row = {"seed": seed, "steps": trained.steps_done, "auc": t["auc"], "auc_ci": t["auc_ci"],
           **{k: t[k] for k in ("sensitivity", "specificity", "ppv", "npv", "retake_rate")},
           "mae": result["ordinal"]["mae"], "qwk": result["ordinal"]["qwk"],
           "k_star": result["operating_point"]["k"],
           "threshold": result["operating_point"]["threshold"],
           "baseline_auc": result["baseline_auc"], "best_baseline": result["best_baseline"],
           "train_s": round(trained.step_time_s, 1),
           "infer_photos_per_s": round(_infer_rate(run_dir, data, plan), 3)}
    return row, result


def run_quality_bench(work_dir: Path, plan: QualityBenchPlan,
                      on_status: Callable[[str], None] | None = None,
                      on_event: EventSink | None = None) -> dict[str, Any]:
    status = on_status or (lambda _m: None)
    machine = machine_record()
    work_dir.mkdir(parents=True, exist_ok=True)
    w, h = plan.image_wh
    data = ensure_label_set(work_dir / f"labels-{w}x{h}", plan, status)
    rows, results = [], []
    for seed in plan.seeds:
        status(f"seed {seed}: training {plan.backbone} for {plan.steps} steps")
        row, result = _one_seed(data, work_dir, seed, plan, on_event)
        rows.append(row)
        results.append(result)
    return summarize(rows, results, plan, machine, len(graded_rows(data)))


def summarize(rows: list[dict[str, Any]], results: list[dict[str, Any]], plan: QualityBenchPlan,
              machine: dict[str, Any], photos: int) -> dict[str, Any]:
    first = results[0]
    patients = [r["patient"] for r in first["rows"]]
    cases = [(res["curves"]["model"][0].astype(np.int8), res["curves"]["model"][1])
             for res in results]
    ci = bootstrap_mean_auroc_ci(cases, patients, plan.n_boot, seed=0)
    out: dict[str, Any] = {
        "model": plan.backbone, "auc": _mean(rows, "auc"),
        "auc_ci": None if isinstance(ci, Undefined) else [round(v, 4) for v in ci],
        **{k: _mean(rows, k) for k in ("sensitivity", "specificity", "ppv", "npv",
                                       "retake_rate", "mae", "qwk", "infer_photos_per_s")},
        "baseline_auc": round(float(first["baseline_auc"]), 4),
        "best_baseline": first["best_baseline"],
        "baselines": {n: round(float(t["auc"]), 4) for n, t in first["baselines"].items()},
        "photos": photos, "test_photos": first["photos"], "test_patients": first["patients"],
        "steps": plan.steps, "batch": plan.batch, "bag_size": plan.bag_size,
        "auc_spread": spread(rows, "auc"), "ppv_spread": spread(rows, "ppv"),
        "per_seed": rows, "study": STUDY}
    margins = tuple(None if r["auc"] is None else r["auc"] - r["baseline_auc"] for r in rows)
    goals = [Goal(f"AUC >= {GOAL_AUC} (the study {STUDY['auc']})",
                  tuple(r["auc"] for r in rows), lambda v: v >= GOAL_AUC),
             Goal(f"PPV >= {GOAL_PPV}", tuple(r["ppv"] for r in rows), lambda v: v >= GOAL_PPV),
             Goal(f"AUC >= best baseline + {GOAL_MARGIN}", margins, lambda v: v >= GOAL_MARGIN)]
    out["bench"] = {"mode": plan.mode, "seeds": list(plan.seeds), "machine": machine,
                    "command": plan.command(), "argv": " ".join(sys.argv[1:]),
                    "goals": [g.judge() for g in goals]}
    return out


def _mean(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [float(r[key]) for r in rows if r.get(key) is not None and np.isfinite(r[key])]
    return round(float(np.mean(values)), 4) if values else None


def with_budget(plan: QualityBenchPlan, budget_min: float | None) -> QualityBenchPlan:
    return plan if budget_min is None else replace(plan, budget_min=budget_min)
