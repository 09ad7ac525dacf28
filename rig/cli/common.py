"""Options and output helpers shared by the command modules."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from rig.errors import InputError, UsageError, not_writable
from rig.project import DB_NAME, Project, locate_project

ProjectOption = Annotated[
    Path | None,
    typer.Option(
        "--project",
        "-p",
        help="Project folder (default: $RIG_PROJECT, else the current folder).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]

# Human output goes to stderr so that --json output on stdout stays machine-readable.
console = Console(stderr=True, highlight=False)

# The database of the project the command works on: SQLite's errors name no file, so a
# "readonly database" or "database or disk is full" reaching rig.cli.main is named by this.
_project_db: ContextVar[Path | None] = ContextVar("rig_project_db", default=None)


def project_from(option: Path | None) -> Project:
    """The project of ``--project`` / ``$RIG_PROJECT`` / the current folder, checked writable.

    SQLite in WAL mode writes beside rig.db even to read it (``rig.db-shm``), so a project
    on a read-only file system or without write permission fails every command: it is said
    now, in one line naming the path (exit 5), not as a database error later.
    """
    project = locate_project(option)
    _project_db.set(project.db_path)
    for path in (project.root, project.root / DB_NAME):
        if path.exists() and not os.access(path, os.W_OK):
            raise not_writable(path, _why_not_writable(path))
    return project


def current_project_db() -> Path | None:
    """The rig.db of the project this command located, if any."""
    return _project_db.get()


def _why_not_writable(path: Path) -> str:
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return "read-only file system"
    except OSError:
        pass
    return "permission denied"


@contextmanager
def flag_value() -> Iterator[None]:
    """Parse a value typed on the command line: the parsers raise ``InputError`` (they also
    read files, where a bad value is rejected input, exit 3); here it is a usage error (2)."""
    try:
        yield
    except InputError as exc:
        raise UsageError(exc.message) from exc


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


class RateColumn(ProgressColumn):
    """Items per second (or per minute / hour when slower), from rich's recent samples."""

    def render(self, task: Task) -> Text:
        speed = task.speed
        if not speed:
            return Text("–/s", style="progress.data.speed")
        for unit, factor in (("s", 1.0), ("min", 60.0), ("h", 3600.0)):
            if speed * factor >= 1 or unit == "h":
                return Text(f"{speed * factor:.3g}/{unit}", style="progress.data.speed")
        raise AssertionError("unreachable")


def progress_bar(label: str, *, json_out: bool = False) -> Progress:
    """Progress of a long job on stderr: done/total, rate, elapsed time and ETA.

    Hidden with ``--json`` (stdout is for machines; so is a redirected stderr) and when
    stderr is not a terminal, where a redrawn bar would only fill a log with lines.
    """
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=json_out or not console.is_terminal,
    )
