"""``rig train quality``: the quality model on the shared trainer, from a label set.

Data. Everything trains from a *label set* (``rig.quality.labelset``): the simulated one
``rig quality simulate`` writes, or one exported from a project's verified pairs
(``export_project_labels``: aligned photo, mask, and the grade — automatic, the human
consensus, or the consensus where there is one and the automatic grade elsewhere).

Splits are patient-level: every patient is placed in train / valid / test by the
project's stratified allocation (``rig.export.splits.assign_splits``, strata = the
patient's worst grade), seeded, and written into the run (``quality_run.json``) so that
evaluation reads the same test patients. No patient is in two parts.

After training, the operating point (ordinal cut k* and threshold, Youden's J) is chosen
on the *validation* photos with the best checkpoint and stored in ``quality_run.json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from rig.atomic import write_text_atomic
from rig.errors import InputError, UsageError
from rig.ml.models.quality import QualityMIL, QualityModelConfig, cumulative_le, predicted_grade
from rig.ml.trainer import EventSink, LoopConfig, TrainResult, fit
from rig.quality import evaluation as ev
from rig.quality.labelset import LabelRow, mask_path, photo_path, read_label_set
from rig.quality.patches import to_tiles
from rig.quality.task import BagSource, QualityTask, QualityTaskConfig

RUN_FILE = "quality_run.json"
SPLITS = ("train", "valid", "test")
LABEL_MODES = ("auto", "human", "both")
BACKBONES = ("vgg16", "resnet18", "efficientnet_b0", "tiny")


@dataclass(frozen=True)
class QualityTrainConfig:
    backbone: str = "resnet18"
    epochs: int = 6
    steps_per_epoch: int = 50
    batch: int = 4
    bag_size: int = 16
    lr: float = 1e-3
    seed: int = 0
    split_seed: int = 0
    budget_min: float | None = None
    patience: int = 5
    min_grade: int = 3
    patch: int = 224
    device: str = "auto"
    fractions: dict[str, float] = field(
        default_factory=lambda: {"train": 0.6, "valid": 0.2, "test": 0.2})

    def check(self) -> None:
        if self.backbone not in BACKBONES:
            raise UsageError(f"--model {self.backbone}: use {', '.join(BACKBONES)}")
        if not 2 <= self.min_grade <= 4:
            raise UsageError("--min-grade must be 2..4")
        if self.bag_size < 1 or self.patch < 32:
            raise UsageError("--bag must be >= 1 and --patch >= 32")

    def loop(self) -> LoopConfig:
        return LoopConfig(epochs=self.epochs, steps_per_epoch=self.steps_per_epoch,
                          batch=self.batch, lr=self.lr, seed=self.seed,
                          budget_min=self.budget_min, patience=self.patience, device=self.device,
                          channels_last=False)  # bags are 5-D: no channels-last layout


@dataclass(frozen=True)
class QualityRun:
    """What ``quality_run.json`` holds: where the data is, the split, the operating point."""

    data: str
    labels: str
    min_grade: int
    patch: int
    splits: dict[str, str]  # patient -> train|valid|test
    operating_point: dict[str, Any] = field(default_factory=dict)

    def save(self, run_dir: Path) -> None:
        write_text_atomic(run_dir / RUN_FILE, json.dumps(asdict(self), indent=2, sort_keys=True))

    @classmethod
    def load(cls, run_dir: Path) -> QualityRun:
        path = run_dir / RUN_FILE
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except OSError as exc:
            raise InputError(f"{path}: not a quality run ({exc.strerror}); train one with "
                             "'rig train quality'") from exc
        except (ValueError, TypeError) as exc:
            raise InputError(f"{path}: damaged ({exc})") from exc

    def point(self) -> ev.OperatingPoint:
        if not self.operating_point:
            raise InputError("the run has no operating point (training did not finish)")
        return ev.OperatingPoint(**self.operating_point)


def read_gray(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise InputError(f"{path}: missing or unreadable image")
    return image


def photo_tiles(folder: Path, row: LabelRow, patch: int) -> np.ndarray:
    """The bag of one label-set photo: tiles (N, P, P) uint8 over its valid area."""
    mask = read_gray(mask_path(folder, row)) > 127
    return to_tiles(read_gray(photo_path(folder, row)), patch, mask)[0]


def split_patients(rows: Sequence[LabelRow], fractions: dict[str, float], seed: int
                   ) -> dict[str, str]:
    """Patient -> split, stratified by the patient's worst grade (patient-level)."""
    from rig.export.splits import assign_splits

    worst: dict[str, int] = {}
    for row in rows:
        if row.grade is not None:
            worst[row.patient] = min(worst.get(row.patient, 4), row.grade)
    return assign_splits({p: str(g) for p, g in worst.items()}, fractions, seed)


def graded_rows(folder: Path) -> list[LabelRow]:
    rows = [r for r in read_label_set(folder) if r.grade is not None]
    if not rows:
        raise InputError(f"{folder}: no graded photo in the label set")
    return rows


def sources_of(folder: Path, rows: Sequence[LabelRow], patch: int) -> list[BagSource]:
    return [BagSource(r.photo, r.patient, int(r.grade or 1), partial(photo_tiles, folder, r, patch))
            for r in rows]


def rows_by_split(rows: Sequence[LabelRow], splits: dict[str, str]) -> dict[str, list[LabelRow]]:
    out: dict[str, list[LabelRow]] = {s: [] for s in SPLITS}
    for row in rows:
        out[splits.get(row.patient, "test")].append(row)
    return out


def train_quality(data: Path, run_dir: Path, cfg: QualityTrainConfig, labels: str = "auto",
                  resume: bool = False, on_event: EventSink | None = None) -> TrainResult:
    """Train on the label set ``data`` into ``run_dir``; store the split and operating point."""
    cfg.check()
    rows = graded_rows(data)
    if resume and (run_dir / RUN_FILE).is_file():
        splits = QualityRun.load(run_dir).splits  # the resumed run keeps its patients
    else:
        splits = split_patients(rows, cfg.fractions, cfg.split_seed)
    parts = rows_by_split(rows, splits)
    for name in ("train", "valid"):
        if not parts[name]:
            raise InputError(f"{data}: no {name} patients ({len(set(splits))} patients in all); "
                             "the set needs more patients")
    run = QualityRun(str(data.resolve()), labels, cfg.min_grade, cfg.patch, splits)
    run_dir.mkdir(parents=True, exist_ok=True)
    run.save(run_dir)
    task_cfg = QualityTaskConfig(model=QualityModelConfig(backbone=cfg.backbone, patch=cfg.patch),
                                 bag_size=cfg.bag_size, min_grade=cfg.min_grade, seed=cfg.seed)
    task = QualityTask(task_cfg, sources_of(data, parts["train"], cfg.patch),
                       sources_of(data, parts["valid"], cfg.patch))
    result = fit(task, run_dir, cfg.loop(), resume=resume, on_event=on_event)
    model = load_quality_run_model(run_dir)
    valid = predict_rows(model, data, parts["valid"], cfg.patch)
    bad = np.array([r.grade < cfg.min_grade for r in parts["valid"]])  # type: ignore[operator]
    point = ev.choose_operating_point(valid.cum_le, bad)
    QualityRun(**{**asdict(run), "operating_point": point.to_dict()}).save(run_dir)
    return result


def load_quality_run_model(run_dir: Path, device: torch.device | None = None) -> QualityMIL:
    """The best (else last) quality model of a trainer run folder."""
    from rig.ml.checkpoint import load_run_model

    model, _ = load_run_model(run_dir, device or torch.device("cpu"), task="quality")
    assert isinstance(model, QualityMIL)
    return model


@dataclass(frozen=True)
class Predictions:
    grades: np.ndarray  # (N,) predicted grade
    cum_le: np.ndarray  # (N, K-1) P(grade <= k)


@torch.no_grad()
def predict_rows(model: QualityMIL, folder: Path, rows: Sequence[LabelRow], patch: int,
                 on_photo: Callable[[], None] | None = None) -> Predictions:
    """Whole-photo predictions (every tile) of label-set rows."""
    model.eval()
    device = next(model.parameters()).device
    grades, cum = [], []
    for row in rows:
        x = torch.from_numpy(photo_tiles(folder, row, patch)).float().div_(255.0).unsqueeze(1)
        logits, _ = model(x.to(device))
        grades.append(int(predicted_grade(logits)))
        cum.append(cumulative_le(logits).float().cpu().numpy())
        if on_photo is not None:
            on_photo()
    k1 = model.cfg.num_grades - 1
    return Predictions(np.array(grades, np.int64), np.array(cum).reshape(-1, k1))
