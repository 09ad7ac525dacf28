"""Commands of the synth area: ``rig synth`` and ``rig bench synth``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from rig.cli.common import JsonOption, console, print_json, progress_bar
from rig.errors import UsageError
from rig.synth.batch import ImageResult, SynthConfig, default_workers, plan_synth, run_plan
from rig.synth.imageio import DEFAULT_JPEG_QUALITY
from rig.synth.registry import TRANSFORMS, apply_transform


def synth(
    csv_path: Annotated[Path, typer.Option("--csv", help="CSV with a 'Path' column.")],
    root: Annotated[Path, typer.Option("--root", help="Folder the CSV paths are relative to.")],
    transforms: Annotated[
        list[str],
        typer.Option(
            "--transform",
            "-t",
            help=f"Transform (repeat up to 3 times to chain): {', '.join(sorted(TRANSFORMS))}.",
        ),
    ],
    level: Annotated[int, typer.Option("--level", "-l", help="Severity 1–4.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")],
    seed: Annotated[int, typer.Option("--seed", help="Base seed; each image derives its own.")] = 0,
    scale_to_resolution: Annotated[
        bool,
        typer.Option(
            "--scale-to-resolution",
            help="Scale pixel-sized parameters by the image's long side / 2828 px.",
        ),
    ] = False,
    workers: Annotated[
        int | None, typer.Option("--workers", "-j", help="Worker processes (default: CPU count).")
    ] = None,
    jpeg_quality: Annotated[
        int, typer.Option("--jpeg-quality", help="JPEG quality of outputs (PIL default 75).")
    ] = DEFAULT_JPEG_QUALITY,
    as_json: JsonOption = False,
) -> None:
    """Apply CheXphoto's synthetic transformations to every image of a CSV."""
    cfg = SynthConfig(
        transforms=tuple(transforms),
        level=level,
        root=root,
        out_dir=out_dir,
        seed=seed,
        scale_to_resolution=scale_to_resolution,
        jpeg_quality=jpeg_quality,
    )
    if workers is not None and workers < 1:
        raise UsageError(f"--workers {workers} must be at least 1")
    plan = plan_synth(csv_path, cfg)  # usage errors surface before any progress output
    with progress_bar("synth", json_out=as_json) as progress:
        task = progress.add_task("synth", total=len(plan.rows))

        def on_result(res: ImageResult) -> None:
            if res.reason is not None:
                progress.console.print(
                    f"skipped {res.source}: {res.reason}", markup=False, soft_wrap=True
                )
            progress.advance(task)

        report = run_plan(plan, cfg, workers or default_workers(), on_result=on_result)
    if as_json:
        print_json(
            {
                "written": report.written,
                "skipped": [{"path": r.source, "reason": r.reason} for r in report.skipped],
                "csv": str(report.csv_path),
                "output_dir": str(out_dir / cfg.chain_dir),
            }
        )
    else:
        console.print(
            f"wrote {report.written} image(s), skipped {len(report.skipped)}; csv: {report.csv_path}",
            markup=False,
            soft_wrap=True,
        )
    if report.skipped:
        raise typer.Exit(1)


def bench_synth(
    size_px: Annotated[int, typer.Option("--size", help="Side of the square test image.")] = 1024,
    repeats: Annotated[int, typer.Option("--repeats", help="Runs per transform (best kept).")] = 3,
    as_json: JsonOption = False,
) -> None:
    """Time every transform on a synthetic grayscale image; ratios are against 'blur'."""
    rng = np.random.default_rng(0)
    image = (rng.random((size_px, size_px)) * 255).astype(np.uint8)
    scale = size_px / 2828
    best_ms: dict[str, float] = {}
    for name in sorted(TRANSFORMS):
        times = []
        for r in range(max(1, repeats)):
            start = time.perf_counter()
            apply_transform(image, name, 4, np.random.default_rng(r), scale)
            times.append((time.perf_counter() - start) * 1000.0)
        best_ms[name] = min(times)
    base = best_ms["blur"]
    result = {
        "size_px": size_px,
        "level": 4,
        "scale": scale,
        "best_ms": {k: round(v, 2) for k, v in best_ms.items()},
        "ratio_to_blur": {k: round(v / base, 2) for k, v in best_ms.items()},
    }
    if as_json:
        print_json(result)
    else:
        for name, ms in best_ms.items():
            console.print(f"{name:16s} {ms:9.1f} ms  ×{ms / base:5.2f} blur", markup=False)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this area's commands to the CLI."""
    app.command("synth")(synth)
    bench_app.command("synth")(bench_synth)
