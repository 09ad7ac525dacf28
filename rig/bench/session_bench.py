"""Benchmark: does the camera, not rig, set the pace of a session?

A headless session runs against ``rig phone-sim`` in its own process over real
loopback sockets (as a phone would be), with a fixed camera time per shot
(``--shot-ms``). Per capture the desktop's
own time is the cycle (item shown → next item shown) minus the phone's part
(capture requested → photo stored: shot, save, upload) and minus the deliberate
physical waits (display latency, settle time). The baseline in the same run is
the shot time itself; the goal is overhead ≤ 5 % of it.
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rig.devices.display import OffscreenDisplay
from rig.library.importer import import_paths
from rig.library.samples import SampleSpec, write_samples
from rig.project import init_project
from rig.session import events as ev
from rig.session import service
from rig.session.plan import CapturePlan
from rig.session.reconcile import Reconciliation

LATENCY_MS = 16.0


def run_session_bench(
    items: int = 40, shot_ms: float = 500.0, settle_ms: int = 50
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rig-bench-session-") as tmp:
        root = Path(tmp)
        project = init_project(root / "project")
        labels = write_samples(
            root / "in", n_images=10, seed=1, spec=SampleSpec(rows=480, columns=400)
        )
        import_paths(project, [root / "in"], labels, recursive=True)
        plan = CapturePlan(
            camera=f"sim?preset=none&shot_ms={shot_ms:g}",
            settle_ms=settle_ms,
            repeats=(items + 9) // 10,
            limit=items,
        )
        session_id = service.create(project, plan)
        bus = ev.EventBus()
        start = time.perf_counter()
        summary = asyncio.run(
            service.run(
                project, session_id, service.SessionContext(OffscreenDisplay(LATENCY_MS), bus)
            )
        )
        wall_s = time.perf_counter() - start
    return _figures(bus.history, summary, wall_s, shot_ms, settle_ms)


def _figures(
    history: list[ev.SessionEvent],
    summary: Reconciliation,
    wall_s: float,
    shot_ms: float,
    settle_ms: int,
) -> dict[str, Any]:
    shown = [e.ts for e in history if isinstance(e, ev.ItemShown)]
    requested = {(e.idx, e.attempt): e.ts for e in history if isinstance(e, ev.CaptureRequested)}
    stored = {(e.idx, e.attempt): e.received_at for e in history if isinstance(e, ev.CaptureStored)}
    phone_ms = [(stored[k] - requested[k]) * 1000 for k in stored if k in requested]
    cycles_ms = [(b - a) * 1000 for a, b in itertools.pairwise(shown)]
    cycle = statistics.median(cycles_ms) if cycles_ms else float("nan")
    phone = statistics.median(phone_ms) if phone_ms else float("nan")
    overhead = cycle - phone - settle_ms - LATENCY_MS
    return {
        "items": summary.items,
        "verified": summary.verified,
        "clean": summary.clean,
        "shot_ms": shot_ms,
        "settle_ms": settle_ms,
        "display_latency_ms": LATENCY_MS,
        "cycle_ms_median": round(cycle, 1),
        "phone_part_ms_median": round(phone, 1),
        "desktop_overhead_ms_median": round(overhead, 1),
        "overhead_fraction_of_shot": round(overhead / shot_ms, 4) if shot_ms else None,
        "pairs_per_hour": round(summary.verified / wall_s * 3600, 1),
        "pairs_per_hour_camera_bound": round(3600_000 / (shot_ms + settle_ms + LATENCY_MS), 1),
    }
