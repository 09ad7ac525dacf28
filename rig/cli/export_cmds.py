"""``rig export``: paired datasets out."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from rig.cli.common import (
    JsonOption,
    ProjectOption,
    console,
    print_json,
    progress_bar,
    project_from,
)


def cmd_export(
    sessions: list[str] = typer.Argument(
        None, help="Session ids (default: every finished capture session)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Export folder (created)."),
    session_list: str | None = typer.Option(
        None, "--sessions", help="Session ids, comma-separated (like the arguments)."
    ),
    include_replays: bool = typer.Option(
        False, "--include-replays", help="With no sessions named: QA replays too."
    ),
    fmt: str = typer.Option("chexphoto", "--format", help="chexphoto | folders | webdataset"),
    split: str = typer.Option(
        "train=0.8,valid=0.1,test=0.1", "--split", help="Patient-level split fractions."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the split (stored per scheme)."),
    include_unverified: bool = typer.Option(
        False, "--include-unverified", help="Also export rejected/unverified photos."
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing non-empty folder."),
    json_out: JsonOption = False,
    project: ProjectOption = None,
) -> None:
    """Export paired photos and ground truth with patient-level splits and a dataset card.

    By default the finished capture sessions are exported (not QA replays, not failed,
    stopped or running sessions); every split gets a patient when there are enough.
    """
    from rig.export.run import ExportOptions, export

    named = [*(sessions or ()), *(s.strip() for s in (session_list or "").split(",") if s.strip())]
    options = ExportOptions(
        out, fmt, split, seed, tuple(named), include_unverified, force, include_replays
    )
    with progress_bar("export", json_out=json_out) as progress:
        task = progress.add_task("export", total=None)
        card = export(project_from(project), options,
                      lambda done, total: progress.update(task, completed=done, total=total))
    for warning in card["warnings"]:
        console.print(f"[yellow]warning: {escape(warning)}[/]")
    if json_out:
        print_json(card)
        return
    sizes = ", ".join(f"{s}: {v['pairs']}" for s, v in card["split_sizes"].items())
    console.print(f"exported {card['counts']['pairs']} pairs ({sizes}) as {fmt} to {out}")
    console.print(f"dataset card: {out / 'dataset.md'}")


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.command("export")(cmd_export)
