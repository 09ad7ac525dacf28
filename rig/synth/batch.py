"""Batch synthesis over a CheXpert-style CSV: plan, process one image, run in parallel.

Output tree (as the original ``synthesize.py``):
``OUTDIR/<t1>[/<t2>[/<t3>]]/level_<L>/<relative path of the input>``, plus a
copy of the CSV in ``OUTDIR/<chain>/level_<L>/`` whose ``Path`` column holds
the new paths relative to OUTDIR (rows whose image was skipped are left out).
Each image gets its own seed from ``--seed`` and its relative path, so the
outputs do not depend on worker count or order.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from rig.atomic import write_text_atomic
from rig.errors import InputError, RigError, UsageError
from rig.synth.imageio import DEFAULT_JPEG_QUALITY, load_image, write_image, write_sidecar
from rig.synth.registry import (
    MAX_CHAIN,
    REFERENCE_LONG_SIDE_PX,
    apply_chain,
    check_level,
    check_transform_name,
    image_seed,
    resolution_scale,
)

PATH_COLUMN = "Path"


@dataclass(frozen=True)
class SynthConfig:
    """Everything a worker needs besides the image (picklable)."""

    transforms: tuple[str, ...]
    level: int
    root: Path
    out_dir: Path
    seed: int = 0
    scale_to_resolution: bool = False
    jpeg_quality: int = DEFAULT_JPEG_QUALITY

    @property
    def chain_dir(self) -> PurePosixPath:
        return PurePosixPath(*self.transforms, f"level_{self.level}")


@dataclass(frozen=True)
class ImageResult:
    """Outcome of one row: the new relative path, or the reason it was skipped."""

    row: int
    source: str
    output: str | None = None
    reason: str | None = None


@dataclass
class SynthReport:
    written: int = 0
    skipped: list[ImageResult] = field(default_factory=list)
    csv_path: Path | None = None


def validate_config(cfg: SynthConfig) -> None:
    """UsageError (exit 2) for an unknown transform, bad level or too long a chain."""
    if not 1 <= len(cfg.transforms) <= MAX_CHAIN:
        raise UsageError(f"give 1 to {MAX_CHAIN} --transform options, not {len(cfg.transforms)}")
    for name in cfg.transforms:
        check_transform_name(name)
    check_level(cfg.level)
    if not 1 <= cfg.jpeg_quality <= 100:
        raise UsageError(f"--jpeg-quality {cfg.jpeg_quality} must be within 1–100")


def read_csv(csv_path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Columns and rows of the input CSV; UsageError if unreadable or without ``Path``."""
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--csv {csv_path}: cannot read ({exc.__class__.__name__})") from None
    reader = csv.DictReader(io.StringIO(text))
    columns = list(reader.fieldnames or [])
    if PATH_COLUMN not in columns:
        raise UsageError(f"--csv {csv_path}: no '{PATH_COLUMN}' column (columns: {columns})")
    return columns, list(reader)


def relative_source(value: str, root: Path) -> PurePosixPath:
    """The image's path relative to ``root``; InputError if it escapes ``root``."""
    raw = Path(value)
    if raw.is_absolute():
        try:
            raw = raw.relative_to(root.resolve())
        except ValueError:
            raise InputError("absolute path outside --root") from None
    rel = PurePosixPath(raw.as_posix())
    if not rel.parts or ".." in rel.parts:
        raise InputError("path is empty or leaves --root ('..')")
    return rel


def process_image(row: int, value: str, cfg: SynthConfig) -> ImageResult:
    """Load, transform, write image + sidecar for one CSV row; never raises a RigError."""
    try:
        rel = relative_source(value, cfg.root)
        image = load_image(cfg.root / rel)
        height, width = image.shape[:2]
        scale = resolution_scale(width, height) if cfg.scale_to_resolution else 1.0
        seed = image_seed(cfg.seed, rel.as_posix())
        out, steps, h_total = apply_chain(image, cfg.transforms, cfg.level, seed, scale)
        out_rel = cfg.chain_dir / rel
        out_path = cfg.out_dir / out_rel
        write_image(out_path, out, cfg.jpeg_quality)
        write_sidecar(out_path, sidecar_record(cfg, rel, seed, scale, image, out, steps, h_total))
    except RigError as exc:
        return ImageResult(row, value, reason=exc.message)
    except OSError as exc:
        return ImageResult(row, value, reason=f"cannot write output ({exc.strerror or exc})")
    except Exception as exc:  # one bad image must not stop a 10 000-image run
        return ImageResult(row, value, reason=f"internal error ({type(exc).__name__}: {exc})")
    return ImageResult(row, value, output=out_rel.as_posix())


def sidecar_record(
    cfg: SynthConfig,
    rel: PurePosixPath,
    seed: int,
    scale: float,
    image: Any,
    out: Any,
    steps: list[dict[str, Any]],
    h_total: Any,
) -> dict[str, Any]:
    """The ``.geometry.json`` content: composed H, sizes, chain, level, draws, seeds."""
    return {
        "source": rel.as_posix(),
        "transform": "/".join(cfg.transforms),
        "transforms": list(cfg.transforms),
        "level": cfg.level,
        "seed": cfg.seed,
        "image_seed": seed,
        "scale": scale,
        "reference_long_side_px": REFERENCE_LONG_SIDE_PX if cfg.scale_to_resolution else None,
        "input_size_wh": [int(image.shape[1]), int(image.shape[0])],
        "output_size_wh": [int(out.shape[1]), int(out.shape[0])],
        "H": h_total,
        "H_convention": "input->output pixel coordinates, OpenCV (pixel centres at integers)",
        "steps": steps,
    }


@dataclass(frozen=True)
class SynthPlan:
    """A validated run: the CSV's columns and rows, ready to process."""

    csv_path: Path
    columns: list[str]
    rows: list[dict[str, str]]


def plan_synth(csv_path: Path, cfg: SynthConfig) -> SynthPlan:
    """Check the options and read the CSV; UsageError (exit 2) for anything wrong."""
    validate_config(cfg)
    if not cfg.root.is_dir():
        raise UsageError(f"--root {cfg.root}: not a folder")
    columns, rows = read_csv(csv_path)
    return SynthPlan(csv_path, columns, rows)


def run_plan(
    plan: SynthPlan,
    cfg: SynthConfig,
    workers: int,
    on_result: Callable[[ImageResult], None] | None = None,
) -> SynthReport:
    """Process every row (in parallel when ``workers`` > 1) and write the new CSV."""
    values = [r.get(PATH_COLUMN) or "" for r in plan.rows]
    results = _map_rows(values, cfg, workers, on_result)
    report = SynthReport()
    kept: list[dict[str, str]] = []
    for res in sorted(results, key=lambda r: r.row):
        if res.output is None:
            report.skipped.append(res)
            continue
        report.written += 1
        kept.append({**plan.rows[res.row], PATH_COLUMN: res.output})
    report.csv_path = cfg.out_dir / cfg.chain_dir / plan.csv_path.name
    write_text_atomic(report.csv_path, render_csv(plan.columns, kept))
    return report


def run_synth(
    csv_path: Path,
    cfg: SynthConfig,
    workers: int,
    on_result: Callable[[ImageResult], None] | None = None,
) -> SynthReport:
    """``plan_synth`` then ``run_plan``."""
    return run_plan(plan_synth(csv_path, cfg), cfg, workers, on_result)


def _map_rows(
    values: Sequence[str],
    cfg: SynthConfig,
    workers: int,
    on_result: Callable[[ImageResult], None] | None,
) -> list[ImageResult]:
    results: list[ImageResult] = []

    def done(res: ImageResult) -> None:
        results.append(res)
        if on_result is not None:
            on_result(res)

    if workers <= 1 or len(values) <= 1:
        for i, value in enumerate(values):
            done(process_image(i, value, cfg))
        return results
    # 'spawn', not fork: the parent may already run OpenCV's and rich's threads,
    # whose locks a forked child would inherit in whatever state they were.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(values)), mp_context=context) as pool:
        futures = [pool.submit(process_image, i, v, cfg) for i, v in enumerate(values)]
        for fut in as_completed(futures):
            done(fut.result())
    return results


def render_csv(columns: list[str], rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def default_workers() -> int:
    return os.cpu_count() or 1
