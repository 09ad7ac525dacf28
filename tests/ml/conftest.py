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


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated radiographs photographed by the virtual camera, one patient per pair
    (shared by the study and executor tests: the camera simulation is the slow part)."""
    from rig.ml.benchdata import BenchSpec, build_bench_folder

    spec = BenchSpec(pairs=24, rows=240, columns=200, seed=5)
    return build_bench_folder(tmp_path_factory.mktemp("samples") / "data", spec, workers=2)
