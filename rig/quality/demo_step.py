"""``rig demo``'s quality step: the live gate's retakes and the no-reference quality model's
table on held-out patients, from the demo's own captured photos.

The demo photographs one preset in good conditions, so its verified pairs are nearly all
graded good; a model needs bad photos too. Every exported pair therefore also yields
degraded copies of its aligned photo — defocus, camera shake, a glare veil, mild to
strong — each graded against the pair's ground truth by the same automatic grader as the
live gate (``grade_pair_images``), labelled by the figures a retake can change (the
gate's view: glare, sharpness, coverage), so grades 1–4 all occur. A tiny model trains for a fixed number
of optimiser steps (``QUALITY_STEPS``; the work does not depend on the machine's load),
picks its operating point on the validation patients and is scored on the test patients
with the simple baselines beside it (``rig.quality.model_eval``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from rig.config import QualityConfig
from rig.quality.labelset import LABELS_NAME, LabelRow, mask_path, photo_path
from rig.quality.project_grades import grade_pair_images

QUALITY_STEPS = 60  # batch 4 x bag 8 tiles of 96 px: ~20 s on one idle core
PATCH = 96


STRENGTHS = (0.35, 0.6, 1.0)  # cycled over the pairs: mild, middling and strong copies


def _defocus(image: np.ndarray, strength: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), 2.5 * strength)  # sigma up to 2.5 px


def _shake(image: np.ndarray, strength: float) -> np.ndarray:
    n = 2 * round(5 * strength) + 1  # a horizontal streak of up to 11 px
    kernel = np.zeros((n, n), np.float32)
    kernel[n // 2, :] = 1.0 / n
    return cv2.filter2D(image, -1, kernel)


def _glare(image: np.ndarray, strength: float) -> np.ndarray:
    """A bright smooth veil (a window's reflection) over up to a sixth of the image."""
    h, w = image.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    radius = 0.23 * min(h, w) * strength**0.5
    disc = (yy - 0.4 * h) ** 2 + (xx - 0.6 * w) ** 2 <= radius**2
    veil = cv2.GaussianBlur(disc.astype(np.float32), (0, 0), 0.03 * min(h, w)) * 170.0
    return np.clip(image.astype(np.float32) + veil, 0, 255).astype(np.uint8)


VARIANTS: dict[str, Callable[[np.ndarray, float], np.ndarray] | None] = {
    "captured": None, "defocus": _defocus, "shake": _shake, "glare": _glare}


@dataclass(frozen=True)
class QualityDemo:
    step: str  # the demo's step line
    table: list[str]  # rows for the demo's table
    figures: dict[str, Any]


def build_label_set(export_dir: Path, out: Path, config: QualityConfig) -> list[LabelRow]:
    """The export's pairs (``folders`` layout) and their degraded copies, graded."""
    with (export_dir / "manifest.csv").open(newline="") as handle:
        pairs = list(csv.DictReader(handle))
    rows = []
    for index, pair in enumerate(pairs):
        truth = cv2.imread(str(export_dir / pair["ground_truth"]), cv2.IMREAD_GRAYSCALE)
        aligned = cv2.imread(str(export_dir / pair["aligned"]), cv2.IMREAD_GRAYSCALE)
        mask = cv2.imread(str(export_dir / pair["mask"]), cv2.IMREAD_GRAYSCALE)
        if truth is None or aligned is None or mask is None or truth.shape != aligned.shape:
            continue
        for name, degrade in VARIANTS.items():
            strength = STRENGTHS[index % len(STRENGTHS)]
            photo = aligned if degrade is None else degrade(aligned, strength)
            figures, grade = grade_pair_images(photo, truth, mask > 127, None, config)
            # The label is what the live gate judges: the figures a retake can change (the
            # demo's small phone photos lose PSNR to the camera itself, which no retake fixes).
            row = LabelRow(f"{pair['pair_id']}-{name}", pair["patient"], name, 1,
                           grade.retake_grade(), figures.to_dict(), grade.reasons)
            for path, data in ((photo_path(out, row), photo), (mask_path(out, row), mask)):
                path.parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(path), data)
            rows.append(row)
    (out / LABELS_NAME).write_text("".join(json.dumps(r.to_dict()) + "\n" for r in rows))
    return rows


def run_quality_step(export_dir: Path, work: Path, gate: dict[str, Any],
                     say: Callable[[str], None], steps: int = QUALITY_STEPS) -> QualityDemo:
    """Label, train (fixed steps), evaluate on the test patients; the table's rows."""
    from rig.quality.model_eval import evaluate_quality
    from rig.quality.training import QualityTrainConfig, train_quality

    say("quality: grading the captured photos and degraded copies (defocus, shake, glare)")
    rows = build_label_set(export_dir, work / "data", QualityConfig())
    grades = {g: sum(r.grade == g for r in rows) for g in (1, 2, 3, 4)}
    say(f"quality: training the tiny no-reference model for {steps} steps on {len(rows)} photos")
    cfg = QualityTrainConfig(backbone="tiny", epochs=2, steps_per_epoch=-(-steps // 2), batch=4,
                             bag_size=8, patch=PATCH, device="cpu", patience=10_000)
    train_quality(work / "data", work / "run", cfg)
    result = evaluate_quality(work / "run", n_boot=500, pristine_images=2)
    return QualityDemo(_step_line(gate, grades, result), quality_table(gate, result),
                       {"grades": grades, "gate": gate, "model": result["model"],
                        "baselines": {n: t["auc"] for n, t in result["baselines"].items()},
                        "photos": result["photos"], "patients": result["patients"]})


def _step_line(gate: dict[str, Any], grades: dict[int, int], result: dict[str, Any]) -> str:
    spread = ", ".join(f"grade {g}: {n}" for g, n in grades.items())
    return (f"live gate: {gate.get('retaken', 0)} retaken; quality model (tiny) trained on "
            f"{sum(grades.values())} graded photos ({spread}); tested on {result['photos']} "
            f"photos of {result['patients']} held-out patients")


def quality_table(gate: dict[str, Any], result: dict[str, Any]) -> list[str]:
    """Rows for the demo's table (same two columns: what, value [95 % CI])."""
    from rig.ml.stats import fmt_interval

    t = result["model"]
    by = ", ".join(f"{n} × {f}" for f, n in gate.get("by_figure", {}).items())
    auc = "n/a (one class only)" if t["auc"] is None or t["auc"] != t["auc"] else (
        f"{t['auc']:.3f} {fmt_interval(t['auc_ci'], 3)}")
    best = result["best_baseline"]

    def pct(value: Any) -> str:
        return "n/a" if value is None or value != value else f"{value:.2f}"

    return [
        f"| live quality gate: photos retaken | {gate.get('retaken', 0)}"
        + (f" ({by})" if by else "") + " |",
        f"| quality model AUC, bad = retake grade < 3 ({result['photos']} photos) | {auc} |",
        f"| quality model sens / spec / PPV / NPV | {pct(t['sensitivity'])} / "
        f"{pct(t['specificity'])} / {pct(t['ppv'])} / {pct(t['npv'])} |",
        f"| best simple baseline AUC ({best}) | {pct(result['baseline_auc'])} |",
    ]
