"""Sharing the project secret between rigs, explicitly.

``secret.key`` keys every pseudonym (rig.library.deid). Rigs that capture one library
and import more files later must key them alike, or one patient gets two pseudonyms and
can land in two splits. The secret travels only when asked (``rig library export
--with-secret``), and a project adopts another only while no file was keyed with its own.
"""

from __future__ import annotations

import hashlib
import hmac
import os

import sqlite_utils

from rig.atomic import write_bytes_atomic
from rig.errors import UsageError
from rig.project import SECRET_NAME, Project

WARNING = (
    "warning: the archive holds the project secret: with it and a patient's ID anyone can "
    "recognise that patient's pseudonym; move and store it like patient data"
)


def fingerprint(secret: bytes) -> str:
    """A short public name for a secret (to compare two without showing either)."""
    return hmac.new(secret, b"rig secret fingerprint", hashlib.sha256).hexdigest()[:12]


def count_files(db: sqlite_utils.Database) -> int:
    return int(next(iter(db.query("SELECT count(*) AS n FROM files")))["n"])


def adopt_secret(project: Project, db: sqlite_utils.Database, secret: bytes | None,
                 where: str) -> str:  # fmt: skip
    """Make ``secret`` the project's: 'adopted', 'same', or 'none in archive' (kept ours)."""
    if secret is None:
        return "none in archive"
    if hmac.compare_digest(secret, project.secret):
        return "same"
    if files := count_files(db):
        raise UsageError(
            f"{where}: carries another project secret than {project.root}, which already holds "
            f"{files} file(s) keyed with its own; use a new project (rig init)"
        )
    write_secret(project, secret)
    return "adopted"


def restore_secret(project: Project, status: str) -> None:
    """Undo ``adopt_secret`` after a failed import (the project's own secret back)."""
    if status == "adopted":
        write_secret(project, project.secret)


def write_secret(project: Project, secret: bytes) -> None:
    path = project.root / SECRET_NAME
    write_bytes_atomic(path, secret.hex().encode())
    os.chmod(path, 0o600)
