"""Commands of the protocol area: phone-sim, netem, protocol conformance, bench protocol."""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path
from typing import Annotated, Any

import typer

from rig.cli.common import JsonOption, console, flag_value, print_json
from rig.errors import EXIT_PARTIAL, InputError, RigError, UsageError
from rig.protocol.faults import FaultSpec


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this area's commands to the CLI."""
    app.command("phone-sim")(phone_sim)
    app.command("netem")(netem)
    protocol_app = typer.Typer(help="The capture protocol: conformance checks (docs/protocol.md).")
    protocol_app.command("conformance")(conformance)
    app.add_typer(protocol_app, name="protocol")
    bench_app.command("protocol")(bench_protocol)


def conformance(
    phone: Annotated[
        str | None,
        typer.Option("--phone", help="Phone command; {pairing} {uri} {store} are filled in."),
    ] = None,
    desktop: Annotated[
        str | None, typer.Option("--desktop", help="HOST:PORT of a running desktop (UDP).")
    ] = None,
    pairing: Annotated[
        str | None, typer.Option("--pairing", help="--desktop: the session's pairing URI/file.")
    ] = None,
    scenario: Annotated[
        list[str] | None, typer.Option("--scenario", help="Run only these (repeatable).")
    ] = None,
    seed: int = 0,
    json_out: JsonOption = False,
) -> None:
    """Run the protocol v1.1 scenario suite over real sockets against a phone or a desktop."""
    from rig.protocol import conformance as pc
    from rig.protocol import conformance_desktop as pd

    if (phone is None) == (desktop is None):
        raise UsageError("conformance: give exactly one of --phone CMD or --desktop HOST:PORT")
    names = list(scenario or [])

    def progress(r: pc.ScenarioResult) -> None:
        if not json_out:
            mark = "[green]PASS[/]" if r.passed else "[red]FAIL[/]"
            console.print(f"{mark} {r.name} ({r.seconds:.1f} s): {r.detail}", highlight=False)

    if phone is not None:
        results = asyncio.run(pc.run_phone_suite(pc.PhoneCommand(phone), names, seed, progress))
    else:
        results = asyncio.run(pd.run_desktop_suite(_desktop_pairing(desktop, pairing), names,
                                                   progress))  # fmt: skip
    failed = [r.name for r in results if not r.passed]
    if json_out:
        print_json({"passed": not failed, "failed": failed,
                    "scenarios": [r.to_dict() for r in results]})  # fmt: skip
    else:
        _print_table(results)
    if failed:
        raise RigError(f"conformance failed: {', '.join(failed)}", exit_code=EXIT_PARTIAL)


def _desktop_pairing(desktop: str | None, pairing: str | None) -> Any:
    from rig.protocol.netem import parse_hostport
    from rig.protocol.pairing import load_pairing

    if pairing is None:
        raise UsageError("--desktop needs --pairing URI|FILE (the session key is in it)")
    host, port = parse_hostport(desktop or "", "--desktop")
    return load_pairing(pairing).with_udp(host, port)


def _print_table(results: list[Any]) -> None:
    from rich.table import Table

    table = Table(title="protocol v1.1 conformance")
    for column in ("scenario", "result", "seconds", "detail"):
        table.add_column(column)
    for r in results:
        mark = "[green]pass[/]" if r.passed else "[red]FAIL[/]"
        table.add_row(r.name, mark, f"{r.seconds:.1f}", r.detail)
    console.print(table)


def phone_sim(
    pairing: str | None = typer.Argument(
        None, help="rig1:// payload, a file holding it, or a QR PNG."
    ),
    store: Annotated[Path, typer.Option(help="Folder for photos and persisted state.")] = Path(
        "phone-sim-store"
    ),
    camera_preset: Annotated[
        str | None, typer.Option(help="rig.camsim preset to photograph through.")
    ] = None,
    shot_ms: Annotated[float, typer.Option(help="Time one shot takes.")] = 0.0,
    camera_timeout_s: Annotated[
        float, typer.Option(help="Camera timeout (announced to the desktop in HELLO).")
    ] = 20.0,
    faults: Annotated[str, typer.Option(help="Fault spec, e.g. loss=0.2,restart_at=100.")] = "",
    seed: Annotated[int, typer.Option(help="Seed of every random decision.")] = 0,
    idle_exit_s: Annotated[
        float, typer.Option(help="Exit after the desktop is silent this long (0 = never).")
    ] = 0.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    compat: Annotated[
        str | None, typer.Option(help="Play another app's protocol: 'chexpeditor'.")
    ] = None,
    port: Annotated[int, typer.Option(help="UDP port of the --compat server.")] = 4445,
    source_root: Annotated[
        Path | None, typer.Option(help="--compat chexpeditor: folder the names point into.")
    ] = None,
    row_start: Annotated[int, typer.Option(help="--compat chexpeditor: first expected row.")] = 0,
    wait_pairing_s: Annotated[
        float,
        typer.Option(help="PAIRING is a file still to come: wait this long for it (a phone "
                     "already running, pairing as soon as the desktop shows its code)."),
    ] = 0.0,
    insecure_chexpeditor: Annotated[
        bool, typer.Option("--insecure-chexpeditor", help="Allow the unauthenticated protocol.")
    ] = False,
) -> None:
    """Behave like the phone app: pair from the QR payload, shoot on request, upload."""
    from rig.protocol.faults import parse_faults
    from rig.protocol.pairing import load_pairing
    from rig.protocol.phonesim import PhoneSim, PhoneSimConfig

    if shot_ms < 0:
        raise UsageError("--shot-ms must be >= 0")
    if not 1 <= camera_timeout_s <= 3600:
        raise UsageError("--camera-timeout-s must be in [1, 3600]")
    with flag_value():
        fault_spec = parse_faults(faults)
    if compat is not None:
        _compat_phone_sim(compat, port, store, source_root, row_start, insecure_chexpeditor,
                          fault_spec, seed, camera_preset)  # fmt: skip
        return
    if not pairing:
        raise UsageError("phone-sim: give the PAIRING payload (or --compat chexpeditor)")
    from rig.protocol.timers import Timers

    if wait_pairing_s > 0:
        _wait_for_pairing(Path(pairing), wait_pairing_s)
    with flag_value():
        pairing_info = load_pairing(pairing)
    cfg = PhoneSimConfig(
        pairing=pairing_info, store=store, faults=fault_spec, shot_ms=shot_ms,
        camera_preset=camera_preset, seed=seed, idle_exit_s=idle_exit_s, verbose=verbose,
        timers=Timers(camera_timeout_s=camera_timeout_s),
    )  # fmt: skip
    if verbose:
        console.print(f"phone-sim: pairing with {cfg.pairing.host}:{cfg.pairing.udp_port}")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(PhoneSim(cfg).run())


def _wait_for_pairing(path: Path, limit_s: float) -> None:
    """Poll for the pairing file (written atomically by the desktop); everything is imported."""
    import sys
    import time

    print(f"phone-sim: ready, waiting for {path}", file=sys.stderr, flush=True)
    deadline = time.monotonic() + limit_s
    while not path.exists():
        if time.monotonic() > deadline:
            raise UsageError(f"--wait-pairing-s: no pairing file {path} after {limit_s:g} s")
        time.sleep(0.01)


def _compat_phone_sim(
    compat: str, port: int, store: Path, source_root: Path | None, row_start: int,
    insecure: bool, faults: FaultSpec, seed: int, camera_preset: str | None,
) -> None:  # fmt: skip
    from rig.protocol.chexpeditor import INSECURE_WARNING, ChexpeditorPhoneSim
    from rig.protocol.phonesim import _load_camera

    if compat != "chexpeditor":
        raise UsageError(f"--compat: unknown protocol '{compat}' (known: chexpeditor)")
    if not insecure:
        raise UsageError("--compat chexpeditor is unauthenticated; add --insecure-chexpeditor")
    if source_root is None or not source_root.is_dir():
        raise UsageError("--compat chexpeditor needs --source-root DIR (the images it shows)")
    console.print(INSECURE_WARNING)
    store.mkdir(parents=True, exist_ok=True)
    camera = _load_camera(camera_preset, seed) if camera_preset else None

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        sim = ChexpeditorPhoneSim(store, source_root, row_start, faults.loss, seed, camera)
        transport, _ = await loop.create_datagram_endpoint(
            lambda: sim, local_addr=("0.0.0.0", port)
        )
        console.print(
            f"chexpeditor phone-sim: UDP server on port {port}, expecting row {row_start}"
        )
        try:
            await asyncio.sleep(10**9)
        finally:
            transport.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


def _parse_delay(text: str) -> tuple[float, float]:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:(?:±|\+-|\+/-)\s*(\d+(?:\.\d+)?))?\s*", text)
    if not match:
        raise InputError(f"--delay-ms: expected MS or MS±JITTER (e.g. 20±10), got '{text}'")
    base, jitter = float(match[1]), float(match[2] or 0)
    # Uniform jitter in [base - j, base + j]: FaultSpec draws delay_ms + U[0, jitter_ms].
    return max(0.0, base - jitter), 2 * jitter if base >= jitter else base + jitter


def netem(
    listen: Annotated[str, typer.Option(help="HOST:PORT to listen on.")],
    to: Annotated[str, typer.Option(help="HOST:PORT to forward to.")],
    loss: float = 0.0,
    dup: float = 0.0,
    reorder: float = 0.0,
    delay_ms: Annotated[str, typer.Option(help="One-way delay, MS or MS±JITTER.")] = "0",
    seed: int = 0,
    duration_s: Annotated[
        float, typer.Option(help="Stop after this long (0 = until Ctrl-C).")
    ] = 0.0,
) -> None:
    """A bidirectional UDP fault-injection proxy (loss, duplication, reordering, delay)."""
    from rig.protocol.faults import parse_faults
    from rig.protocol.netem import NetemProxy, parse_hostport

    with flag_value():
        base, jitter = _parse_delay(delay_ms)
        spec = parse_faults(
            f"loss={loss},dup={dup},reorder={reorder},delay_ms={base},jitter_ms={jitter}"
        )
        listen_addr, target = parse_hostport(listen, "--listen"), parse_hostport(to, "--to")

    async def serve() -> None:
        async with NetemProxy(listen_addr, target, spec, seed) as proxy:
            console.print(f"netem: {listen_addr[0]}:{proxy.port} -> {target[0]}:{target[1]}")
            try:
                await asyncio.sleep(duration_s if duration_s > 0 else 10**9)
            finally:
                console.print(f"netem: {dict(proxy.stats)}")

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


def bench_protocol(
    captures: Annotated[int, typer.Option(help="Number of captures.")] = 200,
    faults: Annotated[str, typer.Option(help="Fault spec (network + phone faults).")] = "",
    shot_ms: Annotated[float, typer.Option(help="Simulated shot duration.")] = 0.0,
    seed: int = 0,
    fsync: Annotated[
        bool, typer.Option(help="fsync stored photos (off: shows the protocol cost alone).")
    ] = True,
    inflight: Annotated[
        int, typer.Option(help="Photos in flight with a v1.2 phone (0 = v1.1 lock-step).")
    ] = 2,
    json_out: JsonOption = False,
) -> None:
    """Desktop endpoint + phone-sim process over loopback with a fault proxy between them."""
    from rig.bench.protocol_bench import run_protocol_bench

    if captures < 1:
        raise UsageError("--captures must be >= 1")
    if not 0 <= inflight <= 16:
        raise UsageError("--inflight must be in 0..16")

    def progress(done: int) -> None:
        if not json_out and (done % 500 == 0 or done == captures):
            console.print(f"  {done}/{captures} captures")

    result = asyncio.run(
        run_protocol_bench(captures, faults, shot_ms, seed, progress, fsync, inflight)
    )
    if json_out:
        print_json(result)
        return
    for key in ("captures", "skipped", "duplicated", "retransmissions", "rejected_datagrams",
                "overhead_ms_median", "overhead_ms_p95", "stored_lag_ms_median", "errors",
                "wall_s", "netem"):  # fmt: skip
        console.print(f"{key:>20}: {result.get(key)}")
