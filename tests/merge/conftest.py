from __future__ import annotations

import pytest
from rigs_library import Library

from rig.library.archive import export_library
from rig.library.importer import import_paths
from rig.library.samples import SampleSpec, write_samples
from rig.project import init_project


@pytest.fixture(scope="session")
def library(tmp_path_factory: pytest.TempPathFactory) -> Library:
    root = tmp_path_factory.mktemp("library")
    labels = write_samples(root / "in", n_images=10, seed=4, spec=SampleSpec(rows=240, columns=200))
    extra = root / "in" / "patient00005"
    project = init_project(root / "lib")
    files = sorted(p for p in (root / "in").rglob("*.dcm") if extra not in p.parents)
    report = import_paths(project, files, labels)
    assert len(report.imported) == 8 and not report.skipped
    export_library(project, root / "with.tar", with_secret=True)
    export_library(project, root / "without.tar", with_secret=False)
    return Library(project, root / "with.tar", root / "without.tar",
                   extra / "study1" / "view1_frontal.dcm")  # fmt: skip
