from __future__ import annotations

from pathlib import Path

import pytest
from export_records import record_session

from rig.library.importer import import_paths
from rig.library.samples import SampleSpec, write_samples
from rig.project import Project, init_project


@pytest.fixture(scope="module")
def exported_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, list[str]]:
    root = tmp_path_factory.mktemp("exp")
    labels = write_samples(root / "in", n_images=24, seed=5, spec=SampleSpec(rows=96, columns=80))
    project = init_project(root / "project")
    report = import_paths(project, [root / "in"], labels_csv=labels, recursive=True)
    ids = report.to_dict()["source_ids"]
    sessions = [record_session(project, ids[:12], 1), record_session(project, ids[12:], 2)]
    return project, sessions


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    return tmp_path / "export"
