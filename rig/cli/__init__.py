"""The ``rig`` command line: a thin typer shell over library functions.

Each area registers its commands from its own module (``register(app, bench)``),
so the CLI grows without one giant file. Errors: a ``RigError`` becomes one line
on stderr and its exit code (the table in rig.errors and the README); a stray OS or
SQLite error meaning the disk cannot take a write (full, read-only, not permitted)
becomes one line naming the path and exit 5; anything else is an internal error
(exit 70) whose traceback is shown only with ``--debug``.

Help texts are shown as written (``rich_markup_mode=None``): with Rich markup,
``range:A:B`` became an emoji and ``[...]`` could vanish.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import typer

from rig.cli.common import current_project_db
from rig.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, RigError, storage_error

app = typer.Typer(
    name="rig",
    help="Build paired screen-photo / ground-truth medical-image datasets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # every sub-command inherits it: help texts are literal
)
bench_app = typer.Typer(help="Benchmarks (print JSON with --json).", no_args_is_help=True)
app.add_typer(bench_app, name="bench")

# One module per area; each defines register(app, bench_app).
COMMAND_MODULES = (
    "rig.cli.project_cmds",
    "rig.cli.imaging_cmds",
    "rig.cli.camera_cmds",
    "rig.cli.synth_cmds",
    "rig.cli.protocol_cmds",
    "rig.cli.registration_cmds",
    "rig.cli.devices_cmds",
    "rig.cli.export_cmds",
    "rig.cli.session_cmds",
    "rig.cli.ml_cmds",
    "rig.cli.quality_cmds",
    "rig.cli.samples_cmds",
    "rig.cli.study_cmds",
    "rig.cli.multirig_cmds",
)

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app, bench_app)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    project: Path | None = typer.Option(
        None, "--project", "-p", help="Project folder for every command (sets RIG_PROJECT)."
    ),
) -> None:
    if debug:
        os.environ["RIG_DEBUG"] = "1"
    if project is not None:
        os.environ["RIG_PROJECT"] = str(project)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``rig`` console script; returns the exit code."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("RIG_DEBUG") == "1"
    command = typer.main.get_command(app)
    try:
        # Standalone mode lets click report usage errors itself (exit 2) while our
        # own errors propagate to here.
        command.main(args=args, prog_name="rig", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except RigError as exc:
        if debug:
            raise
        return _fail(exc)
    except KeyboardInterrupt:
        print("rig: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # the last line of defence: one line, never a traceback
        if debug:
            raise
        # SQLite names no file: name the project's database (an OSError names its own).
        storage = storage_error(exc, None if isinstance(exc, OSError) else current_project_db())
        if storage is not None:  # a full or read-only disk is not a bug: exit 5
            return _fail(storage)
        print(
            f"rig: internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    return 0


def _fail(exc: RigError) -> int:
    print(f"rig: error: {' '.join(exc.message.split())}", file=sys.stderr)  # always one line
    return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
