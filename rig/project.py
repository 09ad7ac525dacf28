"""A rig project folder: ``rig.toml``, ``rig.db`` (SQLite, WAL), ``objects/``.

The per-project secret that keys pseudonyms lives in ``secret.key`` (mode 0600);
without it nobody can map a pseudonymous patient id back to a PatientID.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from rig.atomic import write_bytes_atomic, write_text_atomic
from rig.config import ProjectConfig, dump_config, load_config
from rig.errors import StoreError, UsageError
from rig.store.db import open_db
from rig.store.objects import ObjectStore

CONFIG_NAME = "rig.toml"
DB_NAME = "rig.db"
OBJECTS_NAME = "objects"
SECRET_NAME = "secret.key"
ENV_VAR = "RIG_PROJECT"


@dataclass
class Project:
    root: Path
    config: ProjectConfig
    secret: bytes

    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    @property
    def objects(self) -> ObjectStore:
        return ObjectStore(self.root / OBJECTS_NAME)

    def db(self, durable: bool = True) -> sqlite_utils.Database:
        """A new connection with migrations applied (one per thread/process)."""
        return open_db(self.db_path, durable)


def init_project(root: Path, name: str | None = None) -> Project:
    """Create (or complete) a project folder; an existing project is left as it is."""
    root = root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    config_path = root / CONFIG_NAME
    if not config_path.exists():
        write_text_atomic(config_path, dump_config(ProjectConfig(name=name or root.name)))
    secret_path = root / SECRET_NAME
    if not secret_path.exists():
        write_bytes_atomic(secret_path, secrets.token_hex(32).encode())
        os.chmod(secret_path, 0o600)
    (root / OBJECTS_NAME).mkdir(exist_ok=True)
    project = open_project(root)
    project.db().close()
    return project


def open_project(root: Path) -> Project:
    """Open an existing project folder."""
    root = root.resolve()
    config_path = root / CONFIG_NAME
    if not config_path.is_file():
        raise UsageError(f"{root}: not a rig project (no {CONFIG_NAME}); run 'rig init {root}'")
    try:
        secret = bytes.fromhex((root / SECRET_NAME).read_text().strip())
    except (OSError, ValueError) as exc:
        raise StoreError(f"{root / SECRET_NAME}: missing or damaged project secret") from exc
    return Project(root=root, config=load_config(config_path), secret=secret)


def locate_project(option: Path | None) -> Project:
    """``--project`` if given, else ``$RIG_PROJECT``, else the current folder."""
    if option is not None:
        return open_project(option)
    env = os.environ.get(ENV_VAR)
    if env:
        return open_project(Path(env))
    cwd = Path.cwd()
    if (cwd / CONFIG_NAME).is_file():
        return open_project(cwd)
    raise UsageError(
        "no project: pass --project DIR, set RIG_PROJECT, or run inside a folder made by 'rig init'"
    )
