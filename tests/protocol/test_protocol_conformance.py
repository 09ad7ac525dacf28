"""``rig protocol conformance`` over real sockets: rig's phone-sim passes, a deliberately broken
phone fails naming the scenario, and the desktop side is checked from a phone's point of view.
The JVM HeadlessPhone run is in tests/companion (it needs the Java build)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rig.protocol.conformance import SCENARIOS, PhoneCommand, run_phone_suite
from rig.protocol.conformance_desktop import DESKTOP_SCENARIOS

HERE = Path(__file__).resolve().parent
RIG = [sys.executable, "-m", "rig"]
PHONE_SIM = f"{sys.executable} -m rig phone-sim {{pairing}} --store {{store}} --idle-exit-s 30"


@pytest.mark.slow
def test_conformance_phone_sim_passes_every_scenario() -> None:
    results = asyncio.run(run_phone_suite(PhoneCommand(PHONE_SIM), []))
    assert [r.name for r in results] == list(SCENARIOS)
    failed = {r.name: r.detail for r in results if not r.passed}
    assert not failed, failed


def test_conformance_fails_a_broken_phone_naming_the_scenario() -> None:
    """A phone that ignores BYE: exit 1, the JSON and the error line name `bye`, and the
    scenarios it does meet still pass."""
    cmd = [*RIG, "protocol", "conformance", "--phone",
           f"{sys.executable} {HERE / 'broken_phone.py'} {{pairing}} {{store}}",
           "--scenario", "pairing-and-version", "--scenario", "bye", "--json"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parents[1]), str(HERE)])}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = json.loads(proc.stdout)
    assert out["passed"] is False and out["failed"] == ["bye"]
    by_name = {s["scenario"]: s for s in out["scenarios"]}
    assert by_name["pairing-and-version"]["passed"] is True
    assert "no BYE_ACK" in by_name["bye"]["detail"]
    assert proc.stderr.strip().splitlines()[-1] == "rig: error: conformance failed: bye"


def test_conformance_usage_errors_are_one_line(tmp_path: Path) -> None:
    for args in (["--scenario", "x"], ["--phone", "a", "--desktop", "b"], ["--desktop", "h:1"]):
        proc = subprocess.run([*RIG, "protocol", "conformance", *args], capture_output=True,
                              text=True, timeout=60)  # fmt: skip
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    proc = subprocess.run([*RIG, "protocol", "conformance", "--phone", "x", "--scenario", "nope"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2 and "nope" in proc.stderr


@pytest.mark.slow
def test_conformance_desktop_side_against_a_running_desktop(tmp_path: Path) -> None:
    pairing = tmp_path / "pairing.txt"
    desk = subprocess.Popen([sys.executable, str(HERE / "desktop_process.py"), str(pairing), "3"],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert desk.stdout is not None
        port = int(desk.stdout.readline())  # the desktop is up: the pairing file is written
        proc = subprocess.run(
            [*RIG, "protocol", "conformance", "--desktop", f"127.0.0.1:{port}", "--pairing",
             str(pairing), "--json"], capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        out = json.loads(proc.stdout)
        assert proc.returncode == 0, out
        assert [s["scenario"] for s in out["scenarios"]] == list(DESKTOP_SCENARIOS)
        assert desk.wait(timeout=60) == 0  # it got its 3 photos and ended the session
    finally:
        desk.kill()
        desk.wait()
