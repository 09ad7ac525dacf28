"""rig.toml loading and project location."""

from __future__ import annotations

from pathlib import Path

import pytest

from rig.config import ProjectConfig, dump_config, load_config
from rig.errors import InputError, UsageError
from rig.project import init_project, locate_project


def test_config_roundtrip(tmp_path: Path) -> None:
    path = tmp_path / "rig.toml"
    path.write_text(dump_config(ProjectConfig(name="x")))
    assert load_config(path) == ProjectConfig(name="x")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("nmae = 'typo'\n", "unknown setting 'nmae'"),
        ("[display]\nscreen_width = 'wide'\n", "'screen_width' must be int"),
        ("[display\n", "cannot read settings"),
        ('[display]\nplacement = "fitt"\n', "placement 'fitt' unknown"),
        ("[display]\nscreen_width = 10\n", "screen 10x1080 is too small"),
    ],
)
def test_bad_config_names_the_field(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "rig.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=match):
        load_config(path)


def test_locate_project_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = init_project(tmp_path / "a")
    b = init_project(tmp_path / "b")
    monkeypatch.chdir(tmp_path / "a")
    monkeypatch.delenv("RIG_PROJECT", raising=False)
    assert locate_project(None).root == a.root
    monkeypatch.setenv("RIG_PROJECT", str(b.root))
    assert locate_project(None).root == b.root
    assert locate_project(a.root).root == a.root
    monkeypatch.delenv("RIG_PROJECT")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match="no project"):
        locate_project(None)


def test_secret_is_private(tmp_path: Path) -> None:
    project = init_project(tmp_path / "p")
    assert (project.root / "secret.key").stat().st_mode & 0o077 == 0
    assert len(project.secret) == 32


def test_display_placement_defaults_to_auto_and_is_read(tmp_path: Path) -> None:
    path = tmp_path / "rig.toml"
    path.write_text(dump_config(ProjectConfig()))
    assert load_config(path).display.placement == "auto"
    assert 'placement = "auto"' in path.read_text()  # written out, so users see it
    path.write_text('[display]\nplacement = "fit"\n')
    assert load_config(path).display.placement == "fit"
