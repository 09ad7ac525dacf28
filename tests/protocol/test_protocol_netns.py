"""Pairing and a short session across a real, non-loopback link (issue 15).

The test makes its own network namespace joined to this one by a veth pair (10.233.7.1 here,
10.233.7.2 there), runs the phone inside it with ``ip netns exec`` and the desktop out here bound
to all interfaces and advertising the veth address — as a lab desktop advertises its Wi-Fi
address. Needs root and iproute2 (as on CI); skipped with the reason otherwise. The namespace is
removed in a ``finally`` whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from rig.protocol.endpoint import DesktopEndpoint
from rig.protocol.pairing import save_qr_png
from rig.protocol.phonesim import read_shots

HOST, PHONE = "10.233.7.1", "10.233.7.2"
ROOT = Path(__file__).resolve().parents[2]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture
def netns() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("needs root to create a network namespace (CI runs as root)")
    if shutil.which("ip") is None:
        pytest.skip("iproute2 missing: apt-get install iproute2")
    ns, here, there = f"rigt{os.getpid()}", f"rva{os.getpid() % 100000}", f"rvb{os.getpid() % 100000}"
    try:
        try:
            _ip("netns", "add", ns)
            _ip("link", "add", here, "type", "veth", "peer", "name", there)
        except subprocess.CalledProcessError as exc:
            pytest.skip(f"cannot make a namespace/veth here: {exc.stderr.decode().strip()}")
        _ip("link", "set", there, "netns", ns)
        _ip("addr", "add", f"{HOST}/30", "dev", here)
        _ip("link", "set", here, "up")
        for cmd in (["addr", "add", f"{PHONE}/30", "dev", there], ["link", "set", there, "up"],
                    ["link", "set", "lo", "up"]):  # fmt: skip
            _ip("netns", "exec", ns, "ip", *cmd)
        yield ns
    finally:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            _ip("link", "del", here)
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            _ip("netns", "del", ns)


def _frame(index: int) -> np.ndarray:
    return np.full((48, 64), (index * 53) % 200 + 30, np.uint8)


async def _session(tmp: Path, phone_argv: list[str], n: int) -> tuple[list[int], object]:
    showing = [0]
    ep = DesktopEndpoint(os.urandom(32), os.urandom(8), "0.0.0.0", 0, 0, tmp / "desk",
                         lambda age_ms: _frame(showing[0]), advertise_host=HOST)  # fmt: skip
    async with ep:
        save_qr_png(ep.pairing_payload(), tmp / "pairing.png")
        (tmp / "pairing.txt").write_text(ep.pairing_payload() + "\n")
        proc = await asyncio.create_subprocess_exec(*phone_argv, stdout=asyncio.subprocess.DEVNULL)
        try:
            done = []
            for i in range(n):
                showing[0] = i
                done.append((await ep.capture(i, 1, f"ns-{i:03d}", timeout_s=60)).index)
            peer = ep.machine.peer if ep.machine else None
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    return done, peer


def test_phone_sim_in_another_namespace_pairs_from_the_qr_png(netns: str, tmp_path: Path) -> None:
    env_path = f"PYTHONPATH={ROOT}"
    argv = ["ip", "netns", "exec", netns, "env", env_path, sys.executable, "-m", "rig",
            "phone-sim", str(tmp_path / "pairing.png"), "--store", str(tmp_path / "phone"),
            "--idle-exit-s", "20"]  # fmt: skip
    done, peer = asyncio.run(asyncio.wait_for(_session(tmp_path, argv, 4), 120))
    assert done == [0, 1, 2, 3]
    assert isinstance(peer, tuple) and peer[0] == PHONE  # it really came over the veth link
    assert sorted(i for i, _, _ in read_shots(tmp_path / "phone")) == [0, 1, 2, 3]


def test_network_choice_reports_bind_and_advertised_address() -> None:
    from rig.protocol.netaddr import choose

    assert choose("0.0.0.0", "10.0.0.5").advertise == "10.0.0.5"
    assert choose("192.0.2.9").advertise == "192.0.2.9"  # a specific bind is what phones reach
    auto = choose("0.0.0.0")
    assert auto.bind == "0.0.0.0" and auto.advertise and "route" in auto.reason
    line = auto.describe(47000, 47001)
    assert "UDP 47000" in line and "HTTP 47001" in line and auto.advertise in line


def test_jvm_headless_phone_in_another_namespace(netns: str, tmp_path: Path) -> None:
    if shutil.which("javac") is None or shutil.which("java") is None:
        pytest.skip("no JDK; apt-get install default-jdk-headless")
    build = subprocess.run(
        [str(ROOT / "android-companion/protocol/build.sh"), "--no-test"], capture_output=True,
        text=True, timeout=300, env={**os.environ, "BUILD_DIR": str(tmp_path / "jbuild")},
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-2000:]
    classpath = build.stdout.strip().splitlines()[-1].removeprefix("classpath: ")
    argv = ["ip", "netns", "exec", netns, "java", "-cp", classpath, "rig.companion.HeadlessPhone",
            "--pair", str(tmp_path / "pairing.txt"), "--store", str(tmp_path / "phone"),
            "--idle-exit-s", "20"]  # fmt: skip
    done, peer = asyncio.run(asyncio.wait_for(_session(tmp_path, argv, 3), 120))
    assert done == [0, 1, 2]
    assert isinstance(peer, tuple) and peer[0] == PHONE


@pytest.mark.slow
def test_rig_session_across_the_link_with_bind_and_advertise(netns: str, tmp_path: Path) -> None:
    """`rig session start --camera phone --advertise 10.233.7.1 --udp-port … --http-port …`
    with phone-sim in the namespace, paired from a QR PNG of the pairing: every item verified."""
    import json
    import socket

    from rig.library.importer import import_paths
    from rig.library.samples import SampleSpec, write_samples
    from rig.project import init_project

    project = init_project(tmp_path / "project")
    labels = write_samples(tmp_path / "in", n_images=3, seed=4, spec=SampleSpec(rows=240, columns=200))
    import_paths(project, [tmp_path / "in"], labels, recursive=True)
    ports = []
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):  # two free ports to pin ("firewall")
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("0.0.0.0", 0))
            ports.append(s.getsockname()[1])
    pair_txt, pair_png = tmp_path / "pairing.txt", tmp_path / "pairing.png"
    env = {**os.environ, "RIG_PROJECT": str(project.root), "PYTHONPATH": str(ROOT)}
    desk = subprocess.Popen(
        [sys.executable, "-m", "rig", "session", "start", "--camera", "phone", "--headless",
         "--advertise", HOST, "--udp-port", str(ports[0]), "--http-port", str(ports[1]),
         "--pairing-file", str(pair_txt), "--json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    phone = None
    try:
        assert desk.stderr is not None
        said = []
        for line in desk.stderr:  # the desktop reports its network choice, then the pairing
            said.append(line)
            if "pairing written to" in line:
                break
        told = "".join(said)
        assert f"phones connect to {HOST}" in told and "listening on 0.0.0.0" in told, told
        uri = pair_txt.read_text().strip()
        assert f"//{HOST}:{ports[0]}/" in uri and f"http={ports[1]}" in uri
        save_qr_png(uri, pair_png)
        phone = subprocess.Popen(
            ["ip", "netns", "exec", netns, "env", f"PYTHONPATH={ROOT}", sys.executable, "-m",
             "rig", "phone-sim", str(pair_png), "--store", str(tmp_path / "phone"),
             "--idle-exit-s", "20"], stdout=subprocess.DEVNULL,
        )  # fmt: skip
        out, err = desk.communicate(timeout=240)
        assert desk.returncode == 0, out + err
        summary = json.loads(out)
        assert summary["verified"] == summary["items"] == 3 and summary["clean"]
    finally:
        for proc in (desk, phone):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    shots = read_shots(tmp_path / "phone")
    assert sorted(i for i, _, _ in shots) == [0, 1, 2]  # each item shot once, over the veth link
