"""``rig import-photos DIR --chexpeditor``: pair photos kept on a CheXpeditor phone with their items.

Each file name carries ``<seq>__<nonce>__<session>__item<idx>_a<attempt>.png``; a
photo is accepted only for the capture whose recorded name matches exactly (seq,
nonce, session, item, attempt), then stored, registered against the exact screen
frame of that attempt and verified like a photo received over the rig protocol.
When the last waiting photo verifies, a session paused for the import finishes.

With a learned quality gate (the plan's ``--quality-gate RUN``, or ``quality_gate``
here) a verified photo whose P(bad) is above the run's threshold is refused with that
reason and counted in ``flagged``: the phone cannot retake it now, so its item waits for
a better photo instead of exporting a bad pair (``rig.quality.learned_gate``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from rig.errors import RigError, UsageError
from rig.project import Project
from rig.protocol import compat
from rig.quality.learned_gate import QualityScorer
from rig.session.reconcile import Reconciliation, reconcile
from rig.session.reregister import verify_capture
from rig.session.states import AWAITING_IMPORT, CaptureState, SessionState
from rig.session.store import SessionStore
from rig.session.verify import RegistrationOutcome


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
    flagged: list[ImportedPhoto] = field(default_factory=list)  # refused by the learned gate
    still_missing: list[int] = field(default_factory=list)
    reconciliation: Reconciliation | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def import_chexpeditor_photos(project: Project, folder: Path, session_id: str,
                              quality_gate: str | None = None) -> PhotoImport:
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such folder")
    result = PhotoImport()
    with SessionStore.open(project) as store:
        record = store.session(session_id)
        gate = ImportGate.open(quality_gate or record.plan.quality_gate, store)
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
            outcome = verify_capture(project, store, record.plan, capture, jpeg,
                                     judge=gate.judge(capture.id))
            photo = ImportedPhoto(capture.idx, capture.attempt, outcome.reason)
            (result.verified if outcome.accepted else result.rejected).append(photo)
            if gate.flagged(capture.id):
                result.flagged.append(photo)
        result.still_missing.extend(sorted(c.idx for c in waiting.values()))
        rec = reconcile(store, session_id, project.objects)
        if record.state == SessionState.PAUSED and record.reason == AWAITING_IMPORT and rec.clean:
            store.transition(session_id, "finish", None, rec.to_dict())
    return PhotoImport(
        result.verified,
        result.rejected,
        result.unmatched,
        result.skipped,
        result.flagged,
        result.still_missing,
        rec,
    )


@dataclass
class ImportGate:
    """The learned quality gate over imported photos (inert without a run)."""

    scorer: QualityScorer | None
    store: SessionStore | None = None
    _flagged: set[int] = field(default_factory=set)

    @classmethod
    def open(cls, run: str | None, store: SessionStore) -> ImportGate:
        return cls(QualityScorer(Path(run)) if run else None, store)

    def judge(self, capture_id: int) -> Callable[[RegistrationOutcome], str | None] | None:
        """The refusal check for one capture's verified photo (stores the decision)."""
        if self.scorer is None:
            return None
        scorer = self.scorer

        def check(outcome: RegistrationOutcome) -> str | None:
            from rig.library.frames import decode_png
            from rig.quality.gate import judge_learned
            from rig.quality.store import save_gate_decision

            if outcome.aligned_png is None:
                return None
            decision = judge_learned(scorer, decode_png(outcome.aligned_png))
            assert self.store is not None
            save_gate_decision(self.store.db, capture_id, replace(decision, gate="learned"))
            if decision.retake:
                self._flagged.add(capture_id)
            return decision.reason

        return check

    def flagged(self, capture_id: int) -> bool:
        return capture_id in self._flagged
