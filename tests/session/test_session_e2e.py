"""End to end: a headless desktop and `rig phone-sim` as separate processes over real loopback.

200 items, faults on, the phone restarted twice, the desktop killed with SIGKILL twice
and resumed: every item must end with exactly one verified photo and a clean
reconciliation.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rig.library.importer import import_paths
from rig.library.samples import SampleSpec, write_samples
from rig.project import init_project

RIG = [sys.executable, "-m", "rig"]
DEADLINE_S = 600


def verified(db_path: Path) -> int:
    with sqlite3.connect(db_path, timeout=30) as conn:
        row = conn.execute("SELECT count(*) FROM items WHERE state='verified'").fetchone()
    return int(row[0])


def session_id(db_path: Path) -> str | None:
    with sqlite3.connect(db_path, timeout=30) as conn:
        row = conn.execute("SELECT id FROM sessions").fetchone()
    return row[0] if row else None


def wait_until(predicate, what: str, proc: subprocess.Popen | None = None) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + DEADLINE_S
    while not predicate():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: process ended early with {proc.returncode}")
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.mark.slow
def test_killed_desktop_and_restarted_phone_end_with_one_verified_photo_per_item(
    tmp_path: Path,
) -> None:
    project = init_project(tmp_path / "project")
    labels = write_samples(
        tmp_path / "in", n_images=50, seed=9, spec=SampleSpec(rows=360, columns=300)
    )
    import_paths(project, [tmp_path / "in"], labels, recursive=True)
    plan = tmp_path / "plan.toml"
    plan.write_text('repeats = 4\nsettle_ms = 5\ncamera = "phone"\ncapture_timeout_s = 20.0\n')
    pairing = tmp_path / "pairing.txt"
    env = {**os.environ, "RIG_PROJECT": str(project.root)}
    db = project.db_path
    logs = tmp_path / "logs"
    logs.mkdir()

    def desktop(args: list[str], n: int) -> subprocess.Popen:  # type: ignore[type-arg]
        return subprocess.Popen(
            [*RIG, "session", *args, "--pairing-file", str(pairing)],
            env=env,
            stdout=(logs / f"desktop{n}.out").open("w"),
            stderr=(logs / f"desktop{n}.err").open("w"),
        )

    first = desktop(["start", "--plan", str(plan), "--headless"], 0)
    wait_until(pairing.exists, "the pairing file", first)
    phone = subprocess.Popen(
        [
            *RIG,
            "phone-sim",
            str(pairing),
            "--store",
            str(tmp_path / "phone"),
            "--seed",
            "4",
            "--faults",
            "loss=0.1,dup=0.05,reorder=0.05,delay_ms=2,jitter_ms=2,restart_at=45;140",
        ],
        env=env,
        stdout=(logs / "phone.out").open("w"),
        stderr=(logs / "phone.err").open("w"),
    )
    try:
        current = first
        for n, kill_at in enumerate((60, 130), start=1):
            wait_until(lambda k=kill_at: verified(db) >= k, f"{kill_at} verified items", current)
            current.send_signal(signal.SIGKILL)
            current.wait()
            sid = session_id(db)
            assert sid is not None
            current = desktop(["resume", sid], n)
        assert current.wait(timeout=DEADLINE_S) == 0, (logs / "desktop2.err").read_text()[-2000:]
    finally:
        for proc in (phone, current):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    shown = subprocess.run(
        [*RIG, "session", "show", str(session_id(db)), "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    summary = json.loads(shown.stdout)
    assert summary["items"] == 200
    assert summary["verified"] == 200
    assert summary["skipped"] == 0 and summary["duplicates"] == 0
    assert summary["reconciliation"]["clean"], summary["reconciliation"]
    with sqlite3.connect(db) as conn:
        per_item = conn.execute(
            "SELECT idx, count(*) FROM captures WHERE state='verified' GROUP BY idx"
        ).fetchall()
    assert sorted(per_item) == [(i, 1) for i in range(200)]
    # The attempts in flight at the two kills were adopted, not left 'requested' (issue 23).
    with sqlite3.connect(db) as conn:
        in_flight = conn.execute("SELECT count(*) FROM captures WHERE state='requested'")
        assert in_flight.fetchone()[0] == 0
    assert summary["state"] == "finished"
    # Pipelined (docs/protocol.md §6.4): items were asked for while earlier photos were still
    # on their way, and the kills above met photos in flight.
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT idx, kind, ts FROM events WHERE kind IN ('CaptureRequested','CaptureStored') "
            "ORDER BY id"
        ).fetchall()
    requested = {i: ts for i, kind, ts in rows if kind == "CaptureRequested"}
    stored = {i: ts for i, kind, ts in rows if kind == "CaptureStored"}
    overlapped = [i for i in stored if i + 1 in requested and requested[i + 1] < stored[i]]
    assert len(overlapped) > 50, f"only {len(overlapped)} items overlapped the next"
    # The phone really restarted twice, the desktop three processes served the session.
    assert (logs / "desktop2.err").exists()
