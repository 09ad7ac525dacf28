"""Screenshots of the operator console and the display window for the README.

They come from a real X server: this runs the Xvfb GUI tests (tests/gui/test_gui_xvfb.py),
which start ``rig gui --windowed 1280x800``, drive it by keyboard and mouse through
xdotool and check their screenshots; with RIG_GUI_SHOTS set they also write
docs/img/gui_{console,display,pairing,failure}.png. Needs Xvfb, xdotool and xwd
(scripts/test installs them): ``.venv/bin/python scripts/make_screenshots.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"


def run() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "RIG_GUI_SHOTS": str(OUT), "PYTHONPATH": str(ROOT)}
    test = ROOT / "tests" / "gui" / "test_gui_xvfb.py"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", str(test)],
                          cwd=ROOT, env=env)  # fmt: skip
    if done.returncode == 0:
        print(f"wrote {', '.join(sorted(p.name for p in OUT.glob('gui_*.png')))} in {OUT}")
    return done.returncode


if __name__ == "__main__":
    sys.exit(run())
