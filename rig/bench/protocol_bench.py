"""``rig bench protocol``: desktop endpoint and phone-sim as separate processes over real loopback.

The desktop endpoint runs here, the phone-sim in a child process, and a netem proxy between them
applies the network faults; device faults (camera failures, restarts) go to the phone-sim.
Counts come from both stores on disk (not from the protocol's own bookkeeping): ``skipped`` =
items without a stored photo, ``duplicated`` = items photographed or stored more than once.

``overhead_ms_median`` is the critical path beyond the phone's own shot: from the capture
request until the desktop may ask for the next item. With the v1.2 phone-sim and
``max_inflight`` > 0 that ends when the photo is durable on the phone (docs/protocol.md §6.4)
and the upload, hash check and durable store (fdatasync, group commit) follow off the path
(``stored_lag_ms_median``); ``max_inflight`` 0 is the lock-step of v1.1, where they are on it.
Every photo is durable on the desktop before the bench ends, in both modes.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from rig.errors import DeviceError
from rig.protocol.endpoint import DesktopEndpoint
from rig.protocol.faults import FaultSpec, parse_faults
from rig.protocol.netem import NetemProxy
from rig.protocol.phonesim import STATE_NAME, read_shots

NETWORK_FIELDS = ("loss", "dup", "reorder", "delay_ms", "jitter_ms", "reorder_ms")


def split_faults(spec: FaultSpec) -> tuple[FaultSpec, FaultSpec]:
    """(network faults for the proxy, device faults for the phone-sim)."""
    net = FaultSpec(**{k: getattr(spec, k) for k in NETWORK_FIELDS})
    device = replace(spec, **{k: getattr(FaultSpec(), k) for k in NETWORK_FIELDS})
    return net, device


def phone_sim_command(
    payload: str, store: Path, device: FaultSpec, shot_ms: float, seed: int
) -> list[str]:
    cmd = [sys.executable, "-m", "rig", "phone-sim", payload, "--store", str(store)]
    cmd += ["--shot-ms", f"{shot_ms:g}", "--seed", str(seed), "--idle-exit-s", "60"]
    spec = device.to_spec()
    return cmd + (["--faults", spec] if spec else [])


async def run_protocol_bench(
    captures: int,
    faults: str = "",
    shot_ms: float = 0.0,
    seed: int = 0,
    progress: Any = None,
    durable: bool = True,
    max_inflight: int = 2,
) -> dict[str, Any]:
    net, device = split_faults(parse_faults(faults))
    frame = np.zeros((32, 32), np.uint8)
    with tempfile.TemporaryDirectory(prefix="rig-bench-protocol-") as tmp:
        desk, phone_store = Path(tmp) / "desktop", Path(tmp) / "phone"
        key, session = os.urandom(32), os.urandom(8)
        ep = DesktopEndpoint(
            key,
            session,
            "127.0.0.1",
            0,
            0,
            desk,
            lambda age_ms: frame,
            durable=durable,
            max_inflight=max_inflight,
        )
        async with ep, NetemProxy(("127.0.0.1", 0), ("127.0.0.1", ep.udp_port), net, seed) as px:
            # Without network faults the proxy is left out: its two extra hops in this process
            # are not protocol overhead (say --faults delay_ms=0 to keep it anyway).
            via_proxy = bool(faults.strip()) and not (
                net.network_clean and "delay_ms" not in faults
            )
            pairing = ep.pairing().with_udp("127.0.0.1", px.port) if via_proxy else ep.pairing()
            cmd = phone_sim_command(pairing.to_uri(), phone_store, device, shot_ms, seed)
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            try:
                stats = await _drive(ep, frame, captures, shot_ms, progress)
            finally:
                proc.terminate()
                proc.wait(timeout=10)
            stats.update(ep.stats())
            stats["netem"] = dict(px.stats) if via_proxy else None
            stored = Counter(i for i, _ in ep.server.stored) if ep.server else Counter()
        shots = Counter(i for i, _, _ in read_shots(phone_store))
        restarts_done = _restarts_done(phone_store)
    requested = range(captures)
    stats["captures"] = sum(1 for i in requested if stored[i] >= 1)
    stats["skipped"] = sum(1 for i in requested if stored[i] == 0)
    stats["duplicated"] = sum(1 for i in requested if shots[i] > 1 or stored[i] > 1)
    stats["phone_restarts"] = restarts_done  # crashes the phone-sim actually went through
    stats["faults"] = faults
    stats["shot_ms"] = shot_ms
    stats["durable_store"] = durable
    stats["max_inflight"] = max_inflight
    return stats


async def _drive(
    ep: DesktopEndpoint, frame: np.ndarray, captures: int, shot_ms: float, progress: Any
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while ep.machine is not None and ep.machine.peer is None and loop.time() < deadline:
        await asyncio.sleep(0.02)  # the phone-sim process is starting and pairing
    errors: Counter[str] = Counter()
    shots: list[tuple[float, float, Any]] = []  # (request time, time safe, its Shot)
    started = time.perf_counter()
    for i in range(captures):
        frame[:] = (i * 37) % 256
        t0 = loop.time()
        try:
            shot = await ep.shoot(i, 1, f"b-{i:06d}", timeout_s=300)
        except DeviceError as exc:
            errors[type(exc).__name__] += 1
            continue
        shots.append((t0, loop.time(), shot))
        if progress is not None:
            progress(i + 1)
    overhead_ms: list[float] = []
    with_shot_ms: list[float] = []
    lag_ms: list[float] = []
    for t0, safe, shot in shots:  # every photo durable here before the bench ends
        try:
            record = await asyncio.wait_for(asyncio.shield(shot.stored), 300)
        except (DeviceError, TimeoutError) as exc:
            errors[type(exc).__name__] += 1
            continue
        total_ms = (safe - t0) * 1000
        with_shot_ms.append(total_ms)
        # The simulated shot (the phone's shutter-to-saved time, tap and JPEG included) is not
        # protocol overhead; the phone reports it with the upload.
        phone_shot_ms = record.shot_ms if record.shot_ms is not None else shot_ms
        overhead_ms.append(total_ms - phone_shot_ms)
        lag_ms.append(max(0.0, (_loop_time_of(record, loop) - safe) * 1000))
    wall_s = time.perf_counter() - started
    return {
        "overhead_ms_median": round(statistics.median(overhead_ms), 3) if overhead_ms else None,
        "overhead_ms_p95": round(float(np.percentile(overhead_ms, 95)), 3) if overhead_ms else None,
        "capture_ms_median": round(statistics.median(with_shot_ms), 3) if with_shot_ms else None,
        "stored_lag_ms_median": round(statistics.median(lag_ms), 3) if lag_ms else None,
        "errors": dict(errors),
        "wall_s": round(wall_s, 2),
        "captures_per_s": round(captures / wall_s, 1) if wall_s else None,
    }


def _loop_time_of(record: Any, loop: asyncio.AbstractEventLoop) -> float:
    """A record's ``stored_at`` (Unix time) on the loop's clock."""
    return float(record.stored_at) - time.time() + loop.time()


def _restarts_done(store: Path) -> int:
    try:
        state = json.loads((store / STATE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0
    return len(state.get("restarts_done", []))
