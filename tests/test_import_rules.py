"""The import rules of STYLE.md, enforced mechanically by reading every module's AST."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QT = ("PyQt6", "PyQt5", "PySide6", "PySide2", "qasync", "pytestqt")
# The sans-I/O protocol core: bytes and `now` in, events and datagrams out.
PROTOCOL_CORE = ("messages", "auth", "desktop", "phone", "faults", "compat", "events", "timers", "memnet",
                 "wiremap")  # fmt: skip


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", modules("calibration"), ids=lambda p: p.name)
def test_calibration_is_pure(path: Path) -> None:
    forbidden = {"rig", "serial", "torch", "torchvision", *QT}
    assert not imported_roots(path) & forbidden, (
        f"{path} imports {imported_roots(path) & forbidden}"
    )


@pytest.mark.parametrize(
    "path",
    [p for p in modules("rig") if "gui" not in p.relative_to(ROOT).parts],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_only_gui_imports_qt(path: Path) -> None:
    assert not imported_roots(path) & set(QT), f"{path} imports Qt outside rig.gui"


def test_protocol_core_has_no_io() -> None:
    core = [p for p in modules("rig/protocol") if p.stem in PROTOCOL_CORE]
    for path in core:
        bad = imported_roots(path) & {"asyncio", "socket", "time", "selectors", "aiohttp"}
        assert not bad, f"{path} is protocol core but imports {bad}"


def test_rule_checker_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "m.py"
    bad.write_text("from PyQt6 import QtCore\nimport rig.cli\n")
    assert {"PyQt6", "rig"} <= imported_roots(bad)
