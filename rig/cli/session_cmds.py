"""``rig session start|resume|list|show|abort|delete|replay``: capture sessions from the terminal.

A thin shell: options are parsed into a plan and its overrides, the library
(rig.session.service, .summary, .replay, .reregister) does the work and returns
typed results, and ``to_dict`` is called only here, for ``--json``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Column, Table

from rig.cli.common import JsonOption, ProjectOption, console, print_json, project_from
from rig.errors import UsageError
from rig.project import Project
from rig.session import events as ev
from rig.session.reconcile import Reconciliation
from rig.session.states import AWAITING_IMPORT, SessionState


def _print_pairing(pairing_file: Path | None) -> Callable[[str, Any], None]:
    from rig.protocol.pairing import qr_matrix, qr_to_text

    def show(uri: str, record: Any) -> None:
        console.print(  # the network choice, so a lab can check it against its firewall (§2)
            f"listening on {record.host} (UDP {record.udp_port}, HTTP {record.http_port}); "
            f"phones connect to {record.advertise or record.host}",
            markup=False, highlight=False,
        )  # fmt: skip
        if pairing_file is not None:
            from rig.atomic import write_text_atomic

            write_text_atomic(pairing_file, uri + "\n")
        try:
            console.print(qr_to_text(qr_matrix(uri)), markup=False, highlight=False)
        except Exception as exc:  # a console that cannot draw the QR code still gets the text
            console.print(f"(no QR code: {exc})")
        console.print(
            f"pair the phone with: {uri}"
            if pairing_file is None
            else f"pairing written to {pairing_file} (rig phone-sim {pairing_file})"
        )

    return show


def _run_with_progress(
    project: Project, session_id: str, pairing_file: Path | None
) -> Reconciliation:
    from rig.devices.display import OffscreenDisplay
    from rig.session import service

    bus = ev.EventBus()
    with Progress(
        TextColumn("[bold]{task.fields[status]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("session", total=None, status=session_id, rate="")

        def on_event(event: ev.SessionEvent) -> None:
            if isinstance(event, ev.SessionStarted):
                progress.update(task, total=event.items)
            elif isinstance(event, ev.Progressed):
                progress.update(task, completed=event.verified, rate=f"{event.rate_per_h:.0f}/h")
            elif isinstance(event, ev.CaptureScored):
                progress.console.print(describe_scores(event), markup=False)
            elif isinstance(event, WARNINGS):
                progress.console.print(f"[yellow]{describe_event(event)}[/]")

        bus.subscribe(on_event)
        ctx = service.SessionContext(
            OffscreenDisplay(),
            bus,
            on_pairing=_print_pairing(pairing_file),
            on_warning=lambda text: progress.console.print(f"[bold red]{text}[/]"),
        )
        return asyncio.run(service.run(project, session_id, ctx))


WARNINGS = (ev.CaptureRejected, ev.CaptureFailed, ev.CameraLost, ev.SessionPaused, ev.ItemFailed)


def describe_event(event: ev.SessionEvent) -> str:
    """One line for the terminal: the event's name and its fields, numbers rounded."""
    fields = {k: v for k, v in event.to_dict().items() if k not in ("kind", "session_id", "ts")}
    return f"{event.kind}: " + ", ".join(f"{k}={fmt_number(v)}" for k, v in fields.items())


def describe_scores(event: ev.CaptureScored) -> str:
    """'item 3 a1 quality: p_bad 0.12, grade 4' (or the reason it has no scores)."""
    cells = event.error or ", ".join(f"{k} {fmt_number(v)}" for k, v in event.scores.items())
    return f"item {event.idx} a{event.attempt} {event.model}: {cells}"


def fmt_number(value: Any) -> str:
    """Numbers as people read them: 3238.08117836819 -> 3238.1, 0.95312 -> 0.953, 2.50 -> 2.5."""
    if isinstance(value, float):
        text = f"{value:.1f}" if abs(value) >= 100 else f"{value:.3f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return "n/a" if value is None else str(value)


def fmt_duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def _report(session_id: str, rec: Reconciliation) -> None:
    colour = "green" if rec.clean else "red"
    console.print(
        f"[{colour}]session {session_id}: {rec.verified}/{rec.items} verified, "
        f"{rec.retakes} retakes[/]"
    )
    for problem, items in rec.problems.items():
        console.print(f"[red]  {problem}: items {items[:20]}{' …' if len(items) > 20 else ''}[/]")


def cmd_start(
    plan_file: Path | None = typer.Option(None, "--plan", help="Capture plan (TOML)."),
    sources: str | None = typer.Option(
        None, "--sources", help="all | ids:1,2,5-9 | label:NAME=1 | csv:FILE | range:A:B"
    ),
    camera: str | None = typer.Option(
        None,
        "--camera",
        help="sim[?preset=P&faults=SPEC&shot_ms=N&upload_ms=N] | phone | usb:… | gphoto: | "
        "sim:PRESET",
    ),
    headless: bool = typer.Option(
        False, "--headless", help="No windows: offscreen display (the default here)."
    ),
    limit: int | None = typer.Option(None, "--limit", help="At most N items (N >= 1)."),
    condition: list[str] = typer.Option(
        [], "--condition", help="Capture condition key=value (repeatable)."
    ),
    pairing_file: Path | None = typer.Option(
        None, "--pairing-file", help="Write the pairing text here."
    ),
    controller: str | None = typer.Option(
        None, "--controller", help="Rig controller: serial:PATH or sim:"
    ),
    sweep: list[str] = typer.Option(
        [], "--sweep", help="Condition sweep, e.g. lights=off,on,dim (repeatable)."
    ),
    sweep_every: int = typer.Option(0, "--sweep-every", help="Items per sweep step."),
    placement: str | None = typer.Option(
        None,
        "--placement",
        help="auto | 1:1 | integer | fit (default: the plan's, else rig.toml [display], else auto).",
    ),
    insecure_chexpeditor: bool = typer.Option(
        False,
        "--insecure-chexpeditor",
        help="Allow --camera chexpeditor://HOST:PORT (unauthenticated).",
    ),
    bind: str | None = typer.Option(
        None, "--bind", help="--camera phone: listen on this address (default: all interfaces)."
    ),
    advertise: str | None = typer.Option(
        None, "--advertise", help="--camera phone: address the phone is told (default: route)."
    ),
    udp_port: int | None = typer.Option(None, "--udp-port", help="Fixed UDP control port."),
    http_port: int | None = typer.Option(None, "--http-port", help="Fixed HTTP upload port."),
    min_grade: int | None = typer.Option(
        None, "--min-grade", help="Quality gate: retake photos graded below this (1: off; "
        "default: the plan's, else rig.toml [quality])."
    ),
    quality_gate: Path | None = typer.Option(
        None, "--quality-gate", help="Run of 'rig train quality': P(bad) of every verified "
        "photo, scored in the background and shown."
    ),
    classifier: Path | None = typer.Option(
        None, "--classifier", help="Run of 'rig train classify': P(label) of every verified "
        "photo, scored in the background and shown."
    ),
    json_out: JsonOption = False,
    project: ProjectOption = None,
) -> None:
    """Start a capture session; prints the reconciliation at the end (exit 1 if not clean)."""
    from rig.devices.sweeps import parse_sweeps
    from rig.session import service
    from rig.session.plan import CapturePlan, PlanOverrides, load_plan, parse_conditions

    proj = project_from(project)
    overrides = PlanOverrides(
        sources=sources,
        camera=camera,
        limit=limit,
        conditions=parse_conditions(condition),
        controller=controller,
        sweeps=parse_sweeps(sweep) if sweep else {},
        sweep_every=sweep_every or None,
        insecure_chexpeditor=insecure_chexpeditor,
        placement=placement,
        camera_options=_network_options(bind, advertise, udp_port, http_port),
        min_grade=min_grade,
        quality_gate=_run_folder(quality_gate, "--quality-gate", "quality_run.json"),
        classifier=_run_folder(classifier, "--classifier", "best.pt"),
    )
    plan = overrides.apply(load_plan(plan_file) if plan_file else CapturePlan())
    session_id = service.create(proj, plan)
    console.print(f"session {session_id}: {plan.camera}, sources {plan.sources}")
    rec = _run_with_progress(proj, session_id, pairing_file)
    _finish(proj, session_id, rec, json_out)


def _run_folder(run: Path | None, flag: str, marker: str) -> str | None:
    """A model run given on the command line, checked before the session exists."""
    if run is None:
        return None
    if not (run / marker).is_file():
        raise UsageError(f"{flag} {run}: not a run folder (no {marker}); train one first")
    return str(run.resolve())


def _network_options(
    bind: str | None, advertise: str | None, udp_port: int | None, http_port: int | None
) -> dict[str, str]:
    """``--bind/--advertise/--udp-port/--http-port`` as options of the camera URL (checked by
    ``rig.session.phone`` before the session exists, kept in the plan for resume)."""
    given = {"bind": bind, "advertise": advertise, "udp_port": udp_port, "http_port": http_port}
    return {key: str(value) for key, value in given.items() if value is not None}


def _finish(proj: Project, session_id: str, rec: Reconciliation, json_out: bool) -> None:
    """Exit 0 when clean, or when deliberately incomplete (stopped by the operator, or
    photos waiting on a CheXpeditor phone for import); 1 for any other mismatch."""
    from rig.session.summary import summarize

    summary = summarize(proj, session_id)
    if json_out:
        print_json(
            {"id": session_id, "state": summary.state, "reason": summary.reason, **rec.to_dict()}
        )
    _report(session_id, rec)
    if summary.reason == AWAITING_IMPORT:
        console.print(
            f"photos wait on the phone: rig import-photos DIR --chexpeditor --session {session_id}"
        )
    elif summary.state == SessionState.PAUSED:
        console.print(
            f"session {session_id} paused ({summary.reason}): rig session resume {session_id}"
        )
    elif summary.state == SessionState.FAILED:
        console.print(f"[red]session {session_id} failed: {summary.reason}[/]")
    raise typer.Exit(0 if rec.clean or summary.state == SessionState.PAUSED else 1)


def cmd_resume(
    session_id: str = typer.Argument(..., help="Session id."),
    pairing_file: Path | None = typer.Option(
        None, "--pairing-file", help="Write the pairing text here."
    ),
    json_out: JsonOption = False,
    project: ProjectOption = None,
) -> None:
    """Continue a session from the first item without a verified photo."""
    proj = project_from(project)
    rec = _run_with_progress(proj, session_id, pairing_file)
    _finish(proj, session_id, rec, json_out)


def cmd_list(json_out: JsonOption = False, project: ProjectOption = None) -> None:
    """List the sessions of the project."""
    from rig.session.store import SessionStore

    with SessionStore.open(project_from(project)) as store:
        rows = store.list_sessions()
    if json_out:
        print_json({"sessions": [r.to_dict() for r in rows]})
        return
    # ids are what the other commands take: never shortened, whatever the terminal width
    id_column = Column("id", no_wrap=True, min_width=max((len(r.id) for r in rows), default=2))
    table = Table(id_column, "state", "camera", "items", "verified", "created", "reason")
    for r in rows:
        table.add_row(
            r.id,
            str(r.state),
            r.camera,
            str(r.items),
            str(r.verified),
            r.created_at[:19],
            r.reason or "",
        )
    console.print(table)


def cmd_show(
    session_id: str = typer.Argument(...),
    json_out: JsonOption = False,
    project: ProjectOption = None,
) -> None:
    """Counts, rates, retakes, rejections by reason, reconciliation and timings of a session."""
    from rig.session.summary import summarize

    summary = summarize(project_from(project), session_id)
    data = summary.to_dict()
    if json_out:
        print_json(data)
        return
    shown = {
        **{
            k: data[k]
            for k in (
                "id",
                "state",
                "reason",
                "camera",
                "items",
                "verified",
                "skipped",
                "duplicates",
                "retakes",
            )
        },
        "duration": fmt_duration(summary.duration_s),
        "pairs per hour": fmt_number(summary.pairs_per_hour),
    }
    for key, value in shown.items():
        if value is not None:
            console.print(f"{key:>15}: {value}")
    for reason, n in summary.rejections.items():
        console.print(f"{'rejected':>15}: {n} × {reason}")
    _show_quality(summary.quality_gate, summary.scores)
    _report(session_id, summary.reconciliation)


def _show_quality(gate: dict[str, Any], scores: list[dict[str, Any]]) -> None:
    """The quality gate's retakes per figure, and the background models' scores."""
    gated = gate.get("min_grade", 1) > 1 or gate.get("retaken", 0) > 0  # p_bad: the learned gate
    head = f"min grade {gate.get('min_grade')}, {gate.get('retaken', 0)} retaken" if gated else "off"
    console.print(f"{'quality gate':>15}: {head}", markup=False)
    for figure, n in gate.get("by_figure", {}).items():
        console.print(f"{'retaken for':>15}: {n} × {figure}", markup=False)
    for row in scores:
        cells = row["error"] or ", ".join(f"{k} {fmt_number(v)}" for k, v in row["scores"].items())
        console.print(f"{row['model']:>15}: item {row['item']} a{row['attempt']}: {cells}",
                      markup=False)


def cmd_abort(
    session_id: str = typer.Argument(..., help="Session id."),
    project: ProjectOption = None,
) -> None:
    """Mark a stuck or unwanted session aborted (final; a runner on it stops at its next item)."""
    from rig.session import service

    service.abort(project_from(project), session_id)
    console.print(f"session {session_id}: aborted")


def cmd_delete(
    session_id: str = typer.Argument(..., help="Session id."),
    force: bool = typer.Option(
        False, "--force", help="Also when it has verified pairs or is marked running."
    ),
    json_out: JsonOption = False,
    project: ProjectOption = None,
) -> None:
    """Delete a session: its rows, its sessions/<id>/ folder and objects nothing else uses."""
    from rig.session import service

    removal = service.delete(project_from(project), session_id, force)
    if json_out:
        print_json(removal.to_dict())
    console.print(f"session {session_id}: deleted ({removal.objects_removed} objects removed)")


def cmd_gui(
    screen: int = typer.Option(
        -1, "--screen", help="Index of the rig's display (default: the last screen)."
    ),
    windowed: str | None = typer.Option(
        None,
        "--windowed",
        metavar="WxH",
        help="A window of WxH pixels instead of full screen (for trying out), e.g. 1280x800.",
    ),
    resume: str | None = typer.Option(None, "--resume", help="Resume this session at start-up."),
    project: ProjectOption = None,
) -> None:
    """The desktop app: full-screen display on the rig's screen and the operator console."""
    import os
    import sys

    if (
        sys.platform.startswith("linux")
        and not os.environ.get("QT_QPA_PLATFORM")
        and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    ):
        raise UsageError(
            "rig gui needs a display: run it in a desktop session "
            "(or under xvfb-run), or use 'rig session start --headless'"
        )
    try:
        from rig.gui.app import parse_window_size, run_gui
    except ImportError as exc:
        raise UsageError(f"the GUI needs PyQt6 and qasync: pip install 'rig[gui]' ({exc})") from exc
    window_size = parse_window_size(windowed) if windowed else None
    proj = project_from(project)
    raise typer.Exit(run_gui(proj.root, screen, window_size, resume))


def cmd_replay(
    session_id: str = typer.Argument(..., help="The recorded session to replay."),
    faults: str = typer.Option(
        "", "--faults", help="Fault spec, e.g. loss=0.2,dup=0.05,restart_at=10"
    ),
    strict: bool = typer.Option(False, "--strict", help="Also fail on event-sequence differences."),
    json_out: JsonOption = False,
    project: ProjectOption = None,
) -> None:
    """Re-run a session's plan against the simulated phone and compare outcomes and events."""
    from rig.session import service
    from rig.session.replay import compare, create_replay, replay_plan

    proj = project_from(project)
    plan = replay_plan(proj, session_id, faults)
    service.validate(plan)  # a bad fault spec is a usage error before anything is stored
    replay_id = create_replay(proj, plan)
    console.print(
        f"replaying {session_id} as {replay_id}" + (f" with faults {faults}" if faults else "")
    )
    _run_with_progress(proj, replay_id, None)
    result = compare(proj, session_id, replay_id)
    if json_out:
        print_json(result.to_dict())
    for diff in result.outcome_differences[:50]:
        console.print(f"[red]item {diff['item']}: {diff['original']} → {diff['replay']}[/]")
    for diff in result.event_differences[:50]:
        before, after = " ".join(diff["original"]), " ".join(diff["replay"])
        console.print(f"[yellow]item {diff['item']}: {before}  ⇒  {after}[/]")
    console.print(
        f"{len(result.outcome_differences)} outcome and "
        f"{len(result.event_differences)} event-sequence differences"
    )
    failed = not result.same_outcome or (strict and result.event_differences)
    raise typer.Exit(1 if failed else 0)


def cmd_bench_session(
    items: int = typer.Option(40, "--items", help="Items in each session (rig and baseline)."),
    shot_ms: float = typer.Option(500.0, "--shot-ms", help="Fixed camera time per shot."),
    images: int = typer.Option(6, "--images", help="Generated radiographs the items cycle over."),
    json_out: JsonOption = False,
) -> None:
    """rig as users run it (desktop + phone-sim processes) against a CheXpeditor-style loop."""
    from rig.bench.session_bench import run_session_bench

    if items < 2 or shot_ms < 0 or images < 1:
        raise UsageError("--items >= 2, --shot-ms >= 0 and --images >= 1")
    result = run_session_bench(items, shot_ms, images)
    if json_out:
        print_json(result)
        return
    for key, value in result.items():
        if key != "per_item_ms":
            console.print(f"{key:>32}: {value}")


def cmd_import_photos(
    folder: Path = typer.Argument(..., help="Folder of photos exported from the phone."),
    chexpeditor: bool = typer.Option(
        False, "--chexpeditor", help="Photos named by the CheXpeditor app."
    ),
    session_id: str = typer.Option(..., "--session", help="The session that triggered the shots."),
    quality_gate: Path | None = typer.Option(
        None, "--quality-gate", help="Run of 'rig train quality': refuse photos it flags bad "
        "(default: the session's --quality-gate)."),
    json_out: JsonOption = False,
    project: ProjectOption = None,
) -> None:
    """Pair photos kept on a CheXpeditor phone with their items, then register and verify them."""
    from rig.session.import_photos import import_chexpeditor_photos

    if not chexpeditor:
        raise UsageError("only --chexpeditor folders can be imported (name: seq__nonce__parts)")
    run = _run_folder(quality_gate, "--quality-gate", "quality_run.json")
    out = import_chexpeditor_photos(project_from(project), folder, session_id, run)
    if json_out:
        print_json(out.to_dict())
    console.print(
        f"{len(out.verified)} verified, {len(out.rejected)} rejected, "
        f"{len(out.unmatched)} unmatched, {len(out.still_missing)} items still missing"
        + (f", {len(out.flagged)} flagged bad by the quality model" if out.flagged else "")
    )
    for photo in out.rejected:
        console.print(f"  item {photo.item} attempt {photo.attempt}: {photo.reason}")
    raise typer.Exit(0 if not out.rejected and not out.still_missing else 1)


def cmd_register(
    session_id: str = typer.Argument(..., help="Session whose photos to register again."),
    json_out: JsonOption = False,
    project: ProjectOption = None,
) -> None:
    """Register and verify every stored photo of a session again (e.g. after calibration)."""
    from rig.session.reregister import reregister_session
    from rig.session.summary import summarize

    proj = project_from(project)
    out = reregister_session(proj, session_id)
    rec = summarize(proj, session_id).reconciliation
    if json_out:
        print_json({**out.to_dict(), "reconciliation": rec.to_dict()})
    console.print(
        f"{out.photos} photos: {out.accepted} accepted, {out.rejected} rejected, "
        f"{len(out.changed)} verdicts changed"
    )
    for change in out.changed:
        console.print(
            f"  item {change.item} attempt {change.attempt}: now {change.now} {change.reason or ''}"
        )
    raise typer.Exit(0 if rec.clean else 1)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    session = typer.Typer(help="Capture sessions.", no_args_is_help=True)
    session.command("start")(cmd_start)
    session.command("resume")(cmd_resume)
    session.command("list")(cmd_list)
    session.command("show")(cmd_show)
    session.command("abort")(cmd_abort)
    session.command("delete")(cmd_delete)
    app.add_typer(session, name="session")
    session.command("replay")(cmd_replay)
    app.command("import-photos")(cmd_import_photos)
    app.command("register")(cmd_register)
    app.command("gui")(cmd_gui)
    bench_app.command("session")(cmd_bench_session)
