"""Commands of the learning area: restoration (``rig train restore``, ``rig restore``,
``rig eval restore``, ``rig bench restore``) and diagnosis (``rig train classify``,
``rig classify``, ``rig eval classify``, ``rig bench classify``).

torch is imported inside the commands, so ``rig --help`` stays fast.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.progress import Progress

from rig.cli.common import (
    JsonOption,
    ProjectOption,
    console,
    flag_value,
    print_json,
    progress_bar,
    project_from,
)
from rig.errors import EXIT_PARTIAL, InputError, RigError, UsageError

if TYPE_CHECKING:
    from rig.ml.train import Event

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}
DeviceOption = Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")]


def _group(app: typer.Typer, name: str, help_text: str) -> typer.Typer:
    """The sub-app ``name`` of ``app`` (shared with other areas), created on first use."""
    for info in app.registered_groups:
        if info.name == name and info.typer_instance is not None:
            return info.typer_instance
    group = typer.Typer(help=help_text, no_args_is_help=True)
    app.add_typer(group, name=name)
    return group


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this area's commands to the CLI."""
    train = _group(app, "train", "Train models on paired datasets.")
    train.command("restore")(train_restore)
    train.command("classify")(train_classify)
    evaluate = _group(app, "eval", "Evaluate trained models.")
    evaluate.command("restore")(eval_restore)
    evaluate.command("classify")(eval_classify)
    app.command("restore")(restore_command)
    app.command("classify")(classify_command)
    bench_app.command("restore")(bench_restore)
    bench_app.command("classify")(bench_classify)
    app.command("shards")(write_shards_command)


def write_shards_command(
    data: Annotated[Path, typer.Argument(help="Folder from 'rig export --format folders'.")],
    out: Annotated[Path, typer.Option("--output", "-o", help="Folder for the shards (created).")],
    shard_size: Annotated[int, typer.Option("--shard-size", help="Pairs per shard.")] = 1000,
    as_json: JsonOption = False,
) -> None:
    """Write a folders export as WebDataset shards (<split>-NNNNNN.tar) for 'rig train restore --shards'."""
    from rig.ml.shards import pattern_of, write_shards

    if shard_size < 1:
        raise UsageError("--shard-size must be >= 1")
    written = write_shards(data, out, shard_size)
    patterns = {split: pattern_of(out, names) for split, names in written.items()}
    if as_json:
        print_json({"shards": written, "patterns": patterns})
        return
    for split, pattern in patterns.items():
        console.print(f"{split}: {len(written[split])} shard(s): {pattern}", markup=False)


class _ProgressView:
    """Renders training events as a rich progress bar on stderr."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("epoch 0", total=None)

    def __call__(self, event: Event) -> None:
        from rig.ml.trainer import EpochDone, StepDone, epoch_line

        if isinstance(event, StepDone):
            self.progress.update(self.task, total=event.steps, completed=event.step + 1,
                                 description=f"epoch {event.epoch} loss {event.loss:.5f}")
        elif isinstance(event, EpochDone):
            self.progress.console.print(epoch_line(event), markup=False)


def _progress(json_out: bool) -> Progress:
    """Done/total, rate and ETA on a terminal; silent under --json."""
    return progress_bar("{task.description}", json_out=json_out)


def train_restore(
    model: Annotated[str, typer.Option("--model", "-m", help="dncnn, dncnn-paper, unet or tonecurve.")] = "dncnn",
    data: Annotated[Path | None, typer.Option("--data", help="Folder from 'rig export --format folders'.")] = None,
    project: ProjectOption = None,
    run_dir: Annotated[Path | None, typer.Option("--output", "-o", help="Run folder to write.")] = None,
    epochs: Annotated[int, typer.Option("--epochs", help="Maximum epochs.")] = 20,
    steps: Annotated[int, typer.Option("--steps", help="Optimiser steps per epoch.")] = 100,
    budget_min: Annotated[float | None, typer.Option("--budget-min", help="Stop after this many minutes.")] = None,
    patch: Annotated[int, typer.Option("--patch", help="Patch side in px (0: model default).")] = 0,
    batch: Annotated[int, typer.Option("--batch", help="Batch size (0: model default).")] = 0,
    lr: Annotated[float, typer.Option("--lr", help="Learning rate (0: model default).")] = 0.0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of weights and patches.")] = 0,
    patience: Annotated[int, typer.Option("--patience", help="Early stopping: epochs without gain.")] = 5,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in -o from its last checkpoint.")] = False,
    device: DeviceOption = "auto",
    bf16: Annotated[bool, typer.Option("--bf16", help="bfloat16 autocast on CPU (faster on AVX512-BF16/AMX).")] = False,
    loss: Annotated[str, typer.Option("--loss", help="Training loss: mse or ssim-l1 (default: the model's).")] = "",
    clip_grad: Annotated[float, typer.Option("--clip-grad", help="Max gradient norm (0: none; default: the model's).")] = -1.0,
    input_norm: Annotated[str, typer.Option("--input-norm", help="Per-photo tone stretch before the model: percentile or none.")] = "percentile",
    shards: Annotated[str, typer.Option("--shards", help="Stream training pairs from WebDataset shards (local paths or URLs, brace patterns: 'd/train-{000000..000009}.tar'; 'rig shards' writes them).")] = "",
    valid_shards: Annotated[str, typer.Option("--valid-shards", help="Validation shards with --shards (default: the first training pairs).")] = "",
    loader_workers: Annotated[int, typer.Option("--loader-workers", help="DataLoader worker processes per training process.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Train a restoration model (registered photo -> displayed image) on a paired folder or shards."""
    from rig.ml.photonorm import InputNorm
    from rig.ml.train import TrainConfig, train_from_folder, train_from_shards

    if run_dir is None:
        raise UsageError("give the run folder with -o RUN_DIR")
    if loader_workers < 0:
        raise UsageError("--loader-workers must be >= 0")
    if data is None and not shards:
        data = _export_for_training(project, run_dir)
    config = TrainConfig(model=model, epochs=epochs, steps_per_epoch=steps, patch=patch, batch=batch,
                         lr=lr, seed=seed, budget_min=budget_min, patience=patience, device=device,
                         cpu_bf16=bf16, loss=loss, clip_grad=clip_grad,
                         input_norm=InputNorm(input_norm), num_workers=loader_workers)
    if shards:
        from rig.ml.shards import expand_shards

        with flag_value():  # a pattern naming no shard is a wrong flag value (exit 2)
            for pattern in (shards, valid_shards):
                if pattern:
                    expand_shards(pattern)
    with _progress(as_json) as progress:
        if shards:
            result = train_from_shards(shards, run_dir, config, valid_pattern=valid_shards, resume=resume,
                                       on_event=_ProgressView(progress))
        else:
            assert data is not None
            result = train_from_folder(data, run_dir, config, resume=resume, on_event=_ProgressView(progress))
    facts = result.to_json()
    if os.environ.get("RANK", "0") != "0":
        return  # under torchrun only rank 0 reports
    if as_json:
        print_json(facts)
    else:
        console.print(f"{model}: {result.epochs_done} epoch(s), best validation PSNR "
                      f"{result.best_val_psnr:.2f} dB / SSIM {result.best_val_ssim:.3f}, stopped by {result.stop_reason}; run in {run_dir}",
                      markup=False)


def _export_for_training(project: Path | None, run_dir: Path) -> Path:
    """The project's verified pairs as a folders export in RUN_DIR/data.

    Exported once and then kept: a resumed run must see the same pairs (its checkpoint
    holds their fingerprint), and the run folder stays self-contained for evaluation.
    """
    from rig.export.run import ExportOptions, export

    try:
        located = project_from(project)
    except UsageError:
        if project is not None:
            raise
        raise UsageError("give the pairs with --data DIR (from 'rig export --format folders') "
                         "or --project P (its verified pairs are exported into RUN_DIR/data)") from None
    out = run_dir / "data"
    if (out / "manifest.csv").is_file():
        console.print(f"training on the pairs exported earlier to {out}", markup=False)
        return out
    card = export(located, ExportOptions(out, "folders"))
    sizes = ", ".join(f"{s}: {v['pairs']}" for s, v in card["split_sizes"].items())
    console.print(f"exported {card['counts']['pairs']} verified pairs ({sizes}) of "
                  f"{located.root} to {out}", markup=False)
    return out


def _inputs(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        elif p.is_file():
            files.append(p)
        else:
            raise UsageError(f"{p}: no such file or folder")
    if not files:
        raise InputError("no images found in the given inputs")
    return files


def _run_folder(run_dir: Path) -> Path:
    """The run folder named on the command line; a missing one is a usage error (2)."""
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: no such run folder (give the -o folder of 'rig train restore')")
    return run_dir


def _not_registered(files: list[Path], project: Path | None) -> list[Path]:
    """The inputs whose bytes are no aligned photo of the project (none without a project)."""
    from rig.project import locate_project
    from rig.store.objects import sha256_bytes

    try:
        db = locate_project(project).db()
    except UsageError:
        return []
    try:
        aligned = {r["aligned_sha256"] for r in db.query(
            "SELECT aligned_sha256 FROM registrations WHERE aligned_sha256 IS NOT NULL")}  # fmt: skip
    finally:
        db.close()
    return [f for f in files if sha256_bytes(f.read_bytes()) not in aligned]


def restore_command(
    run_dir: Annotated[Path, typer.Argument(help="Run folder of 'rig train restore'.")],
    inputs: Annotated[list[Path], typer.Argument(help="Registered photos, or folders of them (raw screen photos with --frame).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for restored PNGs.")],
    frame: Annotated[Path | None, typer.Option("--frame", help="Screen frame PNG the photos show: register them to it first.")] = None,
    tile: Annotated[int, typer.Option("--tile", help="Tile side in px.")] = 512,
    device: DeviceOption = "auto",
    as_json: JsonOption = False,
    project: ProjectOption = None,
) -> None:
    """Restore photos with a trained model; writes OUT/<name>.png (8-bit gray).

    Raw photos of a rig screen are registered to --frame first; one that shows the
    fiducial border without --frame, or does not register, is refused with a warning
    (the others are still restored; exit 1, or 3 when none was). Without --frame, with a
    project (--project, $RIG_PROJECT or the current folder), an input that is not one of
    its registered (aligned) photos gets a one-line warning.
    """
    import time

    from rig.ml.checkpoint import load_run_model, run_input_norm
    from rig.ml.data import write_png
    from rig.ml.infer import TileConfig, restore_array, to_uint8
    from rig.ml.photos import read_photo_input
    from rig.ml.train import pick_device

    if tile < 32:
        raise UsageError("--tile must be >= 32")
    files = _inputs(inputs)
    for f in _not_registered(files, project) if frame is None else []:
        console.print(f"warning: {f}: not a registered photo of this project (register it "
                      "first: 'rig register-photo'); restoring it as it is", markup=False,
                      soft_wrap=True)  # fmt: skip
    dev = pick_device(device)
    model, meta = load_run_model(_run_folder(run_dir), dev)
    norm = run_input_norm(meta)
    written, registered, refused = [], 0, []
    megapixels, infer_s = 0.0, 0.0
    with _progress(as_json) as progress:
        task = progress.add_task("restore", total=len(files))
        for f in files:
            try:
                photo, was_registered = read_photo_input(f, frame)
            except InputError as exc:
                refused.append(str(exc))
                progress.console.print(f"warning: {exc}", markup=False)
                progress.advance(task)
                continue
            registered += was_registered
            start = time.perf_counter()
            restored = to_uint8(restore_array(model, photo, dev, TileConfig(tile=tile), norm))
            infer_s += time.perf_counter() - start
            megapixels += photo.size / 1e6
            target = output / f"{f.stem}.png"
            write_png(target, restored)
            written.append(str(target))
            progress.advance(task)
    mpx_s = round(megapixels / infer_s, 3) if infer_s > 0 else None
    if as_json:
        print_json({"model": meta["model_name"], "written": written, "registered": registered,
                    "refused": refused, "megapixels": round(megapixels, 3), "mpx_per_s": mpx_s})
    else:
        console.print(f"restored {len(written)} image(s) with {meta['model_name']} into {output} "
                      f"({registered} registered first; {megapixels:.2f} MP at {mpx_s or 0:.2f} MP/s)",
                      markup=False)
    if refused:  # some restored: partly done (1); none: rejected (3)
        message = f"{len(refused)} of {len(files)} photo(s) not restored: {refused[0]}"
        raise RigError(message, exit_code=EXIT_PARTIAL) if written else InputError(message)


def eval_restore(
    run_dir: Annotated[Path, typer.Argument(help="Run folder of 'rig train restore'.")],
    split: Annotated[list[str] | None, typer.Option("--split", help="train, valid, test or all (repeatable).")] = None,
    data: Annotated[Path | None, typer.Option("--data", help="Paired folder (default: the run's).")] = None,
    report_dir: Annotated[Path | None, typer.Option("--report", help="Write report.md, metrics.json and plots here.")] = None,
    device: DeviceOption = "auto",
    as_json: JsonOption = False,
) -> None:
    """PSNR/SSIM before and after restoration, per split, in the published table's layout."""
    from rig.ml.data import SPLITS
    from rig.ml.evaluate import evaluate_run, table_markdown
    from rig.ml.train import pick_device

    chosen = tuple(SPLITS) if split and "all" in split else tuple(split or ["test"])
    bad = [s for s in chosen if s not in SPLITS]
    if bad:
        raise UsageError(f"--split {bad[0]}: use train, valid, test or all")
    with _progress(as_json) as progress:
        task = progress.add_task("evaluate", total=None)
        report, manifest = evaluate_run(_run_folder(run_dir), data, chosen, pick_device(device),
                                        on_image=lambda _s: progress.advance(task))
    if report_dir is not None:
        from rig.ml.restore_report import write_report

        write_report(report, manifest, run_dir, report_dir)
    if as_json:
        print_json(report.to_json())
    else:
        console.print(f"model {report.model}\n" + table_markdown(report.splits), markup=False)
        if report_dir is not None:
            console.print(f"report: {report_dir / 'report.md'}", markup=False)


RunOption = Annotated[Path, typer.Option("--run", help="Run folder of 'rig train classify'.")]
RestoreOption = Annotated[Path | None, typer.Option(
    "--restore", help="Restoration run (rig train restore) for the restored view.")]


def train_classify(
    labels: Annotated[str, typer.Option("--labels", help="Label columns, comma-separated (L1,L2).")],
    run_dir: Annotated[Path | None, typer.Option("--output", "-o", help="Run folder to write.")] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="xception, densenet121, resnet18, efficientnet_b0 or tinycnn.")] = "resnet18",
    data: Annotated[Path | None, typer.Option("--data", help="Folder from 'rig export --format folders'.")] = None,
    project: ProjectOption = None,
    train_on: Annotated[str, typer.Option("--train-on", help="dicom, photo, restored or mixed.")] = "dicom",
    policy: Annotated[str, typer.Option("--policy", help="Uncertain labels: u-ignore, u-zeros or u-ones.")] = "u-ignore",
    restore: RestoreOption = None,
    input_size: Annotated[int, typer.Option("--input-size", help="Input side in px (0: the model's; 224, 299, 320).")] = 0,
    weights: Annotated[Path | None, typer.Option("--weights", help="Pretrained weights from a local file (never downloaded).")] = None,
    epochs: Annotated[int, typer.Option("--epochs", help="Epochs.")] = 10,
    steps: Annotated[int, typer.Option("--steps", help="Optimiser steps per epoch (0: one pass over the images).")] = 0,
    batch: Annotated[int, typer.Option("--batch", help="Batch size (0: model default).")] = 0,
    lr: Annotated[float, typer.Option("--lr", help="Learning rate (0: model default).")] = 0.0,
    budget_min: Annotated[float | None, typer.Option("--budget-min", help="Stop after this many minutes (a quick look: the steps then depend on the machine).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of weights, sampling and augmentation.")] = 0,
    patience: Annotated[int, typer.Option("--patience", help="Early stopping: epochs without a validation gain.")] = 5,
    no_augment: Annotated[bool, typer.Option("--no-augment", help="Train without random augmentation.")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in -o from its last checkpoint.")] = False,
    device: DeviceOption = "auto",
    bf16: Annotated[bool, typer.Option("--bf16", help="bfloat16 autocast on CPU.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Train a diagnosis classifier on a dataset's labels (views: dicom, photo, restored)."""
    from rig.ml.classify import ClassifyConfig, train_classifier
    from rig.ml.labels import parse_label_names

    if run_dir is None:
        raise UsageError("give the run folder with -o RUN_DIR")
    names = parse_label_names(labels)
    if data is None:
        data = _export_for_training(project, run_dir)
    config = ClassifyConfig(model=model, labels=names, policy=policy, train_on=train_on,
                            input_size=input_size, weights=str(weights or ""),
                            restore_run=str(restore or ""), augment=not no_augment, epochs=epochs,
                            steps_per_epoch=steps, batch=batch, lr=lr, seed=seed,
                            budget_min=budget_min, patience=patience, device=device, cpu_bf16=bf16)
    with _progress(as_json) as progress:
        result = train_classifier(data, run_dir, config, resume=resume,
                                  on_event=_ProgressView(progress))
    if os.environ.get("RANK", "0") != "0":
        return
    if as_json:
        print_json(result.to_json())
    else:
        best = result.best.get("val_auroc", float("nan"))
        console.print(f"{model}: {result.epochs_done} epoch(s), {result.steps_done} steps, best "
                      f"validation AUROC {best:.3f}, stopped by {result.stop_reason}; run in {run_dir}",
                      markup=False)


def eval_classify(
    run_dir: RunOption,
    restore: RestoreOption = None,
    views: Annotated[str, typer.Option("--views", help="Views to score: dicom,photo,restored.")] = "dicom,photo,restored",
    data: Annotated[Path | None, typer.Option("--data", help="Dataset folder (default: the run's).")] = None,
    split: Annotated[str, typer.Option("--split", help="Split to evaluate (train, valid, test).")] = "test",
    report_dir: Annotated[Path | None, typer.Option("--report", help="Write report.md, metrics.json, scores.csv and figures here.")] = None,
    device: DeviceOption = "auto",
    as_json: JsonOption = False,
) -> None:
    """AUROC per label and view with patient-level 95 % CIs, paired DeLong tests, Youden operating points."""
    from rig.ml.classify_report import summary_line, write_classify_report
    from rig.ml.clseval import evaluate_classifier
    from rig.ml.data import SPLITS
    from rig.ml.train import pick_device
    from rig.ml.views import parse_views

    chosen = parse_views(views)
    if split not in SPLITS:
        raise UsageError(f"--split {split}: use train, valid or test")
    with _progress(as_json) as progress:
        task = progress.add_task("score", total=None)
        result = evaluate_classifier(run_dir, data, restore, chosen, split, pick_device(device),
                                     on_image=lambda: progress.advance(task))
    if report_dir is not None:
        write_classify_report(result, report_dir)
    if as_json:
        print_json(result.to_json())
        return
    console.print(f"{result.model} on {result.split} ({len(result.records)} images)\n"
                  + summary_line(result), markup=False)
    for view, why in result.skipped_views.items():
        console.print(f"{view}: n/a ({why})", markup=False)
    if report_dir is not None:
        console.print(f"report: {report_dir / 'report.md'}", markup=False)


def classify_command(
    images: Annotated[list[Path], typer.Argument(help="DICOMs, registered photos, or photos of a rig screen (with --frame).")],
    run_dir: RunOption,
    restore: RestoreOption = None,
    frame: Annotated[Path | None, typer.Option("--frame", help="Screen frame PNG the photos show: register them first.")] = None,
    device: DeviceOption = "auto",
    as_json: JsonOption = False,
) -> None:
    """Probabilities per label for DICOMs or photos (photos registered and restored first if asked)."""
    from rig.ml.diagnose import Diagnoser
    from rig.ml.train import pick_device

    diagnoser = Diagnoser(run_dir, restore, pick_device(device))
    results = [diagnoser.score_file(path, frame) for path in images]
    if as_json:
        print_json({"run": str(run_dir), "labels": diagnoser.labels, "images": results})
        return
    for r in results:
        probs = ", ".join(f"{k} {v:.3f}" for k, v in r["probabilities"].items())
        console.print(f"{r['file']} ({r['view']}): {probs}", markup=False)


SeedsOption = Annotated[int, typer.Option("--seeds", help="Seeds per model (0, 1, ... n-1); spread and paired differences over them.")]
QuickOption = Annotated[bool, typer.Option("--quick", help="The same structure on tiny data at a fraction of the steps (plumbing, not numbers).")]


PlanT = TypeVar("PlanT")


def _with_budget(plan: PlanT, budget_min: float | None) -> PlanT:
    """The plan with minutes instead of steps (a quick look), if asked."""
    from dataclasses import replace

    if budget_min is None:
        return plan
    if budget_min <= 0:
        raise UsageError("--budget-min must be > 0")
    return replace(plan, budget_min=budget_min)  # type: ignore[type-var]


def _run_bench(runner: Callable[..., dict[str, Any]], plan: object, folder: Path,
               json_out: bool) -> dict[str, Any]:
    with _progress(json_out) as progress:
        return runner(folder, plan, on_status=lambda m: progress.console.print(m, markup=False),
                      on_event=_ProgressView(progress))


def _print_bench_meta(meta: dict[str, object]) -> None:
    machine = meta["machine"]
    assert isinstance(machine, dict)
    console.print(f"mode: {meta['mode']}; seeds {meta['seeds']}; {machine['cpu_model']}, "
                  f"{machine['cpu_cores']} cores, {machine['torch_threads']} torch threads; "
                  f"command: {meta['command']}", markup=False)
    goals = meta.get("goals") or []
    assert isinstance(goals, list)
    for g in goals:
        console.print(f"{'met' if g['met'] else 'NOT met'} (every seed): {g['goal']} {g['values']}",
                      markup=False)


def bench_restore(
    pairs: Annotated[int, typer.Option("--pairs", help="Simulated photo pairs (>= 10).")] = 60,
    seeds: SeedsOption = 3,
    models: Annotated[list[str] | None, typer.Option("--model", help="Model to include (repeatable; default all).")] = None,
    quick: QuickOption = False,
    budget_min: Annotated[float | None, typer.Option("--budget-min", help="Train for minutes instead of fixed steps (a quick look: results then depend on the machine).")] = None,
    bf16: Annotated[bool, typer.Option("--bf16", help="bfloat16 autocast (faster where the CPU has it; not comparable across CPUs).")] = False,
    cross_presets: Annotated[list[str] | None, typer.Option("--cross-preset", help="Also test under this camsim preset (repeatable; default every other preset; 'none' for none).")] = None,
    no_real: Annotated[bool, typer.Option("--no-real", help="Skip the real public radiographs test set.")] = False,
    preset: Annotated[str, typer.Option("--preset", help="Camsim preset of the training (and own test) photos: one row of the cross-preset matrix.")] = "paper-lcd-iphone",
    no_chexphoto: Annotated[bool, typer.Option("--no-chexphoto", help="Skip the CheXphoto-chain test set (glare, moire, tilt registered through the fiducials).")] = False,
    steps: Annotated[list[str] | None, typer.Option("--steps", help="MODEL=N: optimiser steps for that model instead of its default (repeatable; fixed work).")] = None,
    image_px: Annotated[str | None, typer.Option("--image-px", help="ROWSxCOLUMNS of the simulated images instead of 720x600 (a run sized to a busy machine).")] = None,
    work: Annotated[Path | None, typer.Option("--work", help="Folder for data and runs (kept; data reused).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Train every restoration model on every seed for a fixed number of steps; evaluate on fixed simulated data,
    the same test patients under other camera presets, real public radiographs and CheXphoto's photographic chain."""
    from dataclasses import replace

    from rig.ml.bench import BENCH_MODELS, RestoreBenchPlan, run_bench
    from rig.ml.benchkit import seeds_of
    from rig.ml.models import model_entry

    chosen = tuple(models or BENCH_MODELS)
    for name in chosen:
        model_entry(name)
    seed_list = seeds_of(seeds)
    plan = RestoreBenchPlan.quick_plan(chosen, seed_list) if quick else RestoreBenchPlan(chosen, seed_list)
    if not quick:
        if pairs < 10:
            raise UsageError("--pairs must be >= 10 (train, valid and test need pairs)")
        plan = replace(plan, pairs=pairs)
    from rig.camsim import preset_names

    if preset not in preset_names():
        raise UsageError(f"--preset {preset}: choose from {', '.join(preset_names())}")
    plan = replace(_with_budget(plan, budget_min), bf16=bf16, real=not no_real, preset=preset,
                   steps={**plan.steps, **_model_steps(steps or [], chosen)},
                   image_px=_image_px(image_px) if image_px else None)
    if no_chexphoto:
        plan = replace(plan, chexphoto=None)
    if cross_presets:
        chosen_presets = tuple(p for p in cross_presets if p != "none")
        unknown = sorted(set(chosen_presets) - set(preset_names()))
        if unknown:
            raise UsageError(f"--cross-preset {unknown[0]}: choose from {', '.join(preset_names())}")
        plan = replace(plan, cross_presets=chosen_presets)
    results = _run_bench(run_bench, plan, work or Path(tempfile.gettempdir()) / "rig-bench-restore",
                         as_json)
    if as_json:
        print_json(results)
        return
    meta = results.pop("bench")
    for name, r in results.items():
        console.print(
            f"{name:12s} {r['steps']:5d} steps: test PSNR {r['psnr_before']:.2f} -> "
            f"{r['psnr_after']:.2f} ± {r['psnr_after_sd']:.2f} dB, SSIM {r['ssim_before']:.3f} -> "
            f"{r['ssim_after']:.3f} ± {r['ssim_after_sd']:.3f} ({len(r['per_seed'])} seeds), "
            f"{r['steps_per_s'] or 0:.2f} steps/s, {r['throughput_mpx_s']:.3f} MP/s", markup=False)
        for set_name, f in r["sets"].items():
            console.print(f"{'':12s} {set_name}: PSNR {f['psnr_before']:.2f} -> {f['psnr_after']:.2f} dB "
                          f"(drop {f['drop_db']['mean'] or 0:.2f} dB vs own test), SSIM {f['ssim_after']:.3f}, "
                          f"n {f['n_test']}", markup=False)
    chain = meta["data"].get("chexphoto")
    if chain:
        console.print(f"chexphoto ({'+'.join(chain['chain'])}, level {chain['level']}): {chain['registered']} of "
                      f"{chain['photos']} photos registered through the fiducials"
                      + "".join(f"\n  left out {line}" for line in chain["unregistered"]), markup=False)
    _print_bench_meta(meta)


def _model_steps(values: list[str], models: tuple[str, ...]) -> dict[str, int]:
    """``--steps MODEL=N`` options as a dict (one-line usage errors)."""
    out: dict[str, int] = {}
    for value in values:
        name, _, count = value.partition("=")
        if name not in models or not count.isdigit() or int(count) < 1:
            raise UsageError(f"--steps {value}: give MODEL=N with N >= 1 and MODEL one of {', '.join(models)}")
        out[name] = int(count)
    return out


def _image_px(value: str) -> tuple[int, int]:
    rows, _, columns = value.lower().partition("x")
    if not (rows.isdigit() and columns.isdigit()) or min(int(rows), int(columns)) < 64:
        raise UsageError(f"--image-px {value}: give ROWSxCOLUMNS, each >= 64 (e.g. 360x300)")
    return int(rows), int(columns)


def bench_classify(
    pairs: Annotated[int, typer.Option("--pairs", help="Simulated patients, one photo pair each (>= 20).")] = 240,
    seeds: SeedsOption = 3,
    models: Annotated[list[str] | None, typer.Option("--model", help="Classifier to include (repeatable; default resnet18 and xception).")] = None,
    input_size: Annotated[int, typer.Option("--input-size", help="Input side in px for every model.")] = 224,
    steps: Annotated[int, typer.Option("--steps", help="Optimiser steps per classifier run (batch 16).")] = 400,
    restore_model: Annotated[str, typer.Option("--restore-model", help="Restoration model for the restored view.")] = "unet",
    quick: QuickOption = False,
    budget_min: Annotated[float | None, typer.Option("--budget-min", help="Train for minutes instead of fixed steps (a quick look).")] = None,
    work: Annotated[Path | None, typer.Option("--work", help="Folder for data and runs (kept; data reused).")] = None,
    as_json: JsonOption = False,
) -> None:
    """AUROC on the dicom, photo and restored views per classifier, every seed, fixed steps, fixed simulated data."""

    from rig.ml.benchkit import seeds_of
    from rig.ml.clsbench import BENCH_MODELS, ClassifyBenchPlan, run_classify_bench
    from rig.ml.models import model_entry

    chosen = tuple(models or BENCH_MODELS)
    seed_list = seeds_of(seeds)
    model_entry(restore_model)
    if quick:
        plan = ClassifyBenchPlan.quick_plan(chosen, seed_list)
    else:
        if pairs < 20:
            raise UsageError("--pairs must be >= 20 (each split needs patients of both classes)")
        if steps < 1 or input_size < 32:
            raise UsageError("--steps must be >= 1 and --input-size >= 32")
        plan = ClassifyBenchPlan(chosen, seed_list, pairs=pairs, input_size=input_size, steps=steps,
                                 restore_model=restore_model)
    plan = _with_budget(plan, budget_min)
    results = _run_bench(run_classify_bench, plan,
                         work or Path(tempfile.gettempdir()) / "rig-bench-classify", as_json)
    if as_json:
        print_json(results)
        return
    meta = results.pop("bench")
    for name, r in results.items():
        cells = ", ".join(f"{v} {r[f'auroc_{v}'] or float('nan'):.3f} ± {r[f'auroc_{v}_spread']['sd'] or 0:.3f}"
                          for v in ("dicom", "photo", "restored"))
        console.print(f"{name:16s} AUROC {cells} ({len(r['per_seed'])} seeds, {r['steps']} steps); "
                      f"train {r['train_images_per_s']:.1f} img/s, inference {r['infer_images_per_s']:.1f} img/s",
                      markup=False)
    _print_bench_meta(meta)
