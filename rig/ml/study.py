"""``rig study screen-photo``: the screen-photo study's AUROC protocol, end to end.

The published study (Xception trained on DICOMs with random augmentation; AUROC on the
test cases' DICOM, phone photo and DnCNN-restored photo; 10 splits x 3 training
repeats) reported 0.864 / 0.849 / 0.853. On a project's pairs this module runs:

1. K patient-level splits: patients are dealt into K folds stratified by their
   positive labels (sorted by stratum, then a seeded hash, dealt round-robin); split k
   tests fold k, takes a stratified ~10 % of all patients from the rest for
   validation, and trains on the remainder. So every patient is tested exactly once
   over the K splits, and the pooled test predictions cover every case once.
   ``splits/split-KK.csv`` lists patient → part.
2. Per split, the restoration model for the ``restored`` view trains on that split's
   training patients only (validation patients select its best epoch; test patients are
   not in its data at all). ``leakage.json`` records the checks: the parts are
   disjoint, the restoration data holds no test patient, and the restoration run's
   recorded data fingerprint is that of its data.
3. Per split, R classifier runs with seeds 100·k + r on the chosen view, each scored on
   the split's test cases in all three views (``rig.ml.clseval``).
4. The table: mean ± SD of the test AUROC over the K·R runs per view (and per label),
   beside the published figures; per-split rows; box plots; the pooled analysis (each
   test image's probability averaged over the R repeats; AUROC with patient bootstrap
   CIs, DeLong photo vs dicom and restored vs photo) with its ROC figure.

Every run (a split's restoration, a classifier per split x repeat) is a self-contained
job (``RestoreJob`` / ``ClassifierJob``, ``rig.ml.jobs``) written to its own run folder
and executed by ``rig.ml.executors`` (in order here, N processes, or a Slurm array); the
classifiers of a split need its restoration (the ``restored`` view). Resumable: a run is
finished when its ``result.json`` exists, a killed run resumes from its last
checkpoint, and the summary is gathered from the run folders.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rig.atomic import write_text_atomic
from rig.errors import InputError, RigError, UsageError
from rig.ml.classify import ClassifyConfig, label_columns, label_matrix, train_classifier
from rig.ml.clseval import ClassifyEval, compute_figures, evaluate_classifier
from rig.ml.data import fingerprint, read_manifest
from rig.ml.executors import Executor, LocalExecutor, RunsProgress
from rig.ml.jobs import read_result, write_result
from rig.ml.labels import check_policy
from rig.ml.stats import Undefined
from rig.ml.train import EventSink, TrainConfig, train_from_folder
from rig.ml.views import VIEWS, check_train_on

PUBLISHED = {"dicom": 0.864, "photo": 0.849, "restored": 0.853}  # mean test AUROC, 10 x 3 runs
PATH_COLUMNS = ("ground_truth", "aligned", "mask", "photo")
PARTS = ("train", "valid", "test")


@dataclass(frozen=True)
class StudyConfig:
    splits: int = 10
    repeats: int = 3
    model: str = "xception"
    labels: tuple[str, ...] = ()  # () = every label column but "No Finding"
    train_on: str = "dicom"
    policy: str = "u-ignore"
    input_size: int = 0
    epochs: int = 10
    steps_per_epoch: int = 0  # 0: one pass over the training images
    batch: int = 0
    valid_fraction: float = 0.1
    restore_model: str = "dncnn"  # the study's
    restore_steps: int = 600
    seed: int = 0
    device: str = "auto"

    def check(self) -> None:
        if self.splits < 2:
            raise UsageError("--splits must be >= 2 (each patient is tested in one of them)")
        if self.repeats < 1:
            raise UsageError("--repeats must be >= 1")
        if not 0.0 < self.valid_fraction < 0.5:
            raise UsageError("the validation fraction must be between 0 and 0.5")
        if self.restore_steps < 0:
            raise UsageError("--restore-steps must be >= 0")
        check_policy(self.policy)
        check_train_on(self.train_on)


def _rank(seed: int, *key: object) -> str:
    return hashlib.sha256(":".join(map(str, (seed, *key))).encode()).hexdigest()


def assign_folds(strata: Mapping[str, str], k: int, seed: int) -> dict[str, int]:
    """Patient → fold in 0..k-1, stratified: each stratum is dealt round-robin."""
    order = sorted(strata, key=lambda p: (strata[p], _rank(seed, p)))
    return {p: i % k for i, p in enumerate(order)}


def split_parts(strata: Mapping[str, str], folds: Mapping[str, int], k: int, valid_fraction: float,
                seed: int) -> dict[str, str]:
    """Patient → train / valid / test for split ``k`` (test = fold k)."""
    parts = {p: "test" for p, f in folds.items() if f == k}
    rest = sorted((p for p in folds if folds[p] != k), key=lambda p: (strata[p], _rank(seed, k, p)))
    n_valid = min(len(rest) - 1, max(1, round(valid_fraction * len(folds))))
    # Systematic sampling over the stratum-sorted list: validation is stratified too.
    picks = {int((i + 0.5) * len(rest) / n_valid) for i in range(n_valid)} if n_valid > 0 else set()
    for i, p in enumerate(rest):
        parts[p] = "valid" if i in picks else "train"
    return parts


def _patient_strata(manifest: Any, labels: tuple[str, ...]) -> dict[str, str]:
    values = label_matrix(manifest, list(manifest.records), labels)
    positives: dict[str, set[str]] = {}
    for rec, row in zip(manifest.records, values, strict=True):
        if not rec.patient:
            raise InputError(f"{manifest.root / 'manifest.csv'}: pair {rec.pair_id} has no patient; "
                             "patient-level splits need the patient column")
        found = positives.setdefault(rec.patient, set())
        found.update(name for name, v in zip(labels, row, strict=True) if v == 1.0)
    return {p: "|".join(sorted(v)) or "-" for p, v in positives.items()}


def _read_rows(data_dir: Path) -> tuple[list[str], list[dict[str, str]]]:
    with (data_dir / "manifest.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _write_manifest(out_dir: Path, data_dir: Path, columns: list[str], rows: list[dict[str, str]],
                    parts: Mapping[str, str]) -> None:
    """The data's manifest with the split's parts, paths relative to ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    moved = []
    for row in rows:
        part = parts.get(row.get("patient") or row.get("Patient") or "")
        if part is None:
            continue
        new = dict(row, split=part)
        for col in PATH_COLUMNS:
            if row.get(col):
                new[col] = os.path.relpath(data_dir / row[col], out_dir)
        moved.append(new)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(moved)
    write_text_atomic(out_dir / "manifest.csv", buffer.getvalue())


@dataclass(frozen=True)
class SplitPlan:
    k: int
    parts: dict[str, str]  # patient -> part
    cls_data: Path
    restore_data: Path


def plan_splits(study_dir: Path, data_dir: Path, cfg: StudyConfig, labels: tuple[str, ...]) -> list[SplitPlan]:
    """Write every split's files (patient list, classifier and restoration manifests)."""
    manifest = read_manifest(data_dir)
    strata = _patient_strata(manifest, labels)
    if len(strata) < 2 * cfg.splits:
        raise InputError(f"{data_dir}: {len(strata)} patients is too few for {cfg.splits} splits "
                         "(at least 2 per fold)")
    folds = assign_folds(strata, cfg.splits, cfg.seed)
    columns, rows = _read_rows(data_dir)
    plans = []
    for k in range(cfg.splits):
        parts = split_parts(strata, folds, k, cfg.valid_fraction, cfg.seed)
        base = study_dir / "splits"
        base.mkdir(parents=True, exist_ok=True)
        write_text_atomic(base / f"split-{k:02d}.csv", "patient,part\n" + "".join(
            f"{p},{parts[p]}\n" for p in sorted(parts)))
        cls_dir, rest_dir = base / f"split-{k:02d}" / "classify", base / f"split-{k:02d}" / "restore"
        _write_manifest(cls_dir, data_dir, columns, rows, parts)
        _write_manifest(rest_dir, data_dir, columns, rows,
                        {p: part for p, part in parts.items() if part != "test"})
        plans.append(SplitPlan(k, parts, cls_dir, rest_dir))
    return plans


def check_leakage(plan: SplitPlan, restore_run: Path | None) -> dict[str, Any]:
    """The split's no-leakage facts; a violation is a RigError (the study stops)."""
    by_part = {part: {p for p, q in plan.parts.items() if q == part} for part in PARTS}
    overlaps = {f"{a}&{b}": len(by_part[a] & by_part[b]) for i, a in enumerate(PARTS) for b in PARTS[i + 1:]}
    restore_patients = {r.patient for r in read_manifest(plan.restore_data).records}
    facts: dict[str, Any] = {"split": plan.k, **{f"n_{p}": len(v) for p, v in by_part.items()},
                             "overlaps": overlaps,
                             "restoration_patients": len(restore_patients),
                             "restoration_test_patients": len(restore_patients & by_part["test"])}
    if restore_run is not None and (restore_run / "config.json").is_file():
        recorded = json.loads((restore_run / "config.json").read_text())
        facts["restoration_data_fingerprint_matches"] = (
            recorded.get("data_fingerprint") == fingerprint(read_manifest(plan.restore_data)))
    bad = any(overlaps.values()) or facts["restoration_test_patients"] > 0 or (
        facts.get("restoration_data_fingerprint_matches") is False)
    if bad:
        raise RigError(f"split {plan.k}: leakage between parts or into the restoration data: {facts}")
    return facts


@dataclass(frozen=True)
class RestoreJob:
    """Split ``split``'s restoration model (a ``rig.ml.jobs.Job``)."""

    split: int
    data: Path  # the split's restoration manifest folder (no test patient)
    run_dir: Path
    config: TrainConfig

    @property
    def key(self) -> str:
        return f"split-{self.split:02d}/restore"

    @property
    def needs(self) -> tuple[str, ...]:
        return ()

    @property
    def title(self) -> str:
        return f"split {self.split}: restoration ({self.config.model})"

    def execute(self, on_event: EventSink | None = None) -> dict[str, Any]:
        result = train_from_folder(self.data, self.run_dir, self.config,
                                   resume=(self.run_dir / "last.pt").is_file(), on_event=on_event)
        payload = {**result.to_json(), "split": self.split}
        write_result(self.run_dir, payload)
        return payload


@dataclass(frozen=True)
class ClassifierJob:
    """One classifier run (split x repeat), scored on the split's test cases in every view."""

    split: int
    repeat: int
    data: Path  # the split's classifier manifest folder
    run_dir: Path
    restore_run: Path  # the split's RestoreJob run (the restored view)
    config: ClassifyConfig

    @property
    def key(self) -> str:
        return f"split-{self.split:02d}/repeat-{self.repeat}"

    @property
    def needs(self) -> tuple[str, ...]:
        return (f"split-{self.split:02d}/restore",)

    @property
    def title(self) -> str:
        return f"split {self.split}, repeat {self.repeat}"

    def execute(self, on_event: EventSink | None = None) -> dict[str, Any]:
        train_classifier(self.data, self.run_dir, self.config,
                         resume=(self.run_dir / "last.pt").is_file(), on_event=on_event)
        result = evaluate_classifier(self.run_dir, self.data, self.restore_run, VIEWS, "test")
        payload = {**result.to_json(), "split": self.split, "repeat": self.repeat,
                   "seed": self.config.seed,
                   "scores": {v: result.probs[v].round(6).tolist() for v in result.probs},
                   "pairs": [r.pair_id for r in result.records]}
        write_result(self.run_dir, payload)
        return payload


def study_jobs(study_dir: Path, plans: list[SplitPlan], cfg: StudyConfig,
               labels: tuple[str, ...]) -> list[RestoreJob | ClassifierJob]:
    """Every run of the study, each split's restoration before its classifiers."""
    jobs: list[RestoreJob | ClassifierJob] = []
    spe = max(1, min(150, cfg.restore_steps or 1))
    for plan in plans:
        base = study_dir / "runs" / f"split-{plan.k:02d}"
        tcfg = TrainConfig(model=cfg.restore_model, epochs=max(1, -(-cfg.restore_steps // spe)),
                           steps_per_epoch=spe, seed=plan.k, patience=100_000, val_max_images=3,
                           device=cfg.device)
        jobs.append(RestoreJob(plan.k, plan.restore_data, base / "restore", tcfg))
        for r in range(cfg.repeats):
            restore_run = str(base / "restore") if cfg.train_on in ("restored", "mixed") else ""
            ccfg = ClassifyConfig(model=cfg.model, labels=labels, policy=cfg.policy, train_on=cfg.train_on,
                                  input_size=cfg.input_size, epochs=cfg.epochs,
                                  steps_per_epoch=cfg.steps_per_epoch, batch=cfg.batch,
                                  seed=100 * plan.k + r, patience=100_000, device=cfg.device,
                                  restore_run=restore_run)
            jobs.append(ClassifierJob(plan.k, r, plan.cls_data, base / f"repeat-{r}", base / "restore", ccfg))
    return jobs


def _study_labels(data_dir: Path, cfg: StudyConfig) -> tuple[str, ...]:
    if cfg.labels:
        return cfg.labels
    found = tuple(c for c in label_columns(read_manifest(data_dir)) if c != "No Finding")
    if not found:
        raise InputError(f"{data_dir / 'manifest.csv'}: no label columns; pass --labels")
    return found


def _check_or_write_config(study_dir: Path, cfg: StudyConfig, labels: tuple[str, ...], data_dir: Path) -> None:
    state = {"config": {**asdict(cfg), "labels": list(labels)}, "data": str(data_dir),
             "data_fingerprint": fingerprint(read_manifest(data_dir))}
    path = study_dir / "study.json"
    if path.is_file():
        old = json.loads(path.read_text())
        if old != json.loads(json.dumps(state)):
            raise UsageError(f"{study_dir}: holds a study with other settings or data; "
                             "resume with the same options or choose a new -o folder")
        return
    study_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(state, indent=2, sort_keys=True) + "\n")


def run_study(data_dir: Path, study_dir: Path, config: StudyConfig,
              on_status: Callable[[str], None] = lambda _m: None,
              on_event: EventSink | None = None, executor: Executor | None = None,
              on_runs: RunsProgress | None = None) -> dict[str, Any]:
    """Run (or resume) the study; returns its summary (also written to summary.json).

    The runs go to ``executor`` (default: one after another here); only those without a
    ``result.json`` run, and the summary is gathered from the run folders.
    """
    config.check()
    labels = _study_labels(data_dir, config)
    cfg = replace(config, labels=labels)
    _check_or_write_config(study_dir, cfg, labels, data_dir)
    plans = plan_splits(study_dir, data_dir, cfg, labels)
    for plan in plans:  # the parts' facts, before any training is spent on them
        check_leakage(plan, None)
    jobs = study_jobs(study_dir, plans, cfg, labels)
    outcome = (executor or LocalExecutor()).run(jobs, on_status, on_event, on_runs)
    leakage = [check_leakage(plan, job.run_dir) for plan, job in
               zip(plans, (j for j in jobs if isinstance(j, RestoreJob)), strict=True)]
    results = [read_result(j) for j in jobs if isinstance(j, ClassifierJob)]
    write_text_atomic(study_dir / "leakage.json", json.dumps(leakage, indent=2) + "\n")
    summary = summarize_study(results, labels, cfg)
    summary["leakage"] = leakage
    write_text_atomic(study_dir / "summary.json", json.dumps(summary, indent=2, sort_keys=True) + "\n")
    from rig.ml.study_report import write_study_report

    summary["report"] = str(write_study_report(summary, pooled(results), study_dir / "report"))
    summary["execution"] = outcome.to_json()  # this call's work (not in summary.json: it varies)
    return summary


def _run_auroc(result: dict[str, Any], view: str, label: str | None) -> float | None:
    per = result["per_label"]
    names = [label] if label else list(per)
    vals = [per[n][view]["auroc"] for n in names if view in per[n] and per[n][view]["auroc"] is not None]
    return float(np.mean(vals)) if vals else None


def summarize_study(results: list[dict[str, Any]], labels: tuple[str, ...], cfg: StudyConfig) -> dict[str, Any]:
    """Mean ± SD over runs per view (and label), per-split rows, and the pooled analysis."""
    from rig.ml.stats import Spread

    targets: list[str | None] = [None, *labels] if len(labels) > 1 else [None]
    table = {}
    for label in targets:
        key = label or "mean over labels"
        table[key] = {v: Spread.of([a for r in results if (a := _run_auroc(r, v, label)) is not None]).to_json()
                      for v in VIEWS}
    per_split = {}
    for k in sorted({r["split"] for r in results}):
        mine = [r for r in results if r["split"] == k]
        per_split[str(k)] = {v: Spread.of([a for r in mine if (a := _run_auroc(r, v, None)) is not None]).to_json()
                             for v in VIEWS}
    return {"config": {**asdict(cfg), "labels": list(labels)}, "published": PUBLISHED,
            "runs": [{"split": r["split"], "repeat": r["repeat"],
                      **{v: _run_auroc(r, v, None) for v in VIEWS}} for r in results],
            "table": table, "per_split": per_split, "pooled": pooled(results).to_json()}


def pooled(results: list[dict[str, Any]]) -> ClassifyEval:
    """Every test image once (each patient is tested in one split), its probability the
    mean over that split's repeats; figures as for one evaluation."""
    from rig.ml.classify import truth_matrix
    from rig.ml.data import PairRecord

    first = results[0]
    labels = list(first["labels"])
    scores: dict[str, dict[str, list[np.ndarray]]] = {}
    records: dict[str, PairRecord] = {}
    truth_rows: dict[str, list[float | None]] = {}
    for r in results:
        manifest = read_manifest(Path(r["data_dir"]))
        by_id = {rec.pair_id: rec for rec in manifest.records}
        values = label_matrix(manifest, [by_id[p] for p in r["pairs"]], labels)
        for i, pid in enumerate(r["pairs"]):
            records[pid] = by_id[pid]
            truth_rows[pid] = values[i]
            for view, probs in r["scores"].items():
                scores.setdefault(view, {}).setdefault(pid, []).append(np.asarray(probs[i]))
    ids = sorted(records)
    probs = {v: np.stack([np.mean(scores[v][p], axis=0) for p in ids]) for v in scores}
    result = ClassifyEval(first["model"], "(pooled over the study's runs)", first["data_dir"], "test",
                          labels, {"train_on": first.get("train_on"), "policy": first.get("policy")},
                          [records[p] for p in ids], truth_matrix([truth_rows[p] for p in ids]), probs,
                          {name: Undefined("pooled over splits: each run has its own threshold")
                           for name in labels})
    compute_figures(result)
    return result
