"""Project and library commands: init, import, sources."""

from __future__ import annotations

from pathlib import Path

import typer

from rig.cli.common import console
from rig.project import init_project


def cmd_init(
    directory: Path = typer.Argument(Path("."), help="Project folder to create."),
    name: str | None = typer.Option(None, help="Project name (default: folder name)."),
) -> None:
    """Create a project folder: rig.toml, rig.db (SQLite, WAL) and objects/."""
    project = init_project(directory, name)
    console.print(f"project ready: {project.root}")


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.command("init")(cmd_init)
