"""Creating, running, resuming, aborting and deleting sessions: the API the CLI and GUI call.

They own no I/O of their own beyond what they are handed (display, event listeners).
Everything that can be checked is checked before a session row exists (``validate``:
plan, placement and screen size (settled against rig.toml), fiducial layout, camera URL through the one registry of camera URLs,
controller URL, sources query), so a bad request leaves nothing behind.

Camera URLs (rig.devices.urls.CAMERA_BACKENDS):

    sim[?preset=P&faults=SPEC&shot_ms=N&seed=S]   in-process simulated phone (protocol, loopback)
    phone                                         a real or `rig phone-sim` phone pairs by QR
    chexpeditor://HOST:PORT?frames=DIR            an unmodified CheXpeditor app
    sim:PRESET, usb:..., gphoto:                  a camera device (rig.devices) photographs the screen
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rig.devices.controller import RigController
from rig.devices.display import Display
from rig.devices.sim_camera import SimCamera
from rig.errors import UsageError
from rig.project import Project
from rig.session.capture import Capturer, CapturerEnv, CapturerSpec, DeviceCapturer, capturer_spec
from rig.session.clock import Clock
from rig.session.conditions import ConditionDriver
from rig.session.diskspace import ensure_resume_room, ensure_session_room
from rig.session.events import EventBus, PhonePaired
from rig.session.phone import PairingRecord
from rig.session.plan import CapturePlan, expand_items, select_sources
from rig.session.reconcile import Reconciliation
from rig.session.removal import Removal, remove_session, session_dir
from rig.session.runner import SessionRunner
from rig.session.states import ItemState, SessionState
from rig.session.store import SessionStore

__all__ = [
    "SessionContext",
    "abort",
    "create",
    "delete",
    "make_runner",
    "run",
    "session_dir",
    "validate",
]


@dataclass
class SessionContext:
    """Everything a run needs besides the project: where to tell the operator things."""

    display: Display
    bus: EventBus
    on_pairing: Callable[[str, PairingRecord], None] | None = None
    on_warning: Callable[[str], None] | None = None
    clock: Clock | None = None


def validate(plan: CapturePlan) -> CapturerSpec:
    """Fail with a usage error before anything is stored if the plan cannot run."""
    from calibration.fiducials import FiducialLayout, LayoutError, validate_layout

    plan.validate()
    try:
        validate_layout(FiducialLayout.from_dict(plan.layout), plan.screen_wh)
    except (LayoutError, TypeError) as exc:
        raise UsageError(f"plan: fiducial layout {plan.layout or 'default'}: {exc}") from exc
    spec = capturer_spec(plan)
    _controller(plan)
    return spec


def create(project: Project, plan: CapturePlan) -> str:
    """Store a new session with its items; return its id (nothing is shown yet).

    The stored plan is settled: what it left unset (screen size, placement) is taken
    from rig.toml now, so a resume or replay shows exactly what this session showed.
    """
    plan = plan.settled(project.config.display)
    spec = validate(plan)
    with SessionStore.open(project) as store:
        items = expand_items(plan, select_sources(store.db, plan.sources))
        if not items:
            raise UsageError(
                f"--sources '{plan.sources}' selects no source; import some with 'rig import'"
            )
        ensure_session_room(project, plan, len(items))  # before the session row exists
        pairing = PairingRecord.fresh().to_dict() if spec.pairs else None
        return store.create_session(plan, [(s, None) for s in items], pairing)


def make_runner(
    project: Project, session_id: str, ctx: SessionContext, capturer: Capturer | None = None
) -> SessionRunner:
    """The runner of a stored session (new or resumed); the GUI keeps it for pause/stop.

    Inert: nothing is opened until ``await runner.run()``.
    """
    ensure_resume_room(project, session_id)  # the items left must fit, new run or resume
    with SessionStore.open(project) as store:
        record = store.session(session_id)
        n_items = store.count_items(session_id)
    plan = record.plan
    if capturer is None:
        env = CapturerEnv(
            session_dir(project, session_id),
            record.pairing,
            ctx.display.tap,
            _keep_pairing(project, session_id, ctx.on_pairing),
            ctx.on_warning,
            lambda peer: ctx.bus.emit(PhonePaired(session_id, peer=peer)),
        )
        capturer = capturer_spec(plan).build(env)
    camera = capturer.camera if isinstance(capturer, DeviceCapturer) else None
    sim_camera = camera if isinstance(camera, SimCamera) else None
    conditions = ConditionDriver(plan, n_items, _controller(plan), sim_camera)
    return SessionRunner(
        project, session_id, plan, capturer, ctx.display, ctx.bus, ctx.clock, conditions
    )


def _keep_pairing(
    project: Project, session_id: str, then: Callable[[str, PairingRecord], None] | None
) -> Callable[[str, PairingRecord], None]:
    def keep(uri: str, record: PairingRecord) -> None:
        with SessionStore.open(project) as store:
            store.set_pairing(session_id, record.to_dict())
        if then is not None:
            then(uri, record)

    return keep


def _controller(plan: CapturePlan) -> RigController | None:
    if not plan.controller:
        return None
    from rig.devices.urls import open_controller

    return open_controller(plan.controller)


async def run(
    project: Project, session_id: str, ctx: SessionContext, capturer: Capturer | None = None
) -> Reconciliation:
    """Run (or resume) a session to its end; return the reconciliation."""
    return await make_runner(project, session_id, ctx, capturer).run()


def abort(project: Project, session_id: str, reason: str = "aborted by operator") -> None:
    """Mark a session aborted (final). A runner working on it stops at its next item."""
    with SessionStore.open(project) as store:
        store.transition(session_id, "abort", reason)


def delete(project: Project, session_id: str, force: bool = False) -> Removal:
    """Remove a session, its folder and the objects only it named.

    Refused (usage error) when it holds verified pairs or may still be running, unless
    ``force``.
    """
    with SessionStore.open(project) as store:
        state = store.state(session_id)
        verified = store.count_items(session_id, ItemState.VERIFIED)
        if not force and verified:
            raise UsageError(
                f"session {session_id} has {verified} verified pairs; "
                "add --force to delete them too"
            )
        if not force and state == SessionState.RUNNING:
            raise UsageError(
                f"session {session_id} is running; abort it first "
                f"('rig session abort {session_id}') or add --force"
            )
        return remove_session(project, store, session_id)
