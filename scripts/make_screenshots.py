"""Screenshots of the operator console and the display window for the README.

Run under a virtual X server: ``xvfb-run -s "-screen 0 1920x1080x24" .venv/bin/python
scripts/make_screenshots.py``. It runs a short real session (simulated phone over
loopback) in the GUI and grabs both windows into docs/img/.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import qasync

from rig.gui.app import GuiApp
from rig.library.importer import import_paths
from rig.library.samples import write_samples
from rig.project import init_project
from rig.session.plan import CapturePlan

OUT = Path(__file__).resolve().parents[1] / "docs" / "img"


async def main(app: GuiApp) -> None:
    plan = CapturePlan(camera="sim?preset=paper-lcd-iphone", limit=4, settle_ms=20,
                       conditions={"room_light": "on", "phone_model": "simulated"})
    for key, value in plan.conditions.items():
        app.console.conditions[key].setText(value)
    await app.run_plan(plan)
    await asyncio.sleep(0.5)
    OUT.mkdir(parents=True, exist_ok=True)
    app.console.grab().save(str(OUT / "gui_console.png"))
    app.window.grab().scaled(960, 540).save(str(OUT / "gui_display.png"))
    print(f"wrote {OUT / 'gui_console.png'} and {OUT / 'gui_display.png'}")


def run() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="rig-shots-"))
    project = init_project(tmp / "project")
    labels = write_samples(tmp / "in", n_images=4, seed=3)
    import_paths(project, [tmp / "in"], labels, recursive=True)
    app = GuiApp(project, windowed=True)
    app.console.resize(1280, 800)
    loop = qasync.QEventLoop(app.qt)
    asyncio.set_event_loop(loop)
    app.show()
    with loop:
        loop.run_until_complete(main(app))
    return 0


if __name__ == "__main__":
    sys.exit(run())
