"""Every command has help, and every command is shown in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

from rig.cli import app, main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def command_paths() -> list[tuple[str, ...]]:
    cmd = typer.main.get_command(app)
    out: list[tuple[str, ...]] = []

    def walk(node, path):  # type: ignore[no-untyped-def]
        subs = getattr(node, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, (*path, name))
        else:
            out.append(path)

    walk(cmd, ())
    return out


@pytest.mark.parametrize("path", command_paths(), ids=" ".join)
def test_command_has_help(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*path, "--help"]) == 0
    assert "Usage" in capsys.readouterr().out


@pytest.mark.parametrize("path", command_paths(), ids=" ".join)
def test_command_is_in_readme(path: tuple[str, ...]) -> None:
    pattern = r"rig(?: -p \S+)? " + r"\s+".join(map(re.escape, path)) + r"\b"
    assert re.search(pattern, README), f"'rig {' '.join(path)}' is not shown in README.md"
