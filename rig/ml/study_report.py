"""The screen-photo study's report on the shared report system.

Sections: the table (mean ± SD of the test AUROC over the K·R runs per view, n runs,
beside the published 0.864 / 0.849 / 0.853), per-split rows, the pooled analysis
(every test image once, probabilities averaged over repeats: AUROC [patient bootstrap
95 % CI], DeLong and bootstrap for the paired views), the leakage checks. Figures: box
plots of the runs' AUROC per view, the pooled ROC curves and reliability.
``scores.csv``: the pooled per-image probabilities.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from rig.ml.classify_report import (
    VIEW_STYLE,
    paired_markdown,
    reliability_figure,
    results_markdown,
    roc_figure,
)
from rig.ml.clseval import ClassifyEval
from rig.ml.report import ReportDoc, save_figure, write_report_folder
from rig.ml.views import VIEWS


def _cell(s: dict[str, Any]) -> str:
    if not s or s.get("mean") is None:
        return "n/a"
    return f"{s['mean']:.3f} ± {s['sd']:.3f} (n = {s['n']})"


def table_markdown(summary: dict[str, Any]) -> str:
    published = summary["published"]
    lines = ["| label | " + " | ".join(VIEWS) + " |", "|---|" + "---|" * len(VIEWS)]
    for label, row in summary["table"].items():
        lines.append(f"| {label} | " + " | ".join(_cell(row[v]) for v in VIEWS) + " |")
    lines.append("| published (10 splits × 3 repeats, Xception, breast ultrasound) | "
                 + " | ".join(f"{published[v]:.3f}" for v in VIEWS) + " |")
    return "\n".join(lines)


def per_split_markdown(summary: dict[str, Any]) -> str:
    lines = ["| split | " + " | ".join(VIEWS) + " |", "|---|" + "---|" * len(VIEWS)]
    for k, row in summary["per_split"].items():
        lines.append(f"| {k} | " + " | ".join(_cell(row[v]) for v in VIEWS) + " |")
    return "\n".join(lines)


def leakage_markdown(leakage: list[dict[str, Any]]) -> str:
    lines = ["| split | train / valid / test patients | patients in two parts | restoration patients "
             "| of them tested | restoration data fingerprint |", "|---|---|---|---|---|---|"]
    for f in leakage:
        lines.append(f"| {f['split']} | {f['n_train']} / {f['n_valid']} / {f['n_test']} "
                     f"| {sum(f['overlaps'].values())} | {f['restoration_patients']} "
                     f"| {f['restoration_test_patients']} "
                     f"| {'matches' if f.get('restoration_data_fingerprint_matches') else 'not checked'} |")
    return "\n".join(lines)


def box_plot(summary: dict[str, Any], out: Path) -> str:
    fig, ax = plt.subplots(figsize=(6, 4))
    data = [[r[v] for r in summary["runs"] if r.get(v) is not None] for v in VIEWS]
    parts = ax.boxplot(data, tick_labels=list(VIEWS), patch_artist=True)
    for patch, view in zip(parts["boxes"], VIEWS, strict=True):
        patch.set_facecolor(VIEW_STYLE[view])
        patch.set_alpha(0.4)
    for i, view in enumerate(VIEWS, start=1):
        ax.scatter([i] * len(data[i - 1]), data[i - 1], s=10, color=VIEW_STYLE[view], zorder=3)
        ax.axhline(summary["published"][view], color=VIEW_STYLE[view], lw=0.8, ls=":")
    ax.set_ylabel("test AUROC per run (mean over labels)")
    ax.set_title(f"{len(summary['runs'])} runs; dotted: published means", fontsize=9)
    return save_figure(fig, out, "auroc_boxplot.png")


def write_study_report(summary: dict[str, Any], pooled: ClassifyEval, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    cfg = summary["config"]
    figures = [box_plot(summary, out), roc_figure(pooled, out), reliability_figure(pooled, out)]
    doc = ReportDoc(
        title="Screen-photo study: does photographing (and restoring) keep diagnostic accuracy?",
        intro=(f"{cfg['splits']} patient-level splits × {cfg['repeats']} training repeats; "
               f"{cfg['model']} trained on `{cfg['train_on']}` (uncertainty policy "
               f"`{cfg['policy']}`), restoration `{cfg['restore_model']}` trained per split on that "
               f"split's training patients only. Labels: {', '.join(cfg['labels'])}."),
        sections=[("Test AUROC over runs (mean ± SD)", table_markdown(summary)),
                  ("Per split (mean ± SD over repeats)", per_split_markdown(summary)),
                  ("Pooled test predictions (each patient tested once)", results_markdown(pooled)),
                  ("Pooled paired comparisons", paired_markdown(pooled)),
                  ("No leakage", leakage_markdown(summary.get("leakage", [])))],
        figures=figures, metrics=summary, rows=pooled.rows())
    return write_report_folder(doc, out)
