"""``PhonePaired``: a protocol camera announces its phone's first HELLO, once per run.

The GUI holds the display behind the pairing QR code until this event, so it must come
for every protocol session (the simulated phone pairs over real loopback sockets) and
only once, although HELLO is also the phone's keepalive and a restarted phone says it
again; a camera device, which publishes no pairing code, never sends it.
"""

from __future__ import annotations

import asyncio
import re

from rig.devices.display import OffscreenDisplay
from rig.project import Project
from rig.session import events as ev
from rig.session import service
from rig.session.plan import CapturePlan

PLAN = dict(screen_width=1280, screen_height=800, settle_ms=0, limit=2)


def events_of(project: Project, camera: str) -> tuple[list[ev.SessionEvent], list[str]]:
    session_id = service.create(project, CapturePlan(**{**PLAN, "camera": camera}))
    bus, codes = ev.EventBus(), []
    ctx = service.SessionContext(
        OffscreenDisplay(latency_ms=1), bus, on_pairing=lambda uri, _r: codes.append(uri)
    )
    rec = asyncio.run(service.run(project, session_id, ctx))
    assert rec.clean
    return bus.history, codes


def test_the_simulated_phone_pairs_once_even_when_it_restarts(project: Project) -> None:
    history, codes = events_of(project, "sim?preset=none&faults=restart_at=0")
    paired = [e for e in history if isinstance(e, ev.PhonePaired)]
    assert len(codes) == 1 and len(paired) == 1
    assert re.fullmatch(r"127\.0\.0\.1:\d+", paired[0].peer), paired[0].peer
    first_photo = next(i for i, e in enumerate(history) if isinstance(e, ev.CaptureStored))
    assert history.index(paired[0]) < first_photo


def test_a_camera_device_publishes_no_pairing(project: Project) -> None:
    history, codes = events_of(
        project, "sim:tripod-ideal?sensor.width_px=1600&sensor.height_px=1200"
    )
    assert codes == [] and not any(isinstance(e, ev.PhonePaired) for e in history)
