"""Commands of the studies area: ``rig study screen-photo``.

torch is imported inside the commands, so ``rig --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rig.cli.common import JsonOption, ProjectOption, console, print_json
from rig.cli.ml_cmds import DeviceOption, _export_for_training, _progress, _ProgressView
from rig.errors import UsageError


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this area's commands to the CLI."""
    study = typer.Typer(help="Studies that answer a research question end to end.", no_args_is_help=True)
    study.command("screen-photo")(screen_photo)
    app.add_typer(study, name="study")


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
    as_json: JsonOption = False,
) -> None:
    """The screen-photo study's protocol: K splits x R repeats, AUROC on dicom / photo / restored."""
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
    if data is None:
        data = _export_for_training(project, output)
    with _progress(as_json) as progress:
        summary = run_study(data, output, config,
                            on_status=lambda m: progress.console.print(m, markup=False),
                            on_event=_ProgressView(progress))
    if as_json:
        print_json(summary)
        return
    console.print(table_markdown(summary), markup=False)
    console.print(f"report: {summary['report']}", markup=False)
