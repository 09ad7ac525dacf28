"""The classification report (``rig eval classify --report``) on the shared report system.

Sections: per label, one row per view (AUROC [95 % CI], n, positives/negatives,
patients, uncertain left out, sensitivity/specificity at the validation Youden
threshold, ECE); the paired comparisons (AUROC difference [95 % CI], DeLong z and p).
Figures: ROC curves (one panel per label, one curve per view), a reliability plot (same
layout), the training curves. ``scores.csv``: one row per image, view and label.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from rig.ml.clseval import ClassifyEval
from rig.ml.report import ReportDoc, save_figure, training_curves, write_report_folder
from rig.ml.stats import fmt_interval, reliability, roc_curve

VIEW_STYLE = {"dicom": "tab:blue", "photo": "tab:red", "restored": "tab:green"}


def _v(x: Any, digits: int) -> str:
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{digits}f}"


def results_markdown(result: ClassifyEval) -> str:
    lines = ["| label | view | AUROC [95 % CI] | n (pos/neg) | patients | uncertain left out "
             "| sensitivity | specificity | ECE |", "|---|---|---|---|---|---|---|---|---|"]
    for label, views in result.per_label.items():
        for view, m in views.items():
            auc = (f"{m['auroc']:.3f} {fmt_interval(m['auroc_ci'], 3)}" if m["auroc"] is not None
                   else f"n/a ({m['reason']})")
            lines.append(f"| {label} | {view} | {auc} | {m['n']} ({m['n_pos']}/{m['n_neg']}) "
                         f"| {m['n_patients']} | {m['n_uncertain']} | {_v(m.get('sensitivity'), 3)} "
                         f"| {_v(m.get('specificity'), 3)} | {_v(m.get('ece'), 3)} |")
    return "\n".join(lines)


def paired_markdown(result: ClassifyEval) -> str:
    lines = ["| label | comparison | ΔAUROC [95 % CI] | DeLong z | p | n |", "|---|---|---|---|---|---|"]
    for label, pairs in result.paired.items():
        for name, m in pairs.items():
            if m["diff"] is None:
                lines.append(f"| {label} | {name.replace('_', ' ')} | n/a ({m['reason']}) | | | |")
                continue
            lines.append(f"| {label} | {name.replace('_', ' ')} | {m['diff']:+.3f} "
                         f"{fmt_interval(m['diff_ci'], 3)} | {m['z']:.2f} | {m['p']:.3g} | {m['n']} |")
    return "\n".join(lines)


def _panels(n: int) -> tuple[Any, list[Any]]:
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 4.0 * rows), squeeze=False)
    return fig, list(axes.ravel())


def roc_figure(result: ClassifyEval, out: Path) -> str:
    fig, axes = _panels(len(result.labels))
    for j, (ax, label) in enumerate(zip(axes, result.labels, strict=False)):
        keep = result.truth[:, j] >= 0
        for view, probs in result.probs.items():
            m = result.per_label[label][view]
            if m["auroc"] is None:
                continue
            fpr, tpr = roc_curve(result.truth[keep, j], probs[keep, j])
            ax.plot(fpr, tpr, color=VIEW_STYLE.get(view), label=f"{view} {m['auroc']:.3f}")
        ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls="--")
        ax.set_title(f"{label} (n = {int(keep.sum())})", fontsize=10)
        ax.set_xlabel("1 − specificity")
        ax.set_ylabel("sensitivity")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="lower right")
    for ax in axes[len(result.labels):]:
        ax.axis("off")
    return save_figure(fig, out, "roc.png")


def reliability_figure(result: ClassifyEval, out: Path) -> str:
    fig, axes = _panels(len(result.labels))
    for j, (ax, label) in enumerate(zip(axes, result.labels, strict=False)):
        keep = result.truth[:, j] >= 0
        for view, probs in result.probs.items():
            rel = reliability(result.truth[keep, j], probs[keep, j])
            filled = rel.count > 0
            ax.plot(rel.mean_predicted[filled], rel.observed[filled], marker="o",
                    color=VIEW_STYLE.get(view), label=f"{view} ECE {rel.ece:.3f}")
        ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls="--")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_title(f"{label}: reliability", fontsize=10)
        ax.set_xlabel("mean predicted probability (10 bins)")
        ax.set_ylabel("observed positive fraction")
        ax.legend(fontsize=8)
    for ax in axes[len(result.labels):]:
        ax.axis("off")
    return save_figure(fig, out, "reliability.png")


def write_classify_report(result: ClassifyEval, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    figures = [roc_figure(result, out), reliability_figure(result, out),
               *training_curves(Path(result.run_dir), out)]
    cfg = result.train_config
    thresholds = ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} n/a"
                           for k, v in result.thresholds.items())
    doc = ReportDoc(
        title=f"Classification report: {result.model}",
        intro=(f"Run `{result.run_dir}` ({result.model}, trained on `{cfg.get('train_on')}`, "
               f"uncertainty policy `{cfg.get('policy')}`), data `{result.data_dir}`, "
               f"{result.split} split: {len(result.records)} images of "
               f"{len(set(result.patients.tolist()))} patients. AUROC 95 % CIs by patient-level "
               "bootstrap (2000 resamples); paired comparisons on identical cases by DeLong's test "
               "and a patient-level bootstrap of the difference. Thresholds chosen by Youden's J on "
               f"the validation split in the training view: {thresholds or 'none'}."
               + "".join(f" View {v} left out: {why}." for v, why in result.skipped_views.items())),
        sections=[("AUROC per label and view", results_markdown(result)),
                  ("Paired comparisons", paired_markdown(result))],
        figures=figures, metrics=result.to_json(), rows=result.rows())
    return write_report_folder(doc, out)


def summary_line(result: ClassifyEval) -> str:
    """One line per label: AUROC [CI] per view."""
    parts = []
    for label, views in result.per_label.items():
        cells = [f"{v} {m['auroc']:.3f} {fmt_interval(m['auroc_ci'], 3)}" if m["auroc"] is not None
                 else f"{v} n/a" for v, m in views.items()]
        parts.append(f"{label}: " + ", ".join(cells))
    return "\n".join(parts)

