"""``rig bench controller``: request round trips over a real pty vs the in-process simulator."""

from __future__ import annotations

import asyncio
import os
import statistics
import threading
import time
from typing import Any

from rig.devices.controller_protocol import DeviceModel
from rig.devices.pty_device import Faults, open_pty, serve
from rig.devices.serial_controller import SerialRigController
from rig.devices.sim_controller import SimRigController

LEVELS = ("off", "dim", "half", "on")


async def _time_sets(controller: Any, n: int) -> list[float]:
    await controller.connect()
    times = []
    try:
        for i in range(n):
            started = time.perf_counter()
            await controller.set(light=LEVELS[i % len(LEVELS)])
            times.append(time.perf_counter() - started)
    finally:
        await controller.close()
    return times


def bench_controller(n: int) -> dict[str, Any]:
    """Median/p95 SET round trip (ms) over a pty with the board in a thread, and in-process."""
    master, slave, path = open_pty(None)
    stop = threading.Event()
    board = threading.Thread(target=serve, args=(master, DeviceModel(), Faults(), stop.is_set),
                             daemon=True)
    board.start()
    try:
        pty_s = asyncio.run(_time_sets(SerialRigController(path, timeout_s=2.0), n))
    finally:
        stop.set()
        board.join(timeout=5)
        os.close(master)
        os.close(slave)
    local_s = asyncio.run(_time_sets(SimRigController(), n))
    pty_ms = statistics.median(pty_s) * 1000
    local_ms = statistics.median(local_s) * 1000
    return {
        "requests": n,
        "pty_median_ms": round(pty_ms, 4),
        "pty_p95_ms": round(sorted(pty_s)[int(0.95 * (n - 1))] * 1000, 4),
        "inprocess_median_ms": round(local_ms, 4),
        "pty_over_inprocess": round(pty_ms / local_ms, 1) if local_ms > 0 else None,
    }
