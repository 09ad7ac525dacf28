"""Commands of the studies area: ``rig study screen-photo``.

torch is imported inside the commands, so ``rig --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rig.cli.common import JsonOption, ProjectOption, console, flag_value, print_json
from rig.cli.ml_cmds import DeviceOption, _export_for_training, _progress, _ProgressView
from rig.config import ExecutorConfig
from rig.errors import UsageError
from rig.project import locate_project


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this area's commands to the CLI."""
    study = typer.Typer(help="Studies that answer a research question end to end.", no_args_is_help=True)
    study.command("screen-photo")(screen_photo)
    app.add_typer(study, name="study")
    bench_app.command("study")(bench_study)


def screen_photo(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Study folder (resumed if it exists).")] = None,
    data: Annotated[Path | None, typer.Option("--data", help="Folder from 'rig export --format folders'.")] = None,
    project: ProjectOption = None,
    splits: Annotated[int, typer.Option("--splits", help="Patient-level splits K (each patient tested once).")] = 10,
    repeats: Annotated[int, typer.Option("--repeats", help="Training repeats R per split (different seeds).")] = 3,
    model: Annotated[str, typer.Option("--model", "-m", help="Classifier (xception as in the study).")] = "xception",
    labels: Annotated[str, typer.Option("--labels", help="Label columns (default: all but 'No Finding').")] = "",
    train_on: Annotated[str, typer.Option("--train-on", help="dicom (as in the study), photo, restored or mixed.")] = "dicom",
    policy: Annotated[str, typer.Option("--policy", help="u-ignore, u-zeros or u-ones.")] = "u-ignore",
    input_size: Annotated[int, typer.Option("--input-size", help="Classifier input side (0: the model's).")] = 0,
    epochs: Annotated[int, typer.Option("--epochs", help="Classifier epochs per run.")] = 10,
    steps: Annotated[int, typer.Option("--steps", help="Classifier steps per epoch (0: one pass).")] = 0,
    batch: Annotated[int, typer.Option("--batch", help="Classifier batch (0: the model's).")] = 0,
    restore_model: Annotated[str, typer.Option("--restore-model", help="Restoration model per split (dncnn as in the study).")] = "dncnn",
    restore_steps: Annotated[int, typer.Option("--restore-steps", help="Restoration optimiser steps per split.")] = 600,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the split assignment.")] = 0,
    device: DeviceOption = "auto",
    executor: Annotated[str | None, typer.Option(
        "--executor", help="Where the runs go: local (in order), processes (N at once here) or slurm "
        "(job arrays via submitit) [default: rig.toml [executor], else local].")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", help="Runs at once with --executor processes [default: one per core].")] = None,
    as_json: JsonOption = False,
) -> None:
    """The screen-photo study's protocol: K splits x R repeats, AUROC on dicom / photo / restored.

    Each run is its own resumable job in runs/split-KK/…; rerunning the command runs only
    the runs without a result.json, on whichever executor is named.
    """
    from rig.ml.executors import make_executor
    from rig.ml.labels import parse_label_names
    from rig.ml.models import model_entry
    from rig.ml.study import StudyConfig, run_study
    from rig.ml.study_report import table_markdown

    if output is None:
        raise UsageError("give the study folder with -o STUDY_DIR")
    model_entry(restore_model)
    names = parse_label_names(labels) if labels.strip() else ()
    config = StudyConfig(splits=splits, repeats=repeats, model=model, labels=names, train_on=train_on,
                         policy=policy, input_size=input_size, epochs=epochs, steps_per_epoch=steps,
                         batch=batch, restore_model=restore_model, restore_steps=restore_steps,
                         seed=seed, device=device)
    config.check()
    runner = make_executor(executor_config(project, executor, workers), output)
    if data is None:
        data = _export_for_training(project, output)
    with _progress(as_json) as progress:
        runs = progress.add_task("runs", total=None)  # done/total, rate and ETA over the study's runs
        summary = run_study(data, output, config,
                            on_status=lambda m: progress.console.print(m, markup=False),
                            on_event=_ProgressView(progress), executor=runner,
                            on_runs=lambda done, total: progress.update(runs, completed=done, total=total))
    if as_json:
        print_json(summary)
        return
    console.print(table_markdown(summary), markup=False)
    console.print(f"report: {summary['report']}", markup=False)


def executor_config(project: Path | None, kind: str | None, workers: int | None) -> ExecutorConfig:
    """rig.toml's ``[executor]`` (of --project, $RIG_PROJECT or the current folder, when
    there is one), overridden by ``--executor`` / ``--workers``."""
    from dataclasses import replace

    try:
        base = locate_project(project).config.executor
    except UsageError:
        if project is not None:
            raise
        base = ExecutorConfig()
    config = replace(base, kind=base.kind if kind is None else kind,
                     workers=base.workers if workers is None else workers)
    with flag_value():
        config.validate("--executor/--workers")
    return config


def bench_study(
    splits: Annotated[int, typer.Option("--splits", help="Patient-level splits K.")] = 2,
    repeats: Annotated[int, typer.Option("--repeats", help="Classifier repeats R per split.")] = 2,
    workers: Annotated[int, typer.Option("--workers", help="Processes of the processes executor.")] = 2,
    pairs: Annotated[int, typer.Option("--pairs", help="Generated pairs (one patient each).")] = 24,
    steps: Annotated[int, typer.Option("--steps", help="Classifier (tinycnn) steps per epoch, 2 epochs.")] = 10,
    restore_steps: Annotated[int, typer.Option("--restore-steps", help="DnCNN steps per split.")] = 30,
    work: Annotated[Path | None, typer.Option("--work", help="Folder for data and studies (data reused).")] = None,
    as_json: JsonOption = False,
) -> None:
    """The screen-photo study's wall time with --executor local vs processes (same runs, fixed
    steps), whether every run's result is identical, and the projected time on N GPUs."""
    import tempfile

    from rig.ml.studybench import StudyBenchPlan, run_study_bench

    if splits < 2 or repeats < 1 or workers < 1 or steps < 1 or restore_steps < 1 or pairs < 4 * splits:
        raise UsageError("need --splits >= 2, --repeats/--workers/--steps/--restore-steps >= 1 and "
                         "--pairs >= 4 x splits")
    plan = StudyBenchPlan(splits=splits, repeats=repeats, workers=workers, pairs=pairs, steps=steps,
                          restore_steps=restore_steps)
    folder = work or Path(tempfile.gettempdir()) / "rig-bench-study"
    with _progress(as_json) as progress:
        results = run_study_bench(folder, plan, on_status=lambda m: progress.console.print(m, markup=False),
                                  on_event=_ProgressView(progress))
    if as_json:
        print_json(results)
        return
    walls = results["wall_s"]
    console.print(f"local {walls['local']:.1f} s, processes x{workers} {walls['processes']:.1f} s "
                  f"(speed-up {results['speedup_processes_vs_local']:.2f}); largest difference per run: {max(results['results_max_difference'].values()):.2g}; identical: "
                  f"{results['all_identical']}", markup=False)
    full = results["projection_from_local_costs"]["full_protocol_10x3_s"]
    console.print("full 10x3 protocol projected: " + ", ".join(f"{n} slot(s) {s / 60:.1f} min"
                                                               for n, s in full.items()), markup=False)
