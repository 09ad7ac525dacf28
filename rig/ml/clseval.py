"""Evaluating a classifier on the three views of the same held-out cases.

Per label and view: AUROC with its patient-level (cluster) bootstrap 95 % CI; the
number of images, positives, negatives, patients and uncertain cases left out;
sensitivity and specificity at the Youden threshold chosen on the *validation* split
in the run's own training view (a deployed model keeps the threshold it was tuned
with, whatever view it then sees); the expected calibration error. Per label, the
paired comparisons on identical cases — photo vs dicom, restored vs photo, restored vs
dicom — by DeLong's test and by a patient-level bootstrap CI of the AUROC difference.
An AUROC that cannot exist (one class in the split) is reported as n/a with the reason.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rig.errors import InputError
from rig.ml.checkpoint import load_run_model
from rig.ml.classify import CONFIG_NAME, label_matrix, predict, truth_matrix
from rig.ml.data import Manifest, PairRecord, read_manifest
from rig.ml.stats import (
    DeLongResult,
    Undefined,
    at_threshold,
    auroc,
    bootstrap_auroc_ci,
    bootstrap_diff_ci,
    delong_paired,
    reliability,
    why_undefined,
    youden_threshold,
)
from rig.ml.views import VIEWS, Restorer, ViewImages

PAIRS = (("photo", "dicom"), ("restored", "photo"), ("restored", "dicom"))


@dataclass
class ClassifyEval:
    model: str
    run_dir: str
    data_dir: str
    split: str
    labels: list[str]
    train_config: dict[str, Any]
    records: list[PairRecord]
    truth: np.ndarray  # (N, L): 1, 0, -1 = uncertain (not scored)
    probs: dict[str, np.ndarray]  # view -> (N, L)
    thresholds: dict[str, float | Undefined]
    skipped_views: dict[str, str] = field(default_factory=dict)
    per_label: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    paired: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    @property
    def patients(self) -> np.ndarray:
        return np.array([r.patient or r.pair_id for r in self.records])

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "run_dir": self.run_dir, "data_dir": self.data_dir,
                "split": self.split, "labels": self.labels, "views": list(self.probs),
                "skipped_views": self.skipped_views, "policy": self.train_config.get("policy"),
                "train_on": self.train_config.get("train_on"),
                "n_images": len(self.records), "n_patients": len(set(self.patients.tolist())),
                "thresholds": {k: _num(v) for k, v in self.thresholds.items()},
                "per_label": self.per_label, "paired": self.paired}

    def rows(self) -> list[dict[str, Any]]:
        """One row per image, view and label: what scores.csv holds."""
        out = []
        for view, probs in self.probs.items():
            for i, rec in enumerate(self.records):
                for j, label in enumerate(self.labels):
                    t = int(self.truth[i, j])
                    out.append({"pair_id": rec.pair_id, "patient": rec.patient, "split": rec.split,
                                "view": view, "label": label, "truth": "" if t < 0 else t,
                                "probability": round(float(probs[i, j]), 6)})
        return out


def _num(value: float | Undefined) -> float | dict[str, str]:
    return {"n/a": value.reason} if isinstance(value, Undefined) else value


def view_metrics(truth: np.ndarray, probs: np.ndarray, patients: np.ndarray,
                 threshold: float | Undefined, seed: int = 0) -> dict[str, Any]:
    """The figures of one label in one view (uncertain cases already marked -1)."""
    keep = truth >= 0
    y, p, c = truth[keep], probs[keep], patients[keep]
    pos, neg = int((y == 1).sum()), int((y == 0).sum())
    out: dict[str, Any] = {"n": int(keep.sum()), "n_pos": pos, "n_neg": neg,
                           "n_patients": len(set(c.tolist())), "n_uncertain": int((~keep).sum())}
    reason = why_undefined(y)
    if reason:
        return {**out, "auroc": None, "auroc_ci": None, "reason": reason}
    ci = bootstrap_auroc_ci(y, p, c, seed=seed)
    out.update(auroc=round(auroc(y, p), 4), auroc_ci=[round(v, 4) for v in ci] if isinstance(ci, tuple) else None,
               reason=ci.reason if isinstance(ci, Undefined) else None,
               ece=round(reliability(y, p).ece, 4))
    if isinstance(threshold, float):
        op = at_threshold(y, p, threshold)
        out.update(threshold=round(threshold, 6), sensitivity=round(op.sensitivity, 4),
                   specificity=round(op.specificity, 4))
    return out


def paired_metrics(truth: np.ndarray, a: np.ndarray, b: np.ndarray, patients: np.ndarray,
                   seed: int = 0) -> dict[str, Any]:
    """DeLong and the bootstrap CI of AUROC(a) − AUROC(b) on the same cases."""
    keep = truth >= 0
    y, pa, pb, c = truth[keep], a[keep], b[keep], patients[keep]
    test = delong_paired(y, pa, pb)
    if isinstance(test, Undefined):
        return {"diff": None, "diff_ci": None, "z": None, "p": None, "reason": test.reason}
    assert isinstance(test, DeLongResult)
    ci = bootstrap_diff_ci(y, pa, pb, c, seed=seed)
    return {"diff": round(test.diff, 4), "se": round(test.se, 5), "z": round(test.z, 3),
            "p": float(f"{test.p:.4g}"),
            "diff_ci": [round(v, 4) for v in ci] if isinstance(ci, tuple) else None,
            "reason": ci.reason if isinstance(ci, Undefined) else None,
            "n": int(keep.sum())}


def run_data_dir(run_dir: Path, given: Path | None) -> Path:
    if given is not None:
        return given
    cfg = run_dir / CONFIG_NAME
    if not cfg.is_file():
        raise InputError(f"{run_dir}: no {CONFIG_NAME}; pass --data DIR")
    return Path(json.loads(cfg.read_text())["data"])


def _score_view(model: torch.nn.Module, images: ViewImages, records: list[PairRecord], view: str,
                device: torch.device, on_image: Callable[[], None] | None) -> np.ndarray:
    batch = []
    for rec in records:
        batch.append(images.get(rec, view))
        if on_image is not None:
            on_image()
    return predict(model, batch, device)


def _thresholds(model: torch.nn.Module, images: ViewImages, manifest: Manifest, labels: list[str],
                view: str, device: torch.device) -> dict[str, float | Undefined]:
    valid = manifest.split("valid")
    if not valid:
        return {name: Undefined("no validation split to choose a threshold on") for name in labels}
    truth = truth_matrix(label_matrix(manifest, valid, labels))
    probs = _score_view(model, images, valid, view, device, None)
    out: dict[str, float | Undefined] = {}
    for j, name in enumerate(labels):
        keep = truth[:, j] >= 0
        out[name] = youden_threshold(truth[keep, j], probs[keep, j])
    return out


def evaluate_classifier(run_dir: Path, data_dir: Path | None = None, restore_run: Path | None = None,
                        views: tuple[str, ...] = VIEWS, split: str = "test",
                        device: torch.device | None = None,
                        on_image: Callable[[], None] | None = None) -> ClassifyEval:
    """Score the ``split`` of the run's data in each view and compute every figure."""
    dev = device or torch.device("cpu")
    model, meta = load_run_model(run_dir, dev, task="classify")
    cfg = meta["train_config"]
    labels = list(meta["model_config"]["labels"])
    data = run_data_dir(run_dir, data_dir)
    manifest = read_manifest(data)
    records = manifest.split(split)
    if not records:
        raise InputError(f"{data / 'manifest.csv'}: no pairs in the {split} split")
    restore = restore_run or (Path(cfg["restore_run"]) if cfg.get("restore_run") else None)
    skipped = {}
    if "restored" in views and restore is None:
        skipped["restored"] = "no restoration run: pass --restore RUN"
        views = tuple(v for v in views if v != "restored")
    images = ViewImages(int(meta["model_config"]["input_size"]),
                        Restorer(restore, dev) if restore else None)
    truth = truth_matrix(label_matrix(manifest, records, labels))
    probs = {v: _score_view(model, images, records, v, dev, on_image) for v in views}
    result = ClassifyEval(str(meta["model_name"]), str(run_dir), str(data), split, labels, cfg,
                          records, truth, probs,
                          _thresholds(model, images, manifest, labels, cfg.get("eval_view", "dicom"), dev),
                          skipped)
    compute_figures(result)
    return result


def compute_figures(result: ClassifyEval) -> None:
    """Fill ``per_label`` and ``paired`` from the scores."""
    patients = result.patients
    for j, name in enumerate(result.labels):
        t = result.truth[:, j]
        result.per_label[name] = {v: view_metrics(t, p[:, j], patients, result.thresholds[name])
                                  for v, p in result.probs.items()}
        result.paired[name] = {f"{a}_vs_{b}": paired_metrics(t, result.probs[a][:, j],
                                                             result.probs[b][:, j], patients)
                               for a, b in PAIRS if a in result.probs and b in result.probs}


def auroc_or_nan(entry: dict[str, Any]) -> float:
    value = entry.get("auroc")
    return float(value) if value is not None else math.nan
