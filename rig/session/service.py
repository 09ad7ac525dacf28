"""Starting, resuming and replaying sessions: plan → items → capturer → runner.

The CLI and the GUI call these; they own no I/O of their own beyond what they are
handed (display, event listeners). Camera URLs pick a capturer from a registry:

    sim[?preset=P&faults=SPEC&shot_ms=N&seed=S]   in-process simulated phone (protocol, loopback)
    phone                                         a real or `rig phone-sim` phone pairs by QR
    sim:PRESET, usb:..., gphoto:                  a camera device (rig.devices) photographs the screen
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rig.devices.display import Display
from rig.errors import UsageError
from rig.project import Project
from rig.session import records
from rig.session.capture import Capturer, DeviceCapturer
from rig.session.conditions import ConditionDriver
from rig.session.events import EventBus
from rig.session.phone import PairingRecord, ProtocolCapturer, SimPhoneOptions, phone_network
from rig.session.plan import CapturePlan, expand_items, select_sources, split_camera
from rig.session.runner import SessionRunner


@dataclass
class SessionContext:
    """Everything a run needs besides the project: where to tell the operator things."""

    display: Display
    bus: EventBus
    on_pairing: Callable[[str, PairingRecord], None] | None = None
    on_warning: Callable[[str], None] | None = None


def session_dir(project: Project, session_id: str) -> Path:
    return project.root / "sessions" / session_id


def check_plan(plan: CapturePlan) -> None:
    """Fail before anything is stored if the plan cannot run (layout vs screen, camera URL)."""
    from calibration.fiducials import FiducialLayout, LayoutError, validate_layout

    try:
        validate_layout(
            FiducialLayout.from_dict(plan.layout), (plan.screen_width, plan.screen_height)
        )
    except (LayoutError, TypeError) as exc:
        raise UsageError(f"plan: fiducial layout {plan.layout or 'default'}: {exc}") from exc
    if _is_device_url(plan.camera):
        from rig.devices.urls import parse_camera_url

        parse_camera_url(plan.camera)


def create(project: Project, plan: CapturePlan) -> str:
    """Store a new session with its items; return its id (nothing is shown yet)."""
    check_plan(plan)
    db = project.db()
    try:
        sources = select_sources(db, plan.sources)
        items = expand_items(plan, sources)
        if not items:
            raise UsageError(
                f"--sources '{plan.sources}' selects no source; import some with 'rig import'"
            )
        session_id = records.new_session_id()
        pairing = PairingRecord.fresh() if _uses_protocol(plan.camera) else None
        records.create_session(
            db,
            session_id,
            plan.to_dict(),
            plan.camera,
            [(s, None) for s in items],
            layout=plan.layout,
            conditions=plan.conditions,
            pairing=pairing.to_dict() if pairing else None,
        )
    finally:
        db.close()
    return session_id


def load(project: Project, session_id: str) -> tuple[CapturePlan, dict[str, Any]]:
    db = project.db()
    try:
        row = next(
            iter(db.query("SELECT plan, pairing FROM sessions WHERE id=?", [session_id])), None
        )
    finally:
        db.close()
    if row is None:
        raise UsageError(f"no such session: {session_id}; see 'rig session list'")
    return CapturePlan.from_dict(json.loads(row["plan"])), json.loads(row["pairing"] or "{}")


def _uses_protocol(camera: str) -> bool:
    return camera.split("?")[0] in ("sim", "phone")


def _is_device_url(camera: str) -> bool:
    return not _uses_protocol(camera) and not camera.startswith("chexpeditor://")


def build_capturer(
    project: Project,
    session_id: str,
    plan: CapturePlan,
    pairing: dict[str, Any],
    ctx: SessionContext,
) -> Capturer:
    base = plan.camera.split("?")[0]
    if base in ("sim", "phone"):
        record = PairingRecord(**pairing) if pairing else PairingRecord.fresh()
        sim = None
        if base == "sim":
            q = split_camera(plan.camera)[1]
            preset = q.get("preset", "paper-lcd-iphone")
            sim = SimPhoneOptions(
                preset=None if preset == "none" else preset,
                faults=q.get("faults", ""),
                shot_ms=float(q.get("shot_ms", 0)),
                seed=int(q.get("seed", 0)),
            )
        return ProtocolCapturer(
            record,
            session_dir(project, session_id) / "uploads",
            ctx.display.tap,
            sim,
            on_pairing=_keep_pairing(project, session_id, ctx.on_pairing),
            network=phone_network(plan.camera) if base == "phone" else None,
        )
    if base.startswith("chexpeditor://"):
        return _chexpeditor(project, session_id, plan, ctx)
    from rig.devices.urls import open_camera

    return DeviceCapturer(open_camera(plan.camera), plan.camera)


def _chexpeditor(
    project: Project, session_id: str, plan: CapturePlan, ctx: SessionContext
) -> Capturer:
    """``chexpeditor://HOST:PORT?row_start=N&frames=DIR``: needs the insecure flag in the plan."""
    from urllib.parse import urlsplit

    from rig.session.chexpeditor import ChexpeditorCapturer

    if not plan.insecure_chexpeditor:
        raise UsageError(
            "the CheXpeditor protocol is unauthenticated: pass --insecure-chexpeditor "
            "to use it (on a private network only)"
        )
    url = urlsplit(plan.camera)
    q = split_camera(plan.camera)[1]
    if not url.hostname:
        raise UsageError(f"camera '{plan.camera}': write chexpeditor://HOST:PORT")
    frames = Path(q["frames"]) if "frames" in q else None
    return ChexpeditorCapturer(
        url.hostname, url.port or 4445, int(q.get("row_start", 0)), frames, warn=ctx.on_warning
    )


def _keep_pairing(
    project: Project, session_id: str, then: Callable[[str, PairingRecord], None] | None
) -> Callable[[str, PairingRecord], None]:
    def keep(uri: str, record: PairingRecord) -> None:
        db = project.db()
        try:
            with db.conn:
                db.execute(
                    "UPDATE sessions SET pairing=? WHERE id=?",
                    [json.dumps(record.to_dict()), session_id],
                )
        finally:
            db.close()
        if then is not None:
            then(uri, record)

    return keep


def make_runner(
    project: Project, session_id: str, ctx: SessionContext, capturer: Capturer | None = None
) -> SessionRunner:
    """The runner of a stored session (new or resumed); the GUI keeps it for pause/stop."""
    plan, pairing = load(project, session_id)
    capturer = capturer or build_capturer(project, session_id, plan, pairing, ctx)
    conditions = ConditionDriver(
        plan, _n_items(project, session_id), _controller(plan), getattr(capturer, "camera", None)
    )
    return SessionRunner(
        project, session_id, plan, capturer, ctx.display, ctx.bus, conditions=conditions
    )


def _n_items(project: Project, session_id: str) -> int:
    db = project.db()
    try:
        return int(
            db.execute("SELECT count(*) FROM items WHERE session_id=?", [session_id]).fetchone()[0]
        )
    finally:
        db.close()


def _controller(plan: CapturePlan) -> Any:
    if not plan.controller:
        return None
    from rig.devices.urls import open_controller

    return open_controller(plan.controller)


async def run(
    project: Project, session_id: str, ctx: SessionContext, capturer: Capturer | None = None
) -> dict[str, Any]:
    """Run (or resume) a session to its end; return the reconciliation."""
    return await make_runner(project, session_id, ctx, capturer).run()
