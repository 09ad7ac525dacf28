"""Fixtures of the ML tests (the folder writers live in mlfolders.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from mlfolders import write_folder, write_labelled_folder


@pytest.fixture
def tiny_folder(tmp_path: Path) -> Path:
    return write_folder(tmp_path / "data")


@pytest.fixture
def make_folder(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str = "data", **kwargs: object) -> Path:
        return write_folder(tmp_path / name, **kwargs)  # type: ignore[arg-type]

    return make


@pytest.fixture
def labelled_folder(tmp_path: Path) -> Path:
    return write_labelled_folder(tmp_path / "labelled", n=48)
