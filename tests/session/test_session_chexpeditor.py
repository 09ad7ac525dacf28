"""An unmodified CheXpeditor phone (simulated, separate process) drives a session; its photos are
then imported by name, registered and verified."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rig.cli import main
from rig.project import Project


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_chexpeditor_phone_then_import(
    project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port, frames, store = free_udp_port(), tmp_path / "frames", tmp_path / "phone"
    frames.mkdir()
    phone = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rig",
            "phone-sim",
            "--compat",
            "chexpeditor",
            "--insecure-chexpeditor",
            "--port",
            str(port),
            "--store",
            str(store),
            "--source-root",
            str(frames),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    p = ["-p", str(project.root)]
    camera = f"chexpeditor://127.0.0.1:{port}?frames={frames}"
    try:
        # Without the explicit flag the unauthenticated protocol is refused.
        assert main(["session", "start", "--camera", camera, "--limit", "4", *p]) == 2
        capsys.readouterr()
        main(
            [
                "session",
                "start",
                "--camera",
                camera,
                "--limit",
                "4",
                "--insecure-chexpeditor",
                "--json",
                *p,
            ]
        )
        started = json.loads(capsys.readouterr().out)
    finally:
        phone.terminate()
        phone.wait(timeout=10)
    assert started["pending_import"] == [0, 1, 2, 3] and not started["clean"]
    photos = sorted(p.name for p in store.iterdir() if p.is_file() and "__" in p.name)
    assert len(photos) == 4 and all(name.split("__")[2] == started["id"] for name in photos)
    code = main(
        ["import-photos", str(store), "--chexpeditor", "--session", started["id"], "--json", *p]
    )
    imported = json.loads(capsys.readouterr().out)
    assert code == 0, imported
    assert sorted(r["item"] for r in imported["verified"]) == [0, 1, 2, 3]
    assert imported["reconciliation"]["clean"]
    # Importing again changes nothing: the photos are no longer waiting.
    main(["import-photos", str(store), "--chexpeditor", "--session", started["id"], "--json", *p])
    again = json.loads(capsys.readouterr().out)
    assert again["verified"] == [] and len(again["unmatched"]) == 4
