"""The evaluation report folder: report.md, metrics.json and plots (matplotlib, Agg).

Plots: PSNR and SSIM histograms before vs after, example panels (registered photo |
restored | ground truth | difference) for the worst, median and best test images, and
the training curves from the run's metrics log.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never a window
import matplotlib.pyplot as plt
import numpy as np
import torch

from rig.atomic import write_text_atomic
from rig.ml.checkpoint import load_run_model, read_metrics, run_input_norm
from rig.ml.data import Manifest, load_pair
from rig.ml.evaluate import EvalReport, ImageScore, score_pair, table_markdown
from rig.ml.infer import TileConfig


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
        ax.set_ylabel("images")
        ax.legend()
        fig.tight_layout()
        name = f"hist_{metric}.png"
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        names.append(name)
    return names


def _pick_examples(scores: list[ImageScore], k: int) -> list[ImageScore]:
    ranked = sorted(scores, key=lambda s: s.psnr_after)
    if len(ranked) <= k:
        return ranked
    idx = sorted({0, 1, len(ranked) // 2, len(ranked) - 1} | set(range(k - 4)))[:k]
    return [ranked[i] for i in idx]


def _examples(report: EvalReport, manifest: Manifest, run_dir: Path, out: Path,
              k: int, tile: TileConfig) -> list[str]:
    model, meta = load_run_model(run_dir, torch.device("cpu"))
    records = {r.pair_id: r for r in manifest.records}
    names = []
    for rank, s in enumerate(_pick_examples(report.scores, k)):
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
        fig.tight_layout()
        name = f"example_{rank}_{s.pair_id}.png"
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        names.append(name)
    return names


def _curves(run_dir: Path, out: Path) -> list[str]:
    history = [h for h in read_metrics(run_dir) if h.get("train_loss") is not None]
    if not history:
        return []
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    ax1.plot(epochs, [h["train_loss"] for h in history], marker="o")
    ax1.set_yscale("log")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("train loss (the run's --loss, [0,1] scale)")
    ax2.plot(epochs, [h["train_psnr"] for h in history], marker="o", label="train patches")
    ax2.plot(epochs, [h["val_psnr"] for h in history], marker="o", label="validation images")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("PSNR (dB)")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(out / "training_curves.png", dpi=110)
    plt.close(fig)
    return ["training_curves.png"]


def _conditions_md(conditions: dict[str, dict[str, dict[str, float]]]) -> str:
    lines = ["| column | value | n | PSNR before | PSNR after | SSIM before | SSIM after |",
             "|---|---|---|---|---|---|---|"]
    for col, groups in conditions.items():
        for value, s in groups.items():
            lines.append(f"| {col} | {value} | {int(s['n'])} | {s['psnr_before']:.2f} | "
                         f"{s['psnr_after']:.2f} | {s['ssim_before']:.3f} | {s['ssim_after']:.3f} |")
    return "\n".join(lines)


def write_report(report: EvalReport, manifest: Manifest, run_dir: Path, out: Path,
                 examples: int = 4, tile: TileConfig = TileConfig()) -> Path:
    """Write report.md, metrics.json and the plots into ``out``; returns report.md's path."""
    out.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {**report.to_json(), "images": [asdict(s) for s in report.scores]}
    write_text_atomic(out / "metrics.json", json.dumps(payload, indent=2, sort_keys=True) + "\n")
    hists = _histograms(report.scores, out)
    exs = _examples(report, manifest, run_dir, out, examples, tile)
    curves = _curves(run_dir, out)
    worst = "\n".join(f"- {w['pair_id']} ({w['split']}): {w['psnr_before']:.2f} → "
                      f"{w['psnr_after']:.2f} dB, SSIM {w['ssim_before']:.3f} → {w['ssim_after']:.3f}"
                      for w in report.worst)
    md = [f"# Restoration report: {report.model}", "",
          f"Run `{report.run_dir}`, data `{report.data_dir}`. PSNR/SSIM in the display domain "
          "(8-bit, data range 255) over the image area (mask); mean ± SD.", "",
          table_markdown(report.splits), "", "## By condition", "",
          _conditions_md(report.conditions), "", "## Worst cases (lowest PSNR after)", "", worst,
          "", "## Plots", "", *[f"![{n}]({n})" for n in hists + curves + exs], ""]
    write_text_atomic(out / "report.md", "\n".join(md))
    return out / "report.md"
