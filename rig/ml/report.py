"""Report folders, one system for every model family (restoration, classification …).

A report folder holds ``report.md`` (sections of markdown, then the figures),
``metrics.json`` (every number in the report), ``scores.csv`` (one row per image and
view: what a researcher re-analyses) and the PNG figures (matplotlib, Agg backend:
files only, never a window). Numbers are written as mean ± SD with a 95 % CI and n
wherever they summarise more than one case.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never a window
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from rig.atomic import write_text_atomic
from rig.ml.checkpoint import read_metrics


@dataclass
class ReportDoc:
    title: str
    intro: str
    sections: list[tuple[str, str]] = field(default_factory=list)  # (heading, markdown)
    figures: list[str] = field(default_factory=list)  # PNG names inside the folder
    metrics: dict[str, Any] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)  # per image (and view)


def save_figure(fig: Figure, out: Path, name: str, dpi: int = 110) -> str:
    fig.tight_layout()
    fig.savefig(out / name, dpi=dpi)
    plt.close(fig)
    return name


def csv_text(rows: list[dict[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_report_folder(doc: ReportDoc, out: Path) -> Path:
    """Write report.md, metrics.json and scores.csv into ``out``; returns report.md."""
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "metrics.json",
                      json.dumps(doc.metrics, indent=2, sort_keys=True, default=_json_default) + "\n")
    if doc.rows:
        write_text_atomic(out / "scores.csv", csv_text(doc.rows))
    md = [f"# {doc.title}", "", doc.intro, ""]
    for heading, body in doc.sections:
        md += [f"## {heading}", "", body, ""]
    if doc.rows:
        md += [f"Per-image scores: [scores.csv](scores.csv) ({len(doc.rows)} rows).", ""]
    if doc.figures:
        md += ["## Figures", "", *[f"![{n}]({n})" for n in doc.figures], ""]
    write_text_atomic(out / "report.md", "\n".join(md))
    return out / "report.md"


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)


def _untrained_validation(run_dir: Path) -> dict[str, float]:
    """The validation figures of the untrained model (``RunState.init``), if recorded."""
    from rig.ml.checkpoint import LAST, load_checkpoint

    if not (run_dir / LAST).is_file():
        return {}
    try:
        return dict(load_checkpoint(run_dir / LAST)["run"].get("init") or {})
    except Exception:  # a foreign or damaged checkpoint: curves without the start point
        return {}


def training_curves(run_dir: Path, out: Path, name: str = "training_curves.png") -> list[str]:
    """Training loss and every validation metric of every epoch, against optimiser steps.

    The validation of the untrained model is drawn at step 0; an epoch cut short by a
    budget is drawn at the steps it really took.
    """
    history = read_metrics(run_dir)
    if not history:
        return []
    init = _untrained_validation(run_dir)
    steps, total = [], 0
    for h in history:
        total += int(h.get("steps") or 0)
        steps.append(total)
    val_keys = [k for k in history[-1] if k.startswith("val_")]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    trained = [(s, h["train_loss"]) for s, h in zip(steps, history, strict=True)
               if h.get("train_loss") is not None]
    if trained:
        ax1.plot(*zip(*trained, strict=True), marker="o", ms=3)
        ax1.set_yscale("log")
    ax1.set_xlabel("optimiser steps")
    ax1.set_ylabel("training loss (per epoch)")
    for key in val_keys:
        start = [(0, init[key])] if isinstance(init.get(key), int | float) and math.isfinite(init[key]) else []
        pts = start + [(s, h[key]) for s, h in zip(steps, history, strict=True)
                       if isinstance(h.get(key), int | float) and math.isfinite(h[key])]
        if pts:
            ax2.plot(*zip(*pts, strict=True), marker="o", ms=3, label=key)
    ax2.set_xlabel("optimiser steps (0: untrained)")
    ax2.set_ylabel("validation")
    if val_keys:
        ax2.legend(fontsize=8)
    fig.suptitle(f"{len(history)} epoch(s), {total} steps", fontsize=9)
    return [save_figure(fig, out, name)]
