"""The restoration report (``rig eval restore --report``) on the shared report system.

Sections: the published table per evaluated split (mean ± SD, patient-level 95 % CI,
n), the breakdown by preset and categorical conditions (same figures), the worst cases
of each split. Figures: PSNR and SSIM histograms before vs after, example panels
(registered photo | restored | ground truth | difference) of the worst, median and
best images of the last evaluated split (the held-out one when test is evaluated), and
the training curves of every epoch. ``scores.csv``: one row per image.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch

from rig.ml.checkpoint import load_run_model, run_input_norm
from rig.ml.data import Manifest, load_pair
from rig.ml.evaluate import EvalReport, ImageScore, score_pair, table_markdown
from rig.ml.infer import TileConfig
from rig.ml.report import ReportDoc, save_figure, training_curves, write_report_folder
from rig.ml.stats import fmt_interval


def _histograms(scores: list[ImageScore], out: Path) -> list[str]:
    names = []
    for metric, unit in (("psnr", "dB"), ("ssim", "")):
        before = np.array([getattr(s, f"{metric}_before") for s in scores], np.float64)
        after = np.array([getattr(s, f"{metric}_after") for s in scores], np.float64)
        both = np.concatenate([before, after])
        both = both[np.isfinite(both)]
        bins: int | list[float] = (np.linspace(both.min(), both.max() + 1e-9, 30).tolist()
                                   if both.size else 10)
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.hist(before[np.isfinite(before)], bins=bins, alpha=0.6, label="before (registered photo)")
        ax.hist(after[np.isfinite(after)], bins=bins, alpha=0.6, label="after (restored)")
        ax.set_xlabel(f"{metric.upper()} {unit}".strip())
        ax.set_ylabel(f"images (n = {len(scores)})")
        ax.legend()
        names.append(save_figure(fig, out, f"hist_{metric}.png"))
    return names


def pick_examples(scores: list[ImageScore], k: int) -> list[ImageScore]:
    """Worst, second worst, median and best (then more from the bottom) of one split."""
    ranked = sorted(scores, key=lambda s: s.psnr_after)
    if len(ranked) <= k:
        return ranked
    idx = sorted({0, 1, len(ranked) // 2, len(ranked) - 1} | set(range(k - 4)))[:k]
    return [ranked[i] for i in idx]


def _examples(report: EvalReport, manifest: Manifest, run_dir: Path, out: Path,
              k: int, tile: TileConfig) -> list[str]:
    shown_split = list(report.splits)[-1]
    model, meta = load_run_model(run_dir, torch.device("cpu"))
    records = {r.pair_id: r for r in manifest.records}
    names = []
    for rank, s in enumerate(pick_examples([x for x in report.scores if x.split == shown_split], k)):
        rec = records[s.pair_id]
        pair = load_pair(rec)
        _, restored = score_pair(model, rec, pair.aligned, pair.truth, pair.mask,
                                 torch.device("cpu"), tile, run_input_norm(meta))
        diff = np.abs(restored.astype(np.int16) - pair.truth.astype(np.int16)) * pair.mask
        fig, axes = plt.subplots(1, 4, figsize=(14, 4.2))
        panels = [(pair.aligned, f"photo (registered)\n{s.psnr_before:.2f} dB, SSIM {s.ssim_before:.3f}"),
                  (restored, f"restored\n{s.psnr_after:.2f} dB, SSIM {s.ssim_after:.3f}"),
                  (pair.truth, "ground truth")]
        for ax, (img, title) in zip(axes[:3], panels, strict=True):
            ax.imshow(img, cmap="gray", vmin=0, vmax=255)
            ax.set_title(title, fontsize=9)
        im = axes[3].imshow(diff, cmap="magma", vmin=0, vmax=max(8, int(np.percentile(diff, 99.5))))
        axes[3].set_title("|restored − truth|", fontsize=9)
        fig.colorbar(im, ax=axes[3], fraction=0.046)
        for ax in axes:
            ax.axis("off")
        fig.suptitle(f"{s.pair_id} ({s.split})", fontsize=10)
        names.append(save_figure(fig, out, f"example_{rank}_{s.pair_id}.png", dpi=100))
    return names


def conditions_markdown(conditions: dict[str, dict[str, dict[str, Any]]]) -> str:
    lines = ["| condition | value | n (patients) | PSNR before | PSNR after [95 % CI] "
             "| SSIM before | SSIM after [95 % CI] |", "|---|---|---|---|---|---|---|"]
    for col, groups in conditions.items():
        for value, s in groups.items():
            lines.append(
                f"| {col} | {value} | {int(s['n'])} ({int(s['patients'])}) "
                f"| {s['psnr_before']:.2f} ± {s['psnr_before_sd']:.2f} "
                f"| {s['psnr_after']:.2f} ± {s['psnr_after_sd']:.2f} {fmt_interval(s['psnr_after_ci'], 2)} "
                f"| {s['ssim_before']:.3f} ± {s['ssim_before_sd']:.3f} "
                f"| {s['ssim_after']:.3f} ± {s['ssim_after_sd']:.3f} {fmt_interval(s['ssim_after_ci'], 3)} |")
    return "\n".join(lines)


def _worst_markdown(worst: list[dict[str, Any]]) -> str:
    return "\n".join(f"- {w['pair_id']} ({w['split']}): {w['psnr_before']:.2f} → "
                     f"{w['psnr_after']:.2f} dB, SSIM {w['ssim_before']:.3f} → {w['ssim_after']:.3f}"
                     for w in worst) or "(none)"


def write_report(report: EvalReport, manifest: Manifest, run_dir: Path, out: Path,
                 examples: int = 4, tile: TileConfig = TileConfig()) -> Path:
    """Write the restoration report folder into ``out``; returns report.md's path."""
    out.mkdir(parents=True, exist_ok=True)
    figures = (_histograms(report.scores, out) + training_curves(run_dir, out)
               + _examples(report, manifest, run_dir, out, examples, tile))
    doc = ReportDoc(
        title=f"Restoration report: {report.model}",
        intro=(f"Run `{report.run_dir}`, data `{report.data_dir}`. PSNR/SSIM in the display "
               "domain (8-bit, data range 255) over the image area (mask); mean ± SD, the 95 % "
               "CI of the mean by patient-level bootstrap (2000 resamples), n images (patients)."),
        sections=[("Results", table_markdown(report.splits)),
                  ("By condition", conditions_markdown(report.conditions)),
                  ("Worst cases of each split (lowest PSNR after)", _worst_markdown(report.worst))],
        figures=figures,
        metrics=report.to_json(),
        rows=[{k: v for k, v in asdict(s).items() if k != "conditions"} | s.conditions
              for s in report.scores])
    return write_report_folder(doc, out)
