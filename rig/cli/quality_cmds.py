"""Commands of the image-quality area: ``rig quality grade|rate|import-ratings|agreement|
simulate|baselines|export`` (docs/quality.md)."""

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
