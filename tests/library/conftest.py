from __future__ import annotations

from pathlib import Path

import pytest

from rig.library.samples import write_samples
from rig.project import Project, init_project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return init_project(tmp_path / "project")


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Six generated radiographs (3 patients × 2 studies) and their labels CSV."""
    root = tmp_path_factory.mktemp("samples")
    labels = write_samples(root / "images", n_images=6, seed=3)
    moved = root / "labels.csv"
    labels.rename(moved)
    return root / "images", moved


@pytest.fixture
def scan_tree_for():  # type: ignore[no-untyped-def]
    return _scan_tree_for


def _scan_tree_for(root: Path, needles: list[bytes]) -> list[str]:
    """Every file under ``root`` (db, WAL, objects…) whose bytes contain a needle."""
    hits = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{path}: {n!r}" for n in needles if n in data or n.lower() in data.lower()]
    return hits
