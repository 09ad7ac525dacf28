from __future__ import annotations

from pathlib import Path

import pytest

from rig.library.importer import import_paths
from rig.library.samples import SampleSpec, write_samples
from rig.project import Project, init_project


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("samples")
    labels = write_samples(root / "in", n_images=6, seed=2, spec=SampleSpec(rows=240, columns=200))
    return root / "in", labels


@pytest.fixture
def project(tmp_path: Path, sample_dir: tuple[Path, Path]) -> Project:
    project = init_project(tmp_path / "project")
    import_paths(project, [sample_dir[0]], sample_dir[1], recursive=True)
    return project
