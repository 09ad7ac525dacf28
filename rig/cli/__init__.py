"""The ``rig`` command line: a thin typer shell over library functions.

Each area registers its commands from its own module (``register(app, bench)``),
so the CLI grows without one giant file. Errors: a ``RigError`` becomes one line
on stderr and its exit code; anything else is an internal error (exit 70) whose
traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import typer

from rig.errors import RigError

app = typer.Typer(
    name="rig",
    help="Build paired screen-photo / ground-truth medical-image datasets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
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
        print(f"rig: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("rig: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last line of defence: one line, never a traceback
        if debug:
            raise
        print(
            f"rig: internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)",
            file=sys.stderr,
        )
        return 70
    return 0


if __name__ == "__main__":
    sys.exit(main())
