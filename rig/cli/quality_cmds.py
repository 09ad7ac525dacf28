"""Commands of the image-quality area: ``rig quality grade|rate|import-ratings|agreement|
simulate|baselines|score|export``, ``rig train quality``, ``rig eval quality`` and
``rig bench quality`` (docs/quality.md)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from rig.cli.common import JsonOption, ProjectOption, console, print_json, project_from
from rig.errors import InputError, UsageError

if TYPE_CHECKING:
    from rig.ml.models.quality import QualityMIL

SessionOption = Annotated[
    list[str] | None,
    typer.Option("--session", help="Session id (repeatable; default: every session)."),
]


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this area's commands to the CLI."""
    quality = typer.Typer(help="Image quality: automatic grades, human ratings, the model.",
                          no_args_is_help=True)
    quality.command("grade")(grade_command)
    quality.command("rate")(rate_command)
    quality.command("import-ratings")(import_ratings_command)
    quality.command("agreement")(agreement_command)
    quality.command("score")(score_command)
    quality.command("export")(export_command)
    quality.command("simulate")(simulate_command)
    quality.command("baselines")(baselines_command)
    app.add_typer(quality, name="quality")
    from rig.cli.ml_cmds import _group

    _group(app, "train", "Train models on paired datasets.").command("quality")(train_quality_command)
    _group(app, "eval", "Evaluate trained models.").command("quality")(eval_quality_command)
    bench_app.command("quality")(bench_quality_command)


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


def grade_command(
    session: SessionOption = None,
    project: ProjectOption = None,
    json_out: JsonOption = False,
) -> None:
    """Compute and store the automatic grades of the verified pairs (rig.toml [quality])."""
    from rig.quality.project_grades import grade_project

    proj = project_from(project)
    with _progress("grade") as progress:
        task = progress.add_task("grade", total=None)
        summary = grade_project(
            proj, session or [], proj.config.quality,
            on_pair=lambda _: progress.advance(task),
            on_total=lambda n: progress.update(task, total=n))
    if json_out:
        print_json(summary)
        return
    g = summary["grades"]
    console.print(f"graded {summary['pairs']} verified pairs: 4 good {g['4']}, 3 acceptable "
                  f"{g['3']}, 2 poor {g['2']}, 1 unusable {g['1']}; "
                  f"{summary['below_min_grade']} below min_grade {summary['min_grade']}")
    for figure, count in summary["reasons"].items():
        console.print(f"  {figure}: {count}")


def rate_command(
    rater: Annotated[str, typer.Option("--rater", help="Your rater name (kept per project).")],
    session: SessionOption = None,
    project: ProjectOption = None,
) -> None:
    """Grade photos 1-4 in a window, blind to the figures and other raters (resumable)."""
    import os
    import sys

    from rig.quality.rating_session import open_rating_session

    if (sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM")
            and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))):
        raise UsageError("rig quality rate needs a display: run it in a desktop session "
                         "(or under xvfb-run), or rate elsewhere and use import-ratings")
    try:
        from rig.gui.quality_rater import run_rater
    except ImportError as exc:
        raise UsageError(f"the rater needs PyQt6: pip install 'rig[gui]' ({exc})") from exc
    rating = open_rating_session(project_from(project), rater, session or [])
    if rating.current is None:
        console.print(f"{rating.rater} has rated all {rating.total} photos")
        return
    raise typer.Exit(run_rater(rating))


def import_ratings_command(
    csv_path: Annotated[Path, typer.Argument(help="CSV with columns rater,photo,grade.")],
    project: ProjectOption = None,
    json_out: JsonOption = False,
) -> None:
    """Import human grades (photo = the exported pair id, grade 1-4)."""
    from rig.export.pairs import select_pairs
    from rig.quality.ratings import parse_ratings_csv
    from rig.quality.store import save_ratings

    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{csv_path}: cannot read ({exc})") from exc
    ratings = parse_ratings_csv(text, str(csv_path))
    proj = project_from(project)
    db = proj.db()
    try:
        known = {p.pair_id for p in select_pairs(db, [])}
        for r in ratings:
            if r.photo not in known:
                raise InputError(f"{csv_path} line {r.line}: photo '{r.photo}' is not a verified "
                                 "pair of this project (use the exported pair id)")
        count = save_ratings(db, ratings, f"import:{csv_path.name}")
    finally:
        db.close()
    raters = sorted({r.rater for r in ratings})
    if json_out:
        print_json({"ratings": count, "raters": raters, "photos": len({r.photo for r in ratings})})
    else:
        console.print(f"imported {count} ratings by {len(raters)} rater(s)")


def agreement_command(
    min_common: Annotated[
        int, typer.Option("--min-common", help="Photos two raters need in common.")] = 1,
    project: ProjectOption = None,
    json_out: JsonOption = False,
) -> None:
    """Inter-rater agreement (quadratic weighted kappa) and automatic vs human consensus."""
    from rig.quality.ratings import agreement, consensus, inter_rater
    from rig.quality.store import load_grades, load_ratings

    db = project_from(project).db()
    try:
        ratings, grades = load_ratings(db), load_grades(db)
    finally:
        db.close()
    human = consensus(ratings)
    auto = {photo: int(g["grade"]) for photo, g in grades.items()}
    report: dict[str, Any] = {"ratings": len(ratings), "photos_rated": len(human),
              "inter_rater": inter_rater(ratings, min_common),
              "automatic_vs_consensus": agreement(auto, human).to_dict(),
              "consensus_grades": {str(g): sum(1 for v in human.values() if v == g)
                                   for g in (1, 2, 3, 4)}}
    if json_out:
        print_json(report)
        return
    ir, ac = report["inter_rater"], report["automatic_vs_consensus"]
    mean = "n/a" if ir["mean_qwk"] is None else f"{ir['mean_qwk']:.3f}"
    console.print(f"{len(ratings)} ratings of {len(human)} photos by {ir['raters']} raters; "
                  f"mean pairwise QWK {mean}")
    console.print(f"automatic vs consensus on {ac['photos']} photos: QWK {ac['qwk']:.3f}, "
                  f"exact {ac['exact']:.0%}, within one grade {ac['within_one']:.0%}")


def _load_model(run: Path) -> QualityMIL:
    from rig.quality.onnx_export import load_quality_checkpoint

    if run.is_dir():
        for name in ("best.pt", "last.pt", "quality.pt"):
            if (run / name).is_file():
                return load_quality_checkpoint(run / name)
        raise InputError(f"{run}: no best.pt, last.pt or quality.pt checkpoint in the run")
    return load_quality_checkpoint(run)


RunOption = Annotated[
    Path, typer.Option("--run", help="Run folder or checkpoint file {config, model}.")]


def export_command(
    run: RunOption,
    output: Annotated[Path, typer.Option("--output", "-o", help="ONNX file to write.")],
    json_out: JsonOption = False,
) -> None:
    """Export the quality model (tiles -> grade probabilities, attention) to ONNX."""
    import numpy as np

    from rig.quality.onnx_export import check_onnx_parity, export_onnx

    model = _load_model(run)
    export_onnx(model, output)
    tiles = np.random.default_rng(0).random((3, model.cfg.in_chans, model.cfg.patch,
                                              model.cfg.patch)).astype(np.float32)
    diff = check_onnx_parity(model, output, tiles)
    out = {"output": str(output), "backbone": model.cfg.backbone, "patch": model.cfg.patch,
           "max_abs_diff_vs_torch": diff}
    if json_out:
        print_json(out)
    else:
        console.print(f"wrote {output} ({model.cfg.backbone}, {model.cfg.patch}px tiles; "
                      f"onnxruntime vs PyTorch max |diff| {diff:.2e})")


def score_command(
    photos: Annotated[list[Path], typer.Argument(help="Photos (JPEG/PNG), scored as taken.")],
    run: RunOption,
    heatmap_dir: Annotated[
        Path | None, typer.Option("--heatmap-dir", help="Write <photo>.heatmap.png here.")
    ] = None,
    k_star: Annotated[
        int, typer.Option("--k-star", help="P(bad) = P(grade <= k*).", min=1, max=3)] = 2,
    json_out: JsonOption = False,
) -> None:
    """Grade photos with the no-reference model: grade, P(bad) and a heat map."""
    import cv2

    from rig.atomic import write_bytes_atomic
    from rig.imaging.screen import read_photo
    from rig.ml.models.quality import predict
    from rig.quality.heatmap import heatmap_overlay
    from rig.quality.patches import to_tiles

    model = _load_model(run)
    results = []
    for path in photos:
        image = read_photo(path)
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        tiles, boxes = to_tiles(gray, model.cfg.patch)
        pred = predict(model, tiles, k_star)
        row = {"photo": str(path), **pred.to_dict(), "tiles": len(tiles)}
        if heatmap_dir is not None:
            ok, png = cv2.imencode(".png", heatmap_overlay(gray, pred.attention, boxes))
            if not ok:
                raise InputError(f"{path}: heat map encoding failed")
            target = heatmap_dir / f"{path.stem}.heatmap.png"
            write_bytes_atomic(target, bytes(png))
            row["heatmap"] = str(target)
        results.append(row)
    if json_out:
        print_json({"photos": results, "k_star": k_star})
        return
    for row in results:
        console.print(f"{row['photo']}: grade {row['grade']}, P(bad) {row['p_bad']:.3f}")


def baselines_command(
    labelset: Annotated[Path, typer.Argument(help="Label set from 'rig quality simulate'.")],
    min_grade: Annotated[int, typer.Option("--min-grade", help="Bad = grade below this.")] = 3,
    valid_fraction: Annotated[
        float, typer.Option("--valid-fraction", help="Patients used to pick thresholds.")] = 0.3,
    seed: Annotated[int, typer.Option("--seed", help="Split and bootstrap seed.")] = 0,
    pristine: Annotated[
        int, typer.Option("--pristine", help="Ground truths NIQE's model is fitted on (0: no NIQE).")
    ] = 8,
    roc: Annotated[Path | None, typer.Option("--roc", help="Write the ROC plot PNG.")] = None,
    json_out: JsonOption = False,
) -> None:
    """No-reference baselines (Laplacian variance, saturation, NIQE) vs the automatic grades."""
    from rig.quality.baseline_eval import evaluate_baselines
    from rig.quality.labelset import read_label_set

    if not 2 <= min_grade <= 4 or not 0 < valid_fraction < 1:
        raise UsageError("--min-grade must be 2..4 and --valid-fraction in (0, 1)")
    rows = read_label_set(labelset)
    with _progress("baselines") as progress:
        task = progress.add_task("baselines", total=sum(r.grade is not None for r in rows))
        result = evaluate_baselines(labelset, rows, min_grade, valid_fraction, seed, pristine,
                                    on_photo=lambda: progress.advance(task), roc_png=roc)
    if json_out:
        print_json(result)
        return
    console.print(f"{result['photos']} graded photos ({result['bad']} bad), test "
                  f"{result['test_photos']} photos")
    for name, t in result["baselines"].items():
        console.print(f"  {name}: AUC {t['auc']:.3f} ({t['auc_ci'][0]:.3f}-{t['auc_ci'][1]:.3f}), "
                      f"sens {t['sensitivity']:.3f}, spec {t['specificity']:.3f}, "
                      f"PPV {t['ppv']:.3f}, NPV {t['npv']:.3f}")


def _quality_data(project: Path | None, data: Path | None, labels: str, run_dir: Path) -> Path:
    """The label set to train on: ``--data``, or the project's pairs exported into the run."""
    from rig.quality.project_labels import export_project_labels
    from rig.quality.training import LABEL_MODES

    if labels not in LABEL_MODES:
        raise UsageError(f"--labels {labels}: use auto, human or both")
    if data is not None:
        if project is not None:
            raise UsageError("give --data or --project, not both")
        return data
    out = run_dir / "data"
    if (out / "labels.jsonl").is_file():
        console.print(f"training on the photos exported earlier to {out}", markup=False)
        return out
    summary = export_project_labels(project_from(project), labels, out)
    console.print(f"exported {summary['photos']} graded photos of {summary['patients']} "
                  f"patients ({labels} labels) to {out}", markup=False)
    return out


def train_quality_command(
    model: Annotated[str, typer.Option("--model", "-m", help="vgg16, resnet18, efficientnet_b0 or tiny.")],
    run_dir: Annotated[Path, typer.Option("--output", "-o", help="Run folder to write.")],
    project: ProjectOption = None,
    data: Annotated[Path | None, typer.Option("--data", help="Label set (rig quality simulate, or a run's data/).")] = None,
    labels: Annotated[str, typer.Option("--labels", help="Project grades: auto, human (rater consensus) or both.")] = "auto",
    epochs: Annotated[int, typer.Option("--epochs", help="Epochs.")] = 6,
    steps: Annotated[int, typer.Option("--steps", help="Optimiser steps per epoch (fixed work by default).")] = 50,
    batch: Annotated[int, typer.Option("--batch", help="Photos (bags) per step.")] = 4,
    bag: Annotated[int, typer.Option("--bag", help="Tiles per training bag.")] = 16,
    lr: Annotated[float, typer.Option("--lr", help="Learning rate.")] = 1e-3,
    seed: Annotated[int, typer.Option("--seed", help="Seed of weights and bags.")] = 0,
    split_seed: Annotated[int, typer.Option("--split-seed", help="Seed of the patient split.")] = 0,
    min_grade: Annotated[int, typer.Option("--min-grade", help="Bad = grade below this.")] = 3,
    budget_min: Annotated[float | None, typer.Option("--budget-min", help="Stop after this many minutes (a quick look).")] = None,
    patience: Annotated[int, typer.Option("--patience", help="Early stopping: epochs without a validation gain.")] = 5,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in -o from its last checkpoint.")] = False,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
    json_out: JsonOption = False,
) -> None:
    """Train the no-reference quality model (MIL + CORN) with patient-level splits."""
    import os

    from rig.cli.ml_cmds import _progress as train_progress
    from rig.cli.ml_cmds import _ProgressView
    from rig.quality.training import QualityRun, QualityTrainConfig, train_quality

    cfg = QualityTrainConfig(backbone=model, epochs=epochs, steps_per_epoch=steps, batch=batch,
                             bag_size=bag, lr=lr, seed=seed, split_seed=split_seed,
                             budget_min=budget_min, patience=patience, min_grade=min_grade,
                             device=device)
    cfg.check()
    source = _quality_data(project, data, labels, run_dir)
    with train_progress(json_out) as progress:
        result = train_quality(source, run_dir, cfg, labels, resume, _ProgressView(progress))
    if os.environ.get("RANK", "0") != "0":
        return
    point = QualityRun.load(run_dir).operating_point
    facts = {**result.to_json(), "operating_point": point}
    if json_out:
        print_json(facts)
        return
    qwk = result.best.get("val_qwk", float("nan"))
    console.print(f"quality-{model}: {result.epochs_done} epoch(s), {result.steps_done} steps, "
                  f"best validation QWK {qwk:.3f}; operating point k*={point['k']} "
                  f"threshold {point['threshold']:.3f}; run in {run_dir}", markup=False)


def eval_quality_command(
    run: Annotated[Path, typer.Option("--run", help="Run folder from 'rig train quality'.")],
    split: Annotated[str, typer.Option("--split", help="Split to report (test or valid).")] = "test",
    report_dir: Annotated[Path | None, typer.Option("--report", help="Write report.md, metrics.json, scores.csv and PNGs here.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Bootstrap seed.")] = 0,
    pristine: Annotated[int, typer.Option("--pristine", help="Ground truths NIQE's model is fitted on (0: no NIQE).")] = 8,
    json_out: JsonOption = False,
) -> None:
    """The study's table (AUC + 95 % CI, sensitivity, specificity, PPV, NPV) with baselines."""
    from rig.quality.model_eval import evaluate_quality, table_lines, to_json, write_quality_report

    if split not in ("test", "valid", "train"):
        raise UsageError(f"--split {split}: use test, valid or train")
    with _progress("score") as progress:
        task = progress.add_task("score", total=None)
        result = evaluate_quality(run, split, seed, pristine_images=pristine,
                                  on_photo=lambda: progress.advance(task))
    if report_dir is not None:
        write_quality_report(result, report_dir)
    if json_out:
        print_json(to_json(result))
        return
    o = result["ordinal"]
    console.print(f"{result['photos']} {split} photos of {result['patients']} patients "
                  f"({result['bad']} bad); grade MAE {o['mae']:.3f}, QWK {o['qwk']:.3f}",
                  markup=False)
    for line in table_lines(result):
        console.print(line, markup=False)
    if report_dir is not None:
        console.print(f"report: {report_dir / 'report.md'}", markup=False)


def bench_quality_command(
    patients: Annotated[int, typer.Option("--patients", help="Simulated patients (x 7 presets photos).")] = 60,
    seeds: Annotated[int, typer.Option("--seeds", help="Training seeds (0 .. n-1).")] = 3,
    model: Annotated[str, typer.Option("--model", "-m", help="Backbone.")] = "resnet18",
    steps: Annotated[int, typer.Option("--steps", help="Optimiser steps per seed.")] = 300,
    batch: Annotated[int, typer.Option("--batch", help="Photos per step.")] = 4,
    bag: Annotated[int, typer.Option("--bag", help="Tiles per training bag.")] = 12,
    quick: Annotated[bool, typer.Option("--quick", help="Tiny photos, tiny model, few steps (plumbing, not numbers).")] = False,
    budget_min: Annotated[float | None, typer.Option("--budget-min", help="Minutes per seed instead of fixed steps (a quick look).")] = None,
    work: Annotated[Path | None, typer.Option("--work", help="Folder for the label set and runs (kept; reused).")] = None,
    json_out: JsonOption = False,
) -> None:
    """The quality model vs the study's table and the baselines: fixed steps, several seeds."""
    import tempfile

    from rig.cli.ml_cmds import _print_bench_meta, _ProgressView
    from rig.cli.ml_cmds import _progress as train_progress
    from rig.ml.benchkit import seeds_of
    from rig.quality.bench import QualityBenchPlan, run_quality_bench, with_budget
    from rig.quality.training import BACKBONES

    seed_list = seeds_of(seeds)
    if quick:
        plan = QualityBenchPlan.quick_plan(seed_list)
    else:
        if patients < 5 or steps < 1 or batch < 1 or bag < 1:
            raise UsageError("--patients must be >= 5, --steps, --batch and --bag >= 1")
        if model not in BACKBONES:
            raise UsageError(f"--model {model}: use {', '.join(BACKBONES)}")
        plan = QualityBenchPlan(seed_list, patients, model, steps, batch, bag)
    plan = with_budget(plan, budget_min)
    folder = work or Path(tempfile.gettempdir()) / ("rig-bench-quality" + ("-quick" if quick else ""))
    with train_progress(json_out) as progress:
        results = run_quality_bench(folder, plan,
                                    on_status=lambda m: progress.console.print(m, markup=False),
                                    on_event=_ProgressView(progress))
    if json_out:
        print_json(results)
        return
    meta = results.pop("bench")
    ci = results["auc_ci"] or [float("nan")] * 2
    console.print(f"{results['model']}: AUC {results['auc']:.3f} ({ci[0]:.3f}-{ci[1]:.3f}) ± "
                  f"{results['auc_spread']['sd'] or 0:.3f} over seeds, sens "
                  f"{results['sensitivity']:.3f}, spec {results['specificity']:.3f}, PPV "
                  f"{results['ppv']:.3f}, NPV {results['npv']:.3f}; best baseline "
                  f"{results['best_baseline']} {results['baseline_auc']:.3f}; "
                  f"{results['photos']} photos, {results['infer_photos_per_s']:.2f} photos/s",
                  markup=False)
    _print_bench_meta(meta)
