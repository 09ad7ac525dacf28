"""Registering stored photos of a session again: ``rig register`` and ``rig import-photos``.

A photo is registered against the exact screen frame of its attempt (re-composed
from the stored plan) with the same pure step the runner uses (rig.session.verify);
the verdict goes through the session store like any other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from calibration.fiducials import FiducialLayout
from rig.project import Project
from rig.session.frames import prepare_item
from rig.session.plan import CapturePlan
from rig.session.states import CaptureState
from rig.session.store import CaptureRecord, SessionStore
from rig.session.verify import RegistrationOutcome, register_prepared


@dataclass(frozen=True)
class VerdictChange:
    item: int
    attempt: int
    now: str  # accepted | rejected
    reason: str | None


@dataclass(frozen=True)
class Reregistration:
    session: str
    photos: int
    accepted: int
    rejected: int
    changed: list[VerdictChange] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def verify_capture(
    project: Project,
    store: SessionStore,
    plan: CapturePlan,
    capture: CaptureRecord,
    jpeg: bytes,
    refuse: str | None = None,
    judge: Callable[[RegistrationOutcome], str | None] | None = None,
) -> RegistrationOutcome:
    """Register a stored photo of ``capture`` and record the verdict (``refuse`` overrides
    an acceptance with that reason, e.g. when the item already has a verified photo;
    ``judge`` may refuse an accepted photo with its reason, e.g. the learned quality gate)."""
    plan = plan.settled(project.config.display)  # a no-op for a plan stored by service.create
    layout = FiducialLayout.from_dict(plan.layout)
    prepared = prepare_item(
        project,
        capture.session_id,
        capture.idx,
        capture.attempt,
        capture.source_id,
        layout,
        plan.screen_wh,
        plan.placement,
    )
    outcome = register_prepared(prepared, jpeg, layout)
    if refuse is None and judge is not None and outcome.accepted:
        refuse = judge(outcome)
    if refuse is not None and outcome.accepted:
        outcome = outcome.refused(refuse)
    aligned = project.objects.put(outcome.aligned_png) if outcome.aligned_png else None
    mask = project.objects.put(outcome.mask_png) if outcome.mask_png else None
    store.record_registration(capture.id, outcome, aligned, mask)
    return outcome


def reregister_session(project: Project, session_id: str) -> Reregistration:
    """Register every stored or verified photo of a session again (e.g. after calibration).

    A verified photo that no longer passes takes its item back to 'shown' (``rig session
    resume`` retakes it); a stored photo that now passes verifies its item, unless the item
    already has a verified one.
    """
    changed: list[VerdictChange] = []
    counts = {"accepted": 0, "rejected": 0}
    with SessionStore.open(project) as store:
        plan = store.session(session_id).plan
        captures = store.captures(session_id, [CaptureState.STORED, CaptureState.VERIFIED])
        for cap in captures:
            others = [
                c
                for c in store.captures(session_id, [CaptureState.VERIFIED], cap.idx)
                if c.id != cap.id
            ]
            assert cap.photo_sha256 is not None
            outcome = verify_capture(
                project,
                store,
                plan,
                cap,
                project.objects.get(cap.photo_sha256),
                "the item already has a verified photo" if others else None,
            )
            if (cap.state == CaptureState.VERIFIED) != outcome.accepted:
                now = "accepted" if outcome.accepted else "rejected"
                changed.append(VerdictChange(cap.idx, cap.attempt, now, outcome.reason))
            counts["accepted" if outcome.accepted else "rejected"] += 1
    return Reregistration(
        session_id, len(captures), counts["accepted"], counts["rejected"], changed
    )
