"""Commands of the image-quality area: ``rig quality grade|rate|import-ratings|agreement|
simulate|baselines|export`` (docs/quality.md)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from rig.cli.common import JsonOption, console, print_json
from rig.errors import UsageError


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this area's commands to the CLI."""
    quality = typer.Typer(help="Image quality: automatic grades, human ratings, the model.",
                          no_args_is_help=True)
    quality.command("simulate")(simulate_command)
    app.add_typer(quality, name="quality")


def _progress(label: str) -> Progress:
    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("{task.speed}"),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True)


def simulate_command(
    outdir: Annotated[Path, typer.Argument(help="Label-set folder to write (or continue).")],
    patients: Annotated[int, typer.Option("--patients", help="Simulated patients.")] = 60,
    draws: Annotated[int, typer.Option("--draws", help="Draws per preset (0 = nominal).")] = 1,
    first_draw: Annotated[
        int, typer.Option("--first-draw", help="First draw (0 = the preset's nominal).")
    ] = 1,
    preset: Annotated[
        list[str] | None, typer.Option("--preset", help="Camera preset (repeatable; default all).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="First patient's seed.")] = 1,
    json_out: JsonOption = False,
) -> None:
    """Photograph simulated patients through the camera presets, register and grade them."""
    from rig.camsim import preset_names
    from rig.quality.labelset import existing_ids, write_label_set
    from rig.quality.simulated import job_id, plan_sweep, sweep

    if patients < 1 or draws < 1 or first_draw < 0:
        raise UsageError("--patients and --draws must be >= 1, --first-draw >= 0")
    names = preset or preset_names()
    unknown = sorted(set(names) - set(preset_names()))
    if unknown:
        raise UsageError(f"--preset: unknown {', '.join(unknown)} (bundled: "
                         f"{', '.join(preset_names())})")
    jobs = [(s, p, d + first_draw) for s, p, d in
            plan_sweep(names, range(seed, seed + patients), draws)]
    done = existing_ids(outdir)
    todo = [job for job in jobs if job_id(job) not in done]
    grades: Counter[str] = Counter()
    with _progress("simulate") as progress:
        task = progress.add_task("simulate", total=len(todo))

        def on_row(row: object) -> None:
            grades[str(getattr(row, "grade", None))] += 1
            progress.advance(task)

        written = write_label_set(outdir, sweep(todo), on_row)
    summary = {"output": str(outdir), "photos": len(jobs), "written": written,
               "skipped": len(jobs) - len(todo), "grades": dict(sorted(grades.items()))}
    if json_out:
        print_json(summary)
    else:
        console.print(f"wrote {written} photos to {outdir} ({len(jobs) - len(todo)} already "
                      f"there); grades {dict(sorted(grades.items()))}")
