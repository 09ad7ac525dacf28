"""Benchmark: a session as users run it, against a CheXpeditor-style loop, in the same run.

rig's side is two processes over loopback, exactly the commands of the README:
``rig session start --camera phone --headless`` (the shipped plan defaults: adaptive
settle, verification of every photo) and ``rig phone-sim PAIRING --shot-ms N``. The
images are generated radiographs of CR size (2000×1700 by default) shown on a
1920×1080 screen. The baseline is ``rig.bench.chexpeditor_loop``: show, wait 100 ms, a
fresh UDP socket per trigger, a phone process that answers after the same shot time, no
upload, no check. Both rates are measured the same way: pairs over the time from the
first frame presented to the last pair done.

Per capture, rig's overhead is what the cycle (frame presented → next frame presented)
spends beyond the physical waits: the shot, the settle it chose and the display's
latency. Timings come from the session's own event log in ``rig.db``.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rig.bench.chexpeditor_loop import run_loop
from rig.devices.display import OffscreenDisplay
from rig.library.importer import import_paths
from rig.library.samples import SampleSpec, write_samples
from rig.project import init_project
from rig.session.settle import SETTLE_KIND, is_stale_reason

LATENCY_MS = 16.0  # OffscreenDisplay's presentation latency (the headless session's display)
SCREEN_WH = (1920, 1080)
PROCESS_TIMEOUT_S = 1800.0


def run_session_bench(
    items: int = 40,
    shot_ms: float = 500.0,
    images: int = 6,
    rows: int = 2000,
    columns: int = 1700,
) -> dict[str, Any]:
    """Both loops over the same generated images; the figures of the issue (18) as JSON."""
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="rig-bench-session-") as tmp:
        root = Path(tmp)
        project = init_project(root / "project")
        labels = write_samples(
            root / "in", n_images=max(1, min(images, items)), seed=1,
            spec=SampleSpec(rows=rows, columns=columns),
        )  # fmt: skip
        import_paths(project, [root / "in"], labels, recursive=True)
        rig = _run_rig(project.root, root, items, shot_ms)
        pngs = _source_pngs(root / "in", root / "png")
        baseline = _run_baseline([pngs[i % len(pngs)] for i in range(items)], shot_ms)
    figures = _figures(rig, baseline, items, shot_ms)
    figures["machine"] = _machine(load_before)
    return figures


# -- rig: two processes ---------------------------------------------------------------------
def _run_rig(project: Path, root: Path, items: int, shot_ms: float) -> dict[str, Any]:
    pairing = root / "pairing.txt"
    plan = root / "plan.toml"
    plan.write_text(f"repeats = {items}\n", encoding="utf-8")  # cycle the sources; --limit cuts
    desktop_cmd = [
        "session", "start", "--plan", str(plan), "--camera", "phone", "--headless",
        "--bind", "127.0.0.1", "--pairing-file", str(pairing), "--limit", str(items),
        "--project", str(project), "--json",
    ]  # fmt: skip
    phone_cmd = [
        "phone-sim", str(pairing), "--shot-ms", f"{shot_ms:g}", "--store", str(root / "phone"),
        "--idle-exit-s", "5", "--verbose", "--wait-pairing-s", f"{PROCESS_TIMEOUT_S:g}",
    ]  # fmt: skip
    # The phone is already running (as the app is, waiting for the QR code) when the
    # technician types the command: start_ms is the desktop's own start, pairing included.
    with _rig_process(phone_cmd, root / "phone.err") as phone:
        _wait_for_text(phone, root / "phone.err", "phone-sim: ready")
        started = time.time()
        with _rig_process(desktop_cmd, root / "desktop.err") as desktop:
            _wait_for_file(desktop, pairing)
            paired_at = time.time()
            out, _ = desktop.communicate(timeout=PROCESS_TIMEOUT_S)
            ended = time.time()
        phone.wait(timeout=60)
    if desktop.returncode != 0:
        err = (root / "desktop.err").read_text(encoding="utf-8", errors="replace")[-2000:]
        raise RuntimeError(f"rig session start exited {desktop.returncode}: {out[-500:]} {err}")
    session_id = _session_id(out)
    return {
        "events": _events(project / "rig.db", session_id),
        "settle": _learned_settle(project / "rig.db", session_id),
        "started": started,
        "pairing_s": paired_at - started,
        "wall_s": ended - started,
    }


@contextmanager
def _rig_process(args: list[str], stderr_path: Path) -> Iterator[subprocess.Popen[str]]:
    with open(stderr_path, "w", encoding="utf-8") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rig", *args],
            stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, text=True,
            env={**os.environ, "COLUMNS": "400", "PYTHONUNBUFFERED": "1"},  # lines as printed
        )  # fmt: skip
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _wait_for_file(proc: subprocess.Popen[str], path: Path, timeout_s: float = 120.0) -> None:
    """The desktop writes the pairing file atomically once it listens (its stdout is a rich
    progress display, not a line protocol): look for it, as a technician reads the screen."""
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{proc.args!r}: no pairing file (exit {proc.poll()})")
        time.sleep(0.01)


def _wait_for_text(
    proc: subprocess.Popen[str], path: Path, text: str, timeout_s: float = 120.0
) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in path.read_text(encoding="utf-8", errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{proc.args!r}: never printed {text!r} (exit {proc.poll()})")
        time.sleep(0.01)


def _session_id(stdout: str) -> str:
    start = stdout.find("{\n")
    return str(json.loads(stdout[start : stdout.rindex("}") + 1])["id"])


def _events(db: Path, session_id: str) -> list[tuple[float, str, int, int, dict[str, Any]]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT ts, kind, idx, attempt, data FROM events WHERE session_id=? ORDER BY id",
            [session_id],
        ).fetchall()
    return [(ts, kind, idx, att, json.loads(data or "{}")) for ts, kind, idx, att, data in rows]


def _learned_settle(db: Path, session_id: str) -> float | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT data FROM calibrations WHERE session_id=? AND kind=? ORDER BY id DESC",
            [session_id, SETTLE_KIND],
        ).fetchone()
    return float(json.loads(row[0])["settle_ms"]) if row else None


# -- the baseline ---------------------------------------------------------------------------
def _source_pngs(samples: Path, out: Path) -> list[Path]:
    """The generated DICOMs as 8-bit PNGs: the image files CheXpeditor's client loads."""
    import cv2
    import pydicom

    out.mkdir(parents=True, exist_ok=True)
    pngs = []
    for i, path in enumerate(sorted(p for p in samples.rglob("*.dcm"))):
        pixels = pydicom.dcmread(path).pixel_array.astype("float32")
        scaled = cv2.normalize(pixels, None, 0, 255, cv2.NORM_MINMAX).astype("uint8")
        pngs.append(out / f"{i:04d}.png")
        cv2.imwrite(str(pngs[-1]), scaled)
    return pngs


def _run_baseline(images: list[Path], shot_ms: float) -> list[dict[str, float]]:
    import asyncio

    phone = subprocess.Popen(
        [sys.executable, "-m", "rig.bench.chexpeditor_loop", "--shot-ms", f"{shot_ms:g}"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert phone.stdout is not None
        port = int(phone.stdout.readline())
        return asyncio.run(run_loop(images, OffscreenDisplay(LATENCY_MS), port, SCREEN_WH))
    finally:
        phone.communicate(timeout=30)  # closing stdin ends it


# -- figures --------------------------------------------------------------------------------
def _figures(
    rig: dict[str, Any], baseline: list[dict[str, float]], items: int, shot_ms: float
) -> dict[str, Any]:
    events = rig["events"]
    shown = {(i, a): d["shown_at"] for _, k, i, a, d in events if k == "ItemShown"}
    asked = {(i, a): ts for ts, k, i, a, _ in events if k == "CaptureRequested"}
    # The runner commits the request while the panel settles and logs the settle it chose.
    for _, k, i, a, d in events:
        if k == "CaptureRequested" and d.get("settle_ms") is not None and (i, a) in shown:
            asked[(i, a)] = shown[(i, a)] + float(d["settle_ms"]) / 1000
    verified = [ts for ts, k, *_ in events if k == "CaptureVerified"]
    rejected = [d.get("reason") or "" for _, k, _, _, d in events if k == "CaptureRejected"]
    order = sorted(shown, key=shown.__getitem__)
    settles = [(asked[k] - shown[k]) * 1000 for k in order if k in asked]
    cycles = [(shown[b] - shown[a]) * 1000 for a, b in itertools.pairwise(order)]
    overheads = [c - shot_ms - s - LATENCY_MS for c, s in zip(cycles, settles, strict=False)]
    window_s = max(verified, default=0.0) - min(shown.values(), default=0.0)
    rate = len(verified) / window_s * 3600 if window_s > 0 else 0.0
    base_window = baseline[-1]["done"] - baseline[0]["shown_at"] if baseline else 0.0
    base_rate = len(baseline) / base_window * 3600 if base_window > 0 else 0.0
    base_cycles = [(b["shown_at"] - a["shown_at"]) * 1000 for a, b in itertools.pairwise(baseline)]
    first_request = min(asked.values(), default=math.nan)
    start_raw = (first_request - rig["started"]) * 1000
    return {
        "items": items,
        "shot_ms": shot_ms,
        "verified": len(verified),
        "pairs_per_hour": round(rate, 1),
        "baseline_pairs_per_hour": round(base_rate, 1),
        "ratio": round(rate / base_rate, 3) if base_rate else None,
        "camera_bound_pairs_per_hour": round(3600_000 / shot_ms, 1) if shot_ms else None,
        "fraction_of_camera_bound": round(rate * shot_ms / 3600_000, 3) if shot_ms else None,
        "overhead_ms_median": _median(overheads),
        "overhead_fraction_of_shot": round(_median(overheads) / shot_ms, 4) if shot_ms else None,
        "beyond_shot_ms_median": _median([c - shot_ms for c in cycles]),
        "baseline_beyond_shot_ms_median": _median([c - shot_ms for c in base_cycles]),
        "cycle_ms_median": _median(cycles),
        "baseline_cycle_ms_median": _median(base_cycles),
        "settle_ms_median": _median(settles),
        "settle_ms_first": round(settles[0], 1) if settles else None,
        # the learnt value when the controller moved (and saved it), else the last one used
        "settle_ms_final": rig["settle"] if rig["settle"] is not None else (
            round(settles[-1], 1) if settles else None),
        "stale_retakes": sum(1 for r in rejected if is_stale_reason(r)),
        "other_retakes": sum(1 for r in rejected if not is_stale_reason(r)),
        # command → first capture request, the phone-sim already running (waiting for the
        # pairing file, as the app waits for the QR code): imports, rendering, pairing
        "start_ms": round(start_raw, 1),
        "pairing_ms": round(rig["pairing_s"] * 1000, 1),
        "wall_s": round(rig["wall_s"], 2),
        "per_item_ms": {
            "cycle": [round(c, 1) for c in cycles],
            "settle": [round(s, 1) for s in settles],
        },
        "display_latency_ms": LATENCY_MS,
    }


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 1) if values else math.nan


def _machine(load_before: tuple[float, float, float]) -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
