from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from rig.library.archive import export_library, import_library
from rig.library.importer import import_paths
from rig.library.samples import SampleSpec, write_samples
from rig.project import Project, init_project, open_project


@dataclass(frozen=True)
class Library:
    """A library of generated radiographs exported once, with and without the secret."""

    project: Project
    with_secret: Path
    without_secret: Path
    extra: Path  # a DICOM file of a patient outside the library, imported by rigs later


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


def rig_project(root: Path, name: str, archive: Path, monitor: str = "") -> Project:
    """A rig's project made from a library archive, named in its rig.toml."""
    project = init_project(root)
    toml = project.root / "rig.toml"
    text = toml.read_text().replace('[rig]\nname = ""', f'[rig]\nname = "{name}"')
    toml.write_text(text.replace('monitor = ""', f'monitor = "{monitor}"'))
    import_library(project, archive)
    return open_project(project.root)
