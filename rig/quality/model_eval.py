"""``rig eval quality``: the skin-image study's table for a trained quality model, with the
simple no-reference baselines computed on the same photos in the same run.

The operating point (k*, threshold) was chosen on the validation patients when the run
was trained (``quality_run.json``); the baselines' thresholds are chosen here, also on
the validation patients only. Everything is then reported on the test patients: AUC
with a patient-level bootstrap 95 % CI, sensitivity, specificity, PPV and NPV (good =
positive, as in the study), the grade confusion matrix, ordinal MAE, QWK, ROC curves,
and one row per photo. The report folder is the shared one (``rig.ml.report``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rig.errors import InputError
from rig.ml.report import ReportDoc, training_curves, write_report_folder
from rig.quality import evaluation as ev
from rig.quality.baseline_eval import baseline_tables, score_baselines
from rig.quality.training import (
    QualityRun,
    graded_rows,
    load_quality_run_model,
    predict_rows,
    rows_by_split,
)

MODEL = "model"


def evaluate_quality(
    run_dir: Path,
    split: str = "test",
    seed: int = 0,
    n_boot: int = 2000,
    pristine_images: int = 8,
    on_photo: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """The model's and the baselines' tables on ``split`` (validation picks thresholds)."""
    run = QualityRun.load(run_dir)
    data = Path(run.data)
    parts = rows_by_split(graded_rows(data), run.splits)
    valid_rows, test_rows = parts["valid"], parts[split]
    if not test_rows or not valid_rows:
        raise InputError(f"{run_dir}: no photos in the {split} or valid split")
    point = run.point()
    model = load_quality_run_model(run_dir)
    pred = predict_rows(model, data, test_rows, run.patch, on_photo)
    grades = np.array([int(r.grade or 1) for r in test_rows])
    bad = grades < run.min_grade
    patients = [r.patient for r in test_rows]
    p_bad = pred.cum_le[:, point.k - 1]
    table = ev.score_table(bad, p_bad, point.threshold, patients, seed, n_boot)
    rows = valid_rows + test_rows
    scores = score_baselines(data, rows, pristine_images)
    valid = np.array([i < len(valid_rows) for i in range(len(rows))])
    all_bad = np.array([int(r.grade or 1) < run.min_grade for r in rows])
    baselines = baseline_tables(scores, all_bad, valid, [r.patient for r in rows], seed, n_boot)
    best = max(baselines, key=lambda n: _finite(baselines[n]["auc"]))
    per_photo = [{"photo": r.photo, "patient": r.patient, "preset": r.preset, "grade": int(g),
                  "bad": bool(b), "predicted_grade": int(pg), "p_bad": round(float(p), 5),
                  "flagged_bad": bool(p >= point.threshold),
                  **{f"baseline_{n}": round(float(s[len(valid_rows) + i]), 6)
                     for n, s in scores.items()}}
                 for i, (r, g, b, pg, p) in enumerate(
                     zip(test_rows, grades, bad, pred.grades, p_bad, strict=True))]
    return {"run": str(run_dir), "split": split, "photos": len(test_rows),
            "bad": int(bad.sum()), "patients": len(set(patients)),
            "valid_photos": len(valid_rows), "min_grade": run.min_grade,
            "operating_point": point.to_dict(), MODEL: table,
            "ordinal": ev.ordinal_table(grades, pred.grades),
            "baselines": baselines, "best_baseline": best,
            "baseline_auc": baselines[best]["auc"], "rows": per_photo,
            "curves": {MODEL: (bad, p_bad),
                       **{n: (bad, s[len(valid_rows):]) for n, s in scores.items()}}}


def _finite(value: float) -> float:
    return value if math.isfinite(value) else -1.0


def _cell(value: Any, digits: int = 3) -> str:
    return "–" if value is None or (isinstance(value, float) and not math.isfinite(value)) \
        else f"{value:.{digits}f}"


def table_lines(result: dict[str, Any]) -> list[str]:
    """The study's table as markdown rows: the model, then each baseline."""
    lines = ["| score | AUC (95 % CI) | sensitivity | specificity | PPV | NPV | retake rate |",
             "|---|---|---|---|---|---|---|"]
    entries = [(f"quality model (k*={result['operating_point']['k']})", result[MODEL])]
    entries += [(f"baseline: {n}", t) for n, t in result["baselines"].items()]
    for name, t in entries:
        lo, hi = t["auc_ci"]
        lines.append(f"| {name} | {_cell(t['auc'])} ({_cell(lo)}–{_cell(hi)}) | "
                     f"{_cell(t['sensitivity'])} | {_cell(t['specificity'])} | {_cell(t['ppv'])}"
                     f" | {_cell(t['npv'])} | {_cell(t['retake_rate'])} |")
    return lines


def to_json(result: dict[str, Any]) -> dict[str, Any]:
    """The result without the curves (arrays) and per-photo rows: ``--json``'s keys."""
    return {k: v for k, v in result.items() if k not in ("curves", "rows")}


def write_quality_report(result: dict[str, Any], out: Path) -> Path:
    """report.md + metrics.json + scores.csv + ROC and training-curve PNGs in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    ev.plot_roc(result["curves"], out / "roc.png",
                f"{result['split']} patients (bad = grade < {result['min_grade']})")
    figures = ["roc.png", *training_curves(Path(result["run"]), out)]
    ordinal = result["ordinal"]
    confusion = ["| true \\ predicted | 1 | 2 | 3 | 4 |", "|---|---|---|---|---|"]
    confusion += [f"| {g} | " + " | ".join(str(v) for v in row) + " |"
                  for g, row in enumerate(ordinal["confusion"], 1)]
    doc = ReportDoc(
        title="Image-quality model",
        intro=(f"{result['photos']} {result['split']} photos of {result['patients']} patients "
               f"({result['bad']} bad: grade < {result['min_grade']}); thresholds chosen on "
               f"{result['valid_photos']} validation photos only; good = positive (the "
               "skin-image study's convention: AUC 0.885, 95 % CI 0.838–0.933). 95 % CIs by "
               "patient bootstrap."),
        sections=[("The study's table", "\n".join(table_lines(result))),
                  ("Grades", f"Ordinal MAE {_cell(ordinal['mae'])}, QWK {_cell(ordinal['qwk'])}."
                   "\n\n" + "\n".join(confusion))],
        figures=figures, metrics=to_json(result), rows=result["rows"])
    return write_report_folder(doc, out)
