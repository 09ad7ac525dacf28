"""Project and library commands: init, import, sources, demo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from rig.cli.common import (
    JsonOption,
    ProjectOption,
    console,
    print_json,
    progress_bar,
    project_from,
)
from rig.errors import UsageError
from rig.project import init_project

if TYPE_CHECKING:
    from rig.library.importer import ImportReport


def cmd_init(
    directory: Path = typer.Argument(Path("."), help="Project folder to create."),
    name: str | None = typer.Option(None, help="Project name (default: folder name)."),
) -> None:
    """Create a project folder: rig.toml, rig.db (SQLite, WAL) and objects/."""
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory}: is a file, not a folder; give a new or existing folder")
    project = init_project(directory, name)
    console.print(f"project ready: {project.root}")


def cmd_import(
    paths: list[Path] = typer.Argument(..., help="Files or folders to import."),
    labels: Path | None = typer.Option(
        None, "--labels", help="Labels CSV (CheXpert style or path,label)."
    ),
    recursive: bool = typer.Option(False, "--recursive", "-r", help="Descend into sub-folders."),
    burned_in: str = typer.Option(
        "mask",
        "--burned-in",
        help="Images at risk of text in their pixels (US, SC, OT, BurnedInAnnotation YES or "
        "absent, PNG/JPEG/TIFF) are read by OCR: 'mask' fills the text found with the "
        "displayed black, 'exclude' leaves out images with text, 'keep' imports them "
        "unchecked (needs --i-accept-burned-in-text).",
    ),
    accept_text: bool = typer.Option(
        False,
        "--i-accept-burned-in-text",
        help="Confirm --burned-in keep: names, ids and dates in pixels stay (the dataset card says so).",
    ),
    json_out: JsonOption = False,
    project: ProjectOption = None,
) -> None:
    """Import DICOM / PNG / JPEG / TIFF files (de-identified) and their labels.

    Exit 0 when everything imported (or was excluded by --burned-in exclude), 1 when
    something was skipped (including images at risk of burned-in text when tesseract is
    not installed), 2 for usage errors.
    """
    from rig.library.importer import import_paths, iter_files  # heavy: pydicom, decoders
    from rig.library.textcheck import BurnedInMode

    modes = [m.value for m in BurnedInMode]
    if burned_in not in modes:
        raise UsageError(f"--burned-in '{burned_in}' unknown; use one of {', '.join(modes)}")
    mode = BurnedInMode(burned_in)
    if mode is BurnedInMode.KEEP and not accept_text:
        raise UsageError(
            "--burned-in keep leaves names, ids and dates in the pixels; "
            "confirm with --i-accept-burned-in-text"
        )
    if accept_text and mode is not BurnedInMode.KEEP:
        raise UsageError("--i-accept-burned-in-text goes with --burned-in keep only")
    proj = project_from(project)
    for path in paths:
        if not path.exists():
            raise UsageError(f"{path}: no such file or folder")
    if labels is not None and not labels.is_file():
        raise UsageError(f"--labels {labels}: no such file")
    total = sum(1 for _ in iter_files(paths, recursive))
    folders_left = 0 if recursive else sum(_subfolders(p) for p in paths)
    with progress_bar("importing", json_out=json_out) as progress:
        task = progress.add_task("import", total=total)
        report = import_paths(
            proj,
            paths,
            labels,
            recursive,
            on_file=lambda _p: progress.advance(task),
            burned_in=mode,
            accept_burned_in_text=accept_text,
        )
    if json_out:
        print_json({**report.to_dict(), "subfolders_skipped": folders_left})
    else:
        _print_report(report)
        if folders_left:
            console.print(f"{folders_left} sub-folders skipped; use -r", markup=False)
    raise typer.Exit(report.exit_code)


def _subfolders(path: Path) -> int:
    """Sub-folders of a folder given without -r (hidden ones aside, as iter_files does)."""
    if not path.is_dir():
        return 0
    return sum(1 for c in path.iterdir() if c.is_dir() and not c.name.startswith("."))


def _print_report(report: ImportReport) -> None:
    data = report.to_dict()
    console.print(
        f"imported {data['imported_files']} files ({data['imported_sources']} sources), "
        f"{report.duplicates} already in the library, {len(report.skipped)} skipped"
    )
    if report.unmatched_label_rows:
        console.print(f"{report.unmatched_label_rows} label rows matched no imported file")
    text = data["burned_in"]
    counts = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in text["sources"].items())
    console.print(
        f"burned-in text ({text['mode']}, {text['engine'] or 'no OCR run'}): "
        f"{counts or 'no sources'}; {text['masked_regions']} regions masked, "
        f"{text['excluded_files']} files excluded",
        markup=False,
        soft_wrap=True,
    )
    for path in report.excluded:
        console.print(f"  excluded {path}: burned-in text found", markup=False, soft_wrap=True)
    for path, reason in report.skipped:  # reasons start with their path: say it once
        reason = reason.removeprefix(f"{path}: ")
        console.print(f"  skipped {path}: {reason}", markup=False, soft_wrap=True)


def cmd_sources_list(json_out: JsonOption = False, project: ProjectOption = None) -> None:
    """Show the library: id, modality, size, bits, frames, burned-in text check and labels."""
    from rig.library.sources import burned_in_of

    proj = project_from(project)
    db = proj.db()
    try:
        rows = list(
            db.query(
                "SELECT s.id, s.modality, s.columns, s.rows, s.bits_stored, s.photometric, "
                "s.frame, s.n_frames, s.patient_id, s.study_id, s.view, "
                "(SELECT json_group_object(name, value) FROM labels l WHERE l.source_id = s.id) "
                "AS labels FROM sources s ORDER BY s.id"
            )
        )
        text = burned_in_of(db)
    finally:
        db.close()
    for row in rows:
        row["labels"] = json.loads(row["labels"]) if row["labels"] else {}
        row["burned_in"] = text.get(row["id"], {"status": "unchecked"})
    if json_out:
        print_json({"sources": rows})
        return
    table = Table(
        "id", "modality", "size", "bits", "photometric", "frame", "patient", "text", "labels"
    )
    for row in rows:
        positive = ", ".join(k for k, v in row["labels"].items() if v == 1) or "-"
        table.add_row(
            str(row["id"]),
            row["modality"] or "-",
            f"{row['columns']}x{row['rows']}",
            str(row["bits_stored"]),
            row["photometric"] or "-",
            f"{row['frame'] + 1}/{row['n_frames']}",
            row["patient_id"],
            _text_cell(row["burned_in"]),
            positive,
        )
    console.print(table)
    console.print(f"{len(rows)} sources")


def _text_cell(text: dict[str, object]) -> str:
    """The burned-in text column: 'masked 3', 'clear', 'kept', '-' (not at risk)…"""
    status = str(text["status"])
    if status == "masked":
        return f"masked {len(text.get('regions') or [])}"  # type: ignore[arg-type]
    return {"not_at_risk": "-"}.get(status, status)


def cmd_demo(
    quick: bool = typer.Option(False, "--quick", help="A first look in under 3 minutes."),
    images: int | None = typer.Option(None, "--images", help="Number of sample images."),
    seed: int = typer.Option(0, "--seed", help="Seed for samples, camera and training."),
    train_min: float | None = typer.Option(None, "--train-min", help="Training budget, minutes."),
    placement: str | None = typer.Option(
        None, "--placement", help="auto | 1:1 | integer | fit (default: rig.toml, else auto)."
    ),
    json_out: JsonOption = False,
    project: ProjectOption = None,
) -> None:
    """Run the main job on the embedded default: samples → session → pairs → DnCNN → table."""
    import os
    from dataclasses import replace

    from rig.demo import DemoConfig, choose_project_dir, run_demo

    root = choose_project_dir(project, os.environ.get("RIG_PROJECT"))
    console.print(f"demo project: {root}")
    config = DemoConfig.quick() if quick else DemoConfig()
    config = replace(
        config,
        seed=seed,
        images=images or config.images,
        train_budget_min=train_min or config.train_budget_min,
        placement=placement,
    )
    result = run_demo(root, config, say=lambda s: console.print(s, markup=False))
    if json_out:
        print_json(
            {
                "project": str(result.project),
                "steps": dict(result.steps),
                **result.figures,
                "report": str(result.report),
            }
        )
        return
    table = Table("step", "outcome", title="rig demo")
    for step, outcome in result.steps:
        table.add_row(step, outcome)
    console.print(table)
    console.print(result.table, markup=False)
    console.print(f"report: {result.report}")
    console.print(f"project: {result.project}  (go on with: rig -p {result.project} session list)")


def cmd_bench_burned_in(
    repeats: int = typer.Option(3, "--repeats", help="Timed runs per image (median)."),
    samples: int = typer.Option(8, "--samples", help="Demo radiographs imported per mode."),
    json_out: JsonOption = False,
) -> None:
    """Time the burned-in text OCR per image (US 800x600, CR 2048x2500) against one full-page
    tesseract pass, its recall and false masks, and the import cost per demo sample."""
    from rig.bench.burnedin_bench import run_burnedin_bench

    if repeats < 1 or samples < 1:
        raise UsageError("--repeats and --samples must be >= 1")
    result = run_burnedin_bench(repeats=repeats, n_samples=samples)
    if json_out:
        print_json(result)
        return
    for name, row in result["images"].items():
        console.print(
            f"{name}: rig {row['rig_s']:.3f} s, one full-page tesseract pass "
            f"{row['full_page_tesseract_s']:.3f} s (ratio {row['ratio_rig_to_full_page']}); "
            f"{row['regions']} regions, text pixels masked {row['text_pixels_masked']}, "
            f"false masks {row['false_mask_fraction']}"
        )
    imp = result["import_demo_samples"]
    console.print(
        f"import of {imp['files']} demo samples: {imp['mask_s_per_image']:.3f} s/image with "
        f"--burned-in mask, {imp['keep_s_per_image']:.3f} s/image with keep "
        f"(ratio {imp['ratio_mask_to_keep']}); {result['engine']}"
    )


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    bench_app.command("burned-in")(cmd_bench_burned_in)
    app.command("init")(cmd_init)
    app.command("import")(cmd_import)
    sources = typer.Typer(help="The source library.", no_args_is_help=True)
    sources.command("list")(cmd_sources_list)
    app.add_typer(sources, name="sources")
    app.command("demo")(cmd_demo)
