"""Which pairs an export holds: verified captures with their ground truth, labels and conditions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from rig.errors import UsageError
from rig.session.plan import split_camera
from rig.session.states import CaptureState, SessionState


@dataclass
class Pair:
    pair_id: str
    session_id: str
    idx: int
    attempt: int
    source_id: int
    patient: str
    study: str
    view: str | None
    photo_sha256: str
    ground_truth_sha256: str
    aligned_sha256: str | None
    mask_sha256: str | None
    verified: bool
    quality: dict[str, float | None]
    labels: dict[str, float | None] = field(default_factory=dict)
    conditions: dict[str, Any] = field(default_factory=dict)
    split: str = ""
    # How the ground truth relates to the source rendered at full resolution:
    # gt_scale, gt_reduction, gt/source sizes (rig.library.frames.display_facts).
    display: dict[str, Any] = field(default_factory=dict)
    original_sha256: str | None = None  # the full-resolution rendering, when reduced


_QUERY = """
SELECT c.session_id, c.idx, c.attempt, c.state, c.photo_sha256, c.conditions AS c_cond,
       c.device, i.source_id, i.conditions AS i_cond, s.conditions AS s_cond, s.camera,
       src.patient_id, src.study_id, src.view, fr.object_sha256 AS gt_sha,
       fr.facts AS gt_facts, fr.width AS gt_width, fr.height AS gt_height,
       r.aligned_sha256, r.mask_sha256, r.psnr_db, r.ssim, r.reproj_err_px, r.residual_px,
       r.verdict
FROM captures c
JOIN items i ON i.session_id = c.session_id AND i.idx = c.idx
JOIN sessions s ON s.id = c.session_id
JOIN sources src ON src.id = i.source_id
JOIN frames fr ON fr.id = i.frame_id
LEFT JOIN registrations r ON r.capture_id = c.id
WHERE c.photo_sha256 IS NOT NULL {where}
ORDER BY c.session_id, c.idx, c.attempt
"""


def camera_preset(camera: str) -> str:
    """The simulated-camera preset a camera URL names ('' for real cameras)."""
    base, params = split_camera(camera)
    if base.startswith("sim:"):
        return base[4:] or "paper-lcd-iphone"
    if base == "sim":
        return params.get("preset", "paper-lcd-iphone")
    return ""


# Sessions exported when none are named: capture sessions that finished (a resumed
# session finishes like any other). QA replays (plans with ``replay_of``) and planned,
# running, paused (stopped), failed or aborted sessions are left out unless named
# (or, for replays, --include-replays).
EXPORTED_STATES = frozenset({SessionState.FINISHED})


@dataclass(frozen=True)
class SessionChoice:
    sessions: tuple[str, ...]
    skipped: tuple[str, ...]  # "ID (why)" for each session left out


def choose_sessions(
    db: sqlite_utils.Database, named: Sequence[str], include_replays: bool = False
) -> SessionChoice:
    """The sessions to export: ``named`` as given (``select_pairs`` checks they exist),
    else the finished capture sessions."""
    if named:
        return SessionChoice(tuple(dict.fromkeys(named)), ())
    rows = db.query("SELECT id, state, reason, plan FROM sessions ORDER BY created_at, id")
    chosen: list[str] = []
    skipped: list[str] = []
    for row in rows:
        replay = bool(_json(row["plan"]).get("replay_of"))
        state = SessionState(row["state"])
        if state not in EXPORTED_STATES:
            why = f"{state}: {row['reason']}" if row["reason"] else str(state)
            skipped.append(f"{row['id']} ({why})")
        elif replay and not include_replays:
            skipped.append(f"{row['id']} (QA replay)")
        else:
            chosen.append(row["id"])
    return SessionChoice(tuple(chosen), tuple(skipped))


def _check_known(db: sqlite_utils.Database, sessions: Sequence[str]) -> None:
    known = {row["id"] for row in db.query("SELECT id FROM sessions")}
    if missing := [s for s in sessions if s not in known]:
        raise UsageError(f"no such session: {', '.join(missing)}; see 'rig session list'")


def _json(text: str | None) -> dict[str, Any]:
    return json.loads(text) if text else {}


def select_pairs(
    db: sqlite_utils.Database, sessions: Sequence[str], include_unverified: bool = False
) -> list[Pair]:
    """Pairs of ``sessions`` (every session when empty; an export names the ones
    ``choose_sessions`` chose), verified only unless asked."""
    _check_known(db, sessions)
    where, params = "", list(sessions)
    if sessions:
        where += f" AND c.session_id IN ({','.join('?' * len(sessions))})"
    if not include_unverified:
        where += " AND c.state = ?"
        params.append(CaptureState.VERIFIED)
    labels = _labels(db)
    pairs = []
    for row in db.query(_QUERY.format(where=where), params):
        conditions = {**_json(row["s_cond"]), **_json(row["i_cond"]), **_json(row["c_cond"])}
        conditions.setdefault("camera", row["camera"])
        if preset := camera_preset(row["camera"]):
            conditions.setdefault("preset", preset)
        pairs.append(
            Pair(
                pair_id=f"{row['session_id']}-{row['idx']:05d}-a{row['attempt']}",
                session_id=row["session_id"],
                idx=row["idx"],
                attempt=row["attempt"],
                source_id=row["source_id"],
                patient=row["patient_id"],
                study=row["study_id"],
                view=row["view"],
                photo_sha256=row["photo_sha256"],
                ground_truth_sha256=row["gt_sha"],
                aligned_sha256=row["aligned_sha256"],
                mask_sha256=row["mask_sha256"],
                verified=row["state"] == "verified",
                quality={k: row[k] for k in ("psnr_db", "ssim", "reproj_err_px", "residual_px")},
                labels=labels.get(row["source_id"], {}),
                conditions=conditions,
                display=_display(row),
                original_sha256=_json(row["gt_facts"]).get("display", {}).get("source_sha256"),
            )
        )
    return pairs


def _display(row: dict[str, Any]) -> dict[str, Any]:
    """Ground truth vs the full-resolution rendering: the same unless the screen reduced it."""
    shown = _json(row["gt_facts"]).get("display")
    width, height = row["gt_width"], row["gt_height"]
    if not shown:
        return {"gt_scale": 1.0, "gt_reduction": 1, "gt_width": width, "gt_height": height,
                "source_width": width, "source_height": height}  # fmt: skip
    return {
        "gt_scale": shown["scale"],
        "gt_reduction": shown["reduction"],
        "gt_width": width,
        "gt_height": height,
        "source_width": shown["source_width"],
        "source_height": shown["source_height"],
        "gt_resampling": shown["resampling"],
    }


def _labels(db: sqlite_utils.Database) -> dict[int, dict[str, float | None]]:
    out: dict[int, dict[str, float | None]] = {}
    for row in db.query("SELECT source_id, name, value FROM labels ORDER BY source_id, name"):
        out.setdefault(row["source_id"], {})[row["name"]] = row["value"]
    return out


def stratum(pair_labels: dict[str, float | None]) -> str:
    """Stratum key of a patient's labels: its positive findings, sorted."""
    return "|".join(sorted(k for k, v in pair_labels.items() if v == 1)) or "-"
