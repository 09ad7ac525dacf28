"""``rig session start|resume|list|show|replay``: capture sessions from the terminal."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from rig.cli.common import JsonOption, ProjectOption, console, print_json, project_from
from rig.errors import UsageError
from rig.project import Project
from rig.session import events as ev


def _print_pairing(pairing_file: Path | None) -> Callable[[str, Any], None]:
    from rig.protocol.pairing import qr_matrix, qr_to_text

    def show(uri: str, _record: Any) -> None:
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
) -> dict[str, Any]:
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
            elif isinstance(
                event, ev.PhotoRejected | ev.CaptureFailed | ev.PhoneLost | ev.SessionPaused
            ):
                progress.console.print(
                    f"[yellow]{event.kind}[/]: "
                    + ", ".join(
                        f"{k}={v}"
                        for k, v in event.to_dict().items()
                        if k not in ("kind", "session_id", "ts")
                    )
                )

        bus.subscribe(on_event)
        ctx = service.SessionContext(
            OffscreenDisplay(),
            bus,
            on_pairing=_print_pairing(pairing_file),
            on_warning=lambda text: progress.console.print(f"[bold red]{text}[/]"),
        )
        return asyncio.run(service.run(project, session_id, ctx))


def _report(session_id: str, summary: dict[str, Any]) -> None:
    colour = "green" if summary["clean"] else "red"
    console.print(
        f"[{colour}]session {session_id}: {summary['verified']}/{summary['items']} verified, "
        f"{summary['retakes']} retakes[/]"
    )
    for problem, items in summary.get("problems", {}).items():
        console.print(f"[red]  {problem}: items {items[:20]}{' …' if len(items) > 20 else ''}[/]")


def cmd_start(
    plan_file: Path | None = typer.Option(None, "--plan", help="Capture plan (TOML)."),
    sources: str | None = typer.Option(
        None, "--sources", help="all | ids:1,2,5-9 | label:NAME=1 | csv:FILE | range:A:B"
    ),
    camera: str | None = typer.Option(
        None,
        "--camera",
        help="sim[?preset=P&faults=SPEC&shot_ms=N] | phone | usb:… | gphoto: | sim:PRESET",
    ),
    headless: bool = typer.Option(
        False, "--headless", help="No windows: offscreen display (the default here)."
    ),
    limit: int | None = typer.Option(None, "--limit", help="At most N items."),
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
    json_out: JsonOption = False,
    project: ProjectOption = None,
) -> None:
    """Start a capture session; prints the reconciliation at the end (exit 1 if not clean)."""
    from dataclasses import replace

    from rig.imaging.compositor import resolve_placement
    from rig.session import service
    from rig.session.plan import CapturePlan, load_plan, parse_conditions

    proj = project_from(project)
    plan = load_plan(plan_file) if plan_file else CapturePlan()
    overrides: dict[str, Any] = {}
    if sources:
        overrides["sources"] = sources
    if camera:
        overrides["camera"] = camera
    if limit:
        overrides["limit"] = limit
    if condition:
        overrides["conditions"] = {**plan.conditions, **parse_conditions(condition)}
    if controller:
        overrides["controller"] = controller
    if sweep:
        from rig.devices.sweeps import parse_sweeps

        overrides["sweeps"] = parse_sweeps(sweep)
    if sweep_every:
        overrides["sweep_every"] = sweep_every
    if insecure_chexpeditor:
        overrides["insecure_chexpeditor"] = True
    overrides["placement"] = resolve_placement(
        placement, plan.placement, proj.config.display.placement
    )
    plan = replace(plan, **overrides)
    plan.validate()
    session_id = service.create(proj, plan)
    console.print(f"session {session_id}: {plan.camera}, sources {plan.sources}")
    summary = _run_with_progress(proj, session_id, pairing_file)
    _finish(proj, session_id, summary, json_out)


def _finish(proj: Project, session_id: str, summary: dict[str, Any], json_out: bool) -> None:
    """Exit 0 when clean, or when deliberately incomplete (stopped by the operator, or
    photos waiting on a CheXpeditor phone for import); 1 for any other mismatch."""
    state = session_summary(proj, session_id)["state"]
    if json_out:
        print_json({"id": session_id, "state": state, **summary})
    _report(session_id, summary)
    if state == "awaiting-import":
        console.print(
            f"photos wait on the phone: rig import-photos DIR --chexpeditor --session {session_id}"
        )
    raise typer.Exit(0 if summary["clean"] or state in ("stopped", "awaiting-import") else 1)


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
    summary = _run_with_progress(proj, session_id, pairing_file)
    _finish(proj, session_id, summary, json_out)


def session_summary(proj: Project, session_id: str) -> dict[str, Any]:
    from rig.session.reconcile import reconcile

    db = proj.db()
    try:
        row = next(iter(db.query("SELECT * FROM sessions WHERE id=?", [session_id])), None)
        if row is None:
            raise UsageError(f"no such session: {session_id}; see 'rig session list'")
        rec = reconcile(db, session_id, proj.objects)
        reasons = {
            r["reason"]: r["n"]
            for r in db.query(
                "SELECT reason, count(*) AS n FROM captures WHERE session_id=? AND state IN ('rejected','failed') "
                "GROUP BY reason",
                [session_id],
            )
        }
        captures = [
            {
                "item": r["idx"],
                "attempt": r["attempt"],
                "state": r["state"],
                "conditions": json.loads(r["conditions"] or "{}"),
                "reason": r["reason"],
            }
            for r in db.query(
                "SELECT idx, attempt, state, conditions, reason FROM captures "
                "WHERE session_id=? ORDER BY idx, attempt",
                [session_id],
            )
        ]
        times = db.execute(
            "SELECT min(ts), max(ts) FROM events WHERE session_id=?", [session_id]
        ).fetchone()
    finally:
        db.close()
    duration = (times[1] - times[0]) if times[0] else 0.0
    return {
        "id": session_id,
        "state": row["state"],
        "camera": row["camera"],
        "created_at": row["created_at"],
        "items": rec["items"],
        "verified": rec["verified"],
        "skipped": rec["pending"],
        "duplicates": len(rec["problems"].get("duplicates", [])),
        "retakes": rec["retakes"],
        "rejections": reasons,
        "reconciliation": rec,
        "duration_s": duration,
        "pairs_per_hour": rec["verified"] / duration * 3600 if duration else None,
        "conditions": json.loads(row["conditions"] or "{}"),
        "captures": captures,
    }


def cmd_list(json_out: JsonOption = False, project: ProjectOption = None) -> None:
    """List the sessions of the project."""
    proj = project_from(project)
    db = proj.db()
    try:
        rows = list(
            db.query(
                "SELECT s.id, s.state, s.camera, s.created_at, "
                "(SELECT count(*) FROM items i WHERE i.session_id=s.id) AS items, "
                "(SELECT count(*) FROM items i WHERE i.session_id=s.id AND i.state='verified') AS verified "
                "FROM sessions s ORDER BY s.created_at"
            )
        )
    finally:
        db.close()
    if json_out:
        print_json({"sessions": rows})
        return
    table = Table("id", "state", "camera", "items", "verified", "created")
    for r in rows:
        table.add_row(
            r["id"],
            r["state"],
            r["camera"],
            str(r["items"]),
            str(r["verified"]),
            r["created_at"][:19],
        )
    console.print(table)


def cmd_show(
    session_id: str = typer.Argument(...),
    json_out: JsonOption = False,
    project: ProjectOption = None,
) -> None:
    """Counts, rates, retakes, rejections by reason, reconciliation and timings of a session."""
    summary = session_summary(project_from(project), session_id)
    if json_out:
        print_json(summary)
        return
    for key in (
        "id",
        "state",
        "camera",
        "items",
        "verified",
        "skipped",
        "duplicates",
        "retakes",
        "duration_s",
        "pairs_per_hour",
    ):
        console.print(f"{key:>15}: {summary[key]}")
    for reason, n in summary["rejections"].items():
        console.print(f"{'rejected':>15}: {n} × {reason}")
    _report(session_id, summary["reconciliation"])


def cmd_gui(
    screen: int = typer.Option(
        -1, "--screen", help="Index of the rig's display (default: the last screen)."
    ),
    windowed: bool = typer.Option(
        False, "--windowed", help="A window instead of full screen (for trying out)."
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
        from rig.gui.app import run_gui
    except ImportError as exc:
        raise UsageError(f"the GUI needs PyQt6 and qasync: pip install 'rig[gui]' ({exc})") from exc
    proj = project_from(project)
    raise typer.Exit(run_gui(proj.root, screen, windowed, resume))


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
    from rig.session.replay import compare, create_replay

    proj = project_from(project)
    replay_id = create_replay(proj, session_id, faults)
    console.print(
        f"replaying {session_id} as {replay_id}" + (f" with faults {faults}" if faults else "")
    )
    _run_with_progress(proj, replay_id, None)
    result = compare(proj, session_id, replay_id)
    if json_out:
        print_json(result)
    for diff in result["outcome_differences"][:50]:
        console.print(f"[red]item {diff['item']}: {diff['original']} → {diff['replay']}[/]")
    for diff in result["event_differences"][:50]:
        console.print(
            f"[yellow]item {diff['item']}: {' '.join(diff['original'])}  ⇒  {' '.join(diff['replay'])}[/]"
        )
    console.print(
        f"{len(result['outcome_differences'])} outcome and "
        f"{len(result['event_differences'])} event-sequence differences"
    )
    failed = not result["same_outcome"] or (strict and result["event_differences"])
    raise typer.Exit(1 if failed else 0)


def cmd_bench_session(
    items: int = typer.Option(40, "--items", help="Items in the benchmark session."),
    shot_ms: float = typer.Option(500.0, "--shot-ms", help="Fixed camera time per shot."),
    settle_ms: int = typer.Option(50, "--settle-ms", help="Display settle time per item."),
    json_out: JsonOption = False,
) -> None:
    """Pairs per hour with a fixed-time simulated camera, and rig's overhead per capture."""
    from rig.bench.session_bench import run_session_bench

    result = run_session_bench(items, shot_ms, settle_ms)
    if json_out:
        print_json(result)
        return
    for key, value in result.items():
        console.print(f"{key:>28}: {value}")


def cmd_import_photos(
    folder: Path = typer.Argument(..., help="Folder of photos exported from the phone."),
    chexpeditor: bool = typer.Option(
        False, "--chexpeditor", help="Photos named by the CheXpeditor app."
    ),
    session_id: str = typer.Option(..., "--session", help="The session that triggered the shots."),
    json_out: JsonOption = False,
    project: ProjectOption = None,
) -> None:
    """Pair photos kept on a CheXpeditor phone with their items, then register and verify them."""
    from rig.session.import_photos import import_chexpeditor_photos

    if not chexpeditor:
        raise UsageError("only --chexpeditor folders can be imported (name: seq__nonce__parts)")
    proj = project_from(project)
    out = import_chexpeditor_photos(proj, folder, session_id)
    summary = session_summary(proj, session_id)
    out["reconciliation"] = summary["reconciliation"]
    if json_out:
        print_json(out)
    console.print(
        f"{len(out['verified'])} verified, {len(out['rejected'])} rejected, "
        f"{len(out['unmatched'])} unmatched, {len(out['still_missing'])} items still missing"
    )
    for row in out["rejected"]:
        console.print(f"  item {row['item']} attempt {row['attempt']}: {row['reason']}")
    raise typer.Exit(0 if not out["rejected"] and not out["still_missing"] else 1)


def cmd_register(
    session_id: str = typer.Argument(..., help="Session whose photos to register again."),
    json_out: JsonOption = False,
    project: ProjectOption = None,
) -> None:
    """Register and verify every stored photo of a session again (e.g. after calibration)."""
    from rig.session.verify import reregister_session

    proj = project_from(project)
    out = reregister_session(proj, session_id)
    out["reconciliation"] = session_summary(proj, session_id)["reconciliation"]
    if json_out:
        print_json(out)
    console.print(
        f"{out['photos']} photos: {out['accepted']} accepted, {out['rejected']} rejected, "
        f"{len(out['changed'])} verdicts changed"
    )
    for row in out["changed"]:
        console.print(
            f"  item {row['item']} attempt {row['attempt']}: now {row['now']} {row['reason'] or ''}"
        )
    raise typer.Exit(0 if out["reconciliation"]["clean"] else 1)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    session = typer.Typer(help="Capture sessions.", no_args_is_help=True)
    session.command("start")(cmd_start)
    session.command("resume")(cmd_resume)
    session.command("list")(cmd_list)
    session.command("show")(cmd_show)
    app.add_typer(session, name="session")
    session.command("replay")(cmd_replay)
    app.command("import-photos")(cmd_import_photos)
    app.command("register")(cmd_register)
    app.command("gui")(cmd_gui)
    bench_app.command("session")(cmd_bench_session)
