"""``rig protocol conformance`` over real sockets: rig's phone-sim passes, a deliberately broken
phone fails naming the scenario, and the desktop side is checked from a phone's point of view.
The JVM HeadlessPhone run is in tests/companion (it needs the Java build).

Only rig's phone-sim runs all twelve scenarios here (each starts a fresh session and a fresh
phone process, so the suite costs half a minute); the broken phone runs the two its test is
about. The command line itself runs in this process (``rig.cli.main``): the phones and the
desktop under test are still separate processes on real sockets."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rig.cli import main
from rig.protocol.conformance import SCENARIOS, PhoneCommand, run_phone_suite
from rig.protocol.conformance_desktop import DESKTOP_SCENARIOS

HERE = Path(__file__).resolve().parent
PHONE_SIM = f"{sys.executable} -m rig phone-sim {{pairing}} --store {{store}} --idle-exit-s 30"


@pytest.mark.slow
def test_conformance_phone_sim_passes_every_scenario() -> None:
    results = asyncio.run(run_phone_suite(PhoneCommand(PHONE_SIM), []))
    assert [r.name for r in results] == list(SCENARIOS)
    failed = {r.name: r.detail for r in results if not r.passed}
    assert not failed, failed


def test_conformance_fails_a_broken_phone_naming_the_scenario(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A phone that ignores BYE: exit 1, the JSON and the error line name `bye`, and the
    scenarios it does meet still pass."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE.parents[1]), str(HERE)]))
    code = main(["protocol", "conformance", "--phone",
                 f"{sys.executable} {HERE / 'broken_phone.py'} {{pairing}} {{store}}",
                 "--scenario", "pairing-and-version", "--scenario", "bye", "--json"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 1, captured.out + captured.err
    out = json.loads(captured.out)
    assert out["passed"] is False and out["failed"] == ["bye"]
    by_name = {s["scenario"]: s for s in out["scenarios"]}
    assert by_name["pairing-and-version"]["passed"] is True
    assert "no BYE_ACK" in by_name["bye"]["detail"]
    assert captured.err.strip().splitlines()[-1] == "rig: error: conformance failed: bye"


USAGE_ERRORS = (["--scenario", "x"], ["--phone", "a", "--desktop", "b"], ["--desktop", "h:1"],
                ["--phone", "x", "--scenario", "nope"])  # fmt: skip


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=[" ".join(a) for a in USAGE_ERRORS])
def test_conformance_usage_errors_are_one_line(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["protocol", "conformance", *args])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "nope" in err or "nope" not in args


@pytest.mark.slow
def test_conformance_desktop_side_against_a_running_desktop(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pairing = tmp_path / "pairing.txt"
    desk = subprocess.Popen([sys.executable, str(HERE / "desktop_process.py"), str(pairing), "3"],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert desk.stdout is not None
        port = int(desk.stdout.readline())  # the desktop is up: the pairing file is written
        code = main(["protocol", "conformance", "--desktop", f"127.0.0.1:{port}", "--pairing",
                     str(pairing), "--json"])  # fmt: skip
        out = json.loads(capsys.readouterr().out)
        assert code == 0, out
        assert [s["scenario"] for s in out["scenarios"]] == list(DESKTOP_SCENARIOS)
        assert desk.wait(timeout=60) == 0  # it got its 3 photos and ended the session
    finally:
        desk.kill()
        desk.wait()
