"""Removing a session without leaving orphans: rows, its ``sessions/<id>/`` folder, objects.

Objects are content-addressed and shared (the same photo bytes could be named by two
sessions, a ground-truth frame by every session that showed it), so an object goes
only when no row of any table names it any more.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from rig.project import Project
from rig.session.store import SessionStore


def session_dir(project: Project, session_id: str) -> Path:
    """Where the session keeps files of its own (protocol uploads and state)."""
    return project.root / "sessions" / session_id


@dataclass(frozen=True)
class Removal:
    session_id: str
    objects_removed: int
    folder_removed: bool

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.session_id,
            "objects_removed": self.objects_removed,
            "folder_removed": self.folder_removed,
        }


def remove_session(project: Project, store: SessionStore, session_id: str) -> Removal:
    """Delete every row of the session, its folder, and the objects only it named."""
    named = store.delete_session(session_id)
    orphans = named - store.referenced_objects(named)
    removed = sum(project.objects.delete(sha) for sha in sorted(orphans))
    folder = session_dir(project, session_id)
    existed = folder.exists()
    shutil.rmtree(folder, ignore_errors=True)
    return Removal(session_id, removed, existed)
