"""A library exported once and rig projects made from it (tests of several rigs)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rig.library.archive import import_library
from rig.project import Project, init_project, open_project


@dataclass(frozen=True)
class Library:
    """A library of generated radiographs exported once, with and without the secret."""

    project: Project
    with_secret: Path
    without_secret: Path
    extra: Path  # a DICOM file of a patient outside the library, imported by rigs later


def rig_project(root: Path, name: str, archive: Path, monitor: str = "") -> Project:
    """A rig's project made from a library archive, named in its rig.toml."""
    project = init_project(root)
    toml = project.root / "rig.toml"
    text = toml.read_text().replace('[rig]\nname = ""', f'[rig]\nname = "{name}"')
    toml.write_text(text.replace('monitor = ""', f'monitor = "{monitor}"'))
    import_library(project, archive)
    return open_project(project.root)
