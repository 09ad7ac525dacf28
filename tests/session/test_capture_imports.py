"""The capture path imports nothing heavy (issue 18, fast start): no torch, timm or Qt.

A fresh interpreter imports what ``rig session start --camera phone --headless`` and
``rig phone-sim`` load, including what the runner imports when a run begins (the quality
gate, background scoring, registration); the ML and GUI stacks stay out until a model or a
window is really used.
"""

from __future__ import annotations

import subprocess
import sys

CAPTURE_PATH = (
    "rig.cli",
    "rig.session.service",
    "rig.session.runner",
    "rig.session.phone",
    "rig.session.verify",
    "rig.session.scoring",
    "rig.quality.gate",
    "rig.quality.project_grades",
    "rig.quality.store",
    "rig.protocol.endpoint",
    "rig.protocol.phonesim",
    "rig.bench.session_bench",
)
HEAVY = ("torch", "timm", "torchvision", "PyQt6")


def test_the_capture_path_imports_no_ml_or_gui_stack() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {CAPTURE_PATH!r}: importlib.import_module(name)\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"imported on the capture path: {out.stdout.strip()}"
