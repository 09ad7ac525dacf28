"""End-of-session reconciliation: displayed = captured = verified = stored, per item."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from rig.errors import StoreError
from rig.session.states import CaptureState
from rig.session.store import SessionStore
from rig.store.objects import ObjectStore

PROBLEMS = ("not_displayed", "not_captured", "not_verified", "duplicates", "not_stored")


@dataclass(frozen=True)
class Reconciliation:
    """What a session holds; ``clean`` only when each item has exactly one verified, stored photo."""

    items: int
    displayed: int
    captured: int
    verified: int
    stored: int
    retakes: int
    pending: int  # items without a verified photo
    pending_import: list[int] = field(default_factory=list)  # photos still on a CheXpeditor phone
    problems: dict[str, list[int]] = field(default_factory=dict)  # only the non-empty ones
    clean: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One line: how many items are verified and what keeps it from being clean."""
        parts = [
            f"{name.replace('_', ' ')}: item{'s' if len(items) > 1 else ''} "
            f"{', '.join(map(str, items[:10]))}{' …' if len(items) > 10 else ''}"
            for name, items in self.problems.items()
        ]
        return "; ".join([f"{self.verified} of {self.items} items verified", *parts])

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reconciliation:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def reconcile(store: SessionStore, session_id: str, objects: ObjectStore) -> Reconciliation:
    """Check every item of the session against its captures and the object store."""
    items = [item.idx for item in store.items(session_id)]
    shown = store.shown_items(session_id)
    captures = store.captures(session_id)
    captured = {c.idx for c in captures if c.photo_sha256}
    verified: dict[int, list[str]] = {}
    for c in captures:
        if c.state == CaptureState.VERIFIED and c.photo_sha256:
            verified.setdefault(c.idx, []).append(c.photo_sha256)
    problems: dict[str, list[int]] = {name: [] for name in PROBLEMS}
    for idx in items:
        if idx not in shown:
            problems["not_displayed"].append(idx)
        if idx not in captured:
            problems["not_captured"].append(idx)
        shas = verified.get(idx, [])
        if not shas:
            problems["not_verified"].append(idx)
        elif len(shas) > 1:
            problems["duplicates"].append(idx)
        if any(not _readable(objects, sha) for sha in shas):
            problems["not_stored"].append(idx)
    waiting = {c.idx for c in captures if c.state == CaptureState.PENDING}
    return Reconciliation(
        items=len(items),
        displayed=len(shown),
        captured=len(captured),
        verified=len(verified),
        stored=sum(1 for idx in verified if idx not in problems["not_stored"]),
        retakes=store.retakes(session_id),
        pending=len(problems["not_verified"]),
        pending_import=sorted(waiting - set(verified)),
        problems={k: v for k, v in problems.items() if v},
        clean=not any(problems.values()),
    )


def _readable(objects: ObjectStore, sha: str) -> bool:
    try:
        objects.get(sha)
    except StoreError:
        return False
    return True
