"""``rig import-photos DIR --chexpeditor``: pair photos kept on a CheXpeditor phone with their items.

Each file name carries ``<seq>__<nonce>__<session>__item<idx>_a<attempt>.png``; a
photo is accepted only for the capture whose recorded name matches exactly (seq,
nonce, session, item, attempt), then stored, registered against the exact screen
frame of that attempt and verified like a photo received over the rig protocol.
When the last waiting photo verifies, a session paused for the import finishes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rig.errors import RigError, UsageError
from rig.project import Project
from rig.protocol import compat
from rig.session.reconcile import Reconciliation, reconcile
from rig.session.reregister import verify_capture
from rig.session.states import AWAITING_IMPORT, CaptureState, SessionState
from rig.session.store import SessionStore


@dataclass(frozen=True)
class ImportedPhoto:
    item: int
    attempt: int
    reason: str | None


@dataclass(frozen=True)
class PhotoImport:
    verified: list[ImportedPhoto] = field(default_factory=list)
    rejected: list[ImportedPhoto] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    still_missing: list[int] = field(default_factory=list)
    reconciliation: Reconciliation | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def import_chexpeditor_photos(project: Project, folder: Path, session_id: str) -> PhotoImport:
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such folder")
    result = PhotoImport()
    with SessionStore.open(project) as store:
        record = store.session(session_id)
        waiting = {
            c.device.get("pending_name"): c
            for c in store.captures(session_id, [CaptureState.PENDING])
        }
        for path in sorted(p for p in folder.iterdir() if p.is_file()):
            try:
                compat.parse_name(path.name)
            except RigError:
                result.skipped.append({"file": path.name, "reason": "not a CheXpeditor photo name"})
                continue
            capture = waiting.pop(path.name, None)
            if capture is None:
                result.unmatched.append(path.name)
                continue
            jpeg = path.read_bytes()
            store.store_photo(capture.id, project.objects.put(jpeg), capture.device)
            outcome = verify_capture(project, store, record.plan, capture, jpeg)
            photo = ImportedPhoto(capture.idx, capture.attempt, outcome.reason)
            (result.verified if outcome.accepted else result.rejected).append(photo)
        result.still_missing.extend(sorted(c.idx for c in waiting.values()))
        rec = reconcile(store, session_id, project.objects)
        if record.state == SessionState.PAUSED and record.reason == AWAITING_IMPORT and rec.clean:
            store.transition(session_id, "finish", None, rec.to_dict())
    return PhotoImport(
        result.verified,
        result.rejected,
        result.unmatched,
        result.skipped,
        result.still_missing,
        rec,
    )
