"""A panel slower than the first settle: stale photos happen, none ever becomes a pair, and the
adaptive settle finds the panel within 20 items (issue 18), with pipelined captures.

The display models its response on the loop's (virtual) clock: a frame becomes visible
``RESPONSE_S`` after it was presented, and until then the screen still shows the previous
one. The camera photographs, through rig.camsim, whatever is visible when its shutter opens
— the request — and hands the photo over later (``CapturedPhoto.later``, as a v1.2 phone
does), so verdicts arrive while later items are being shot. The oracle is the display's own
record of which frame the shutter saw, independent of the frame code registration reads.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import numpy as np
from scripted import PLAN, small_sim_camera
from virtual_time import LoopClock, run_virtual

from rig.project import Project
from rig.session import events as ev
from rig.session import service
from rig.session.capture import CapturedPhoto, CaptureLimits, CaptureRequest, ProgressCallback
from rig.session.plan import CapturePlan

RESPONSE_S = 0.070  # the panel: slower than the physical-minimum settle the session starts at
SHOT_S = 0.5
TRANSFER_S = 0.3  # the photo arrives this long after the shot (the next item is shown meanwhile)
ITEMS = 24


@dataclass
class SlowPanel:
    """Frames visible ``RESPONSE_S`` after ``show``; remembers which request each frame is."""

    frames: list[tuple[float, np.ndarray]] = field(
        default_factory=lambda: [(-1.0, np.zeros((800, 1280), np.uint8))]  # dark before the first
    )

    async def show(self, frame: np.ndarray) -> float:
        now = asyncio.get_running_loop().time()
        self.frames.append((now + RESPONSE_S, frame))
        return now  # presentation confirmed; the panel's response is what the settle covers

    def tap(self, at: float | None = None) -> np.ndarray | None:
        at = asyncio.get_running_loop().time() if at is None else at
        visible = [frame for t, frame in self.frames if t <= at]
        return visible[-1] if visible else None


@dataclass
class ShutterCamera:
    """Photographs what the panel shows at the request; the photo arrives later."""

    panel: SlowPanel
    seen: dict[tuple[int, int], bool] = field(default_factory=dict)  # request -> its own frame?
    order: list[tuple[int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.camera = small_sim_camera()

    @property
    def limits(self) -> CaptureLimits:
        return CaptureLimits(5.0, 5.0, 1.0)

    async def start(self) -> None:
        await self.camera.connect()

    async def stop(self) -> None:
        await self.camera.close()

    async def recover(self, idx: int, attempt: int) -> CapturedPhoto | None:
        return None

    async def capture(self, request: CaptureRequest, progress: ProgressCallback) -> CapturedPhoto:
        loop = asyncio.get_running_loop()
        visible = self.panel.tap()
        assert visible is not None
        self.order.append((request.idx, request.attempt))
        self.seen[(request.idx, request.attempt)] = visible is request.shown_frame
        photo = await self.camera.capture(visible)
        await asyncio.sleep(SHOT_S)

        async def arrive() -> CapturedPhoto:
            await asyncio.sleep(TRANSFER_S)
            return CapturedPhoto(photo.jpeg, loop.time(), {"camera": "shutter"})

        return CapturedPhoto(b"", loop.time(), later=asyncio.ensure_future(arrive()))


def test_stale_frames_never_pair_and_the_settle_converges_within_20_items(
    project: Project,
) -> None:
    plan = CapturePlan(**{**PLAN, "settle_ms": 33}, settle_ms_min=33, settle_ms_max=500, repeats=4,
                       limit=ITEMS)  # fmt: skip
    session_id = service.create(project, plan)
    panel = SlowPanel()
    camera = ShutterCamera(panel)
    bus = ev.EventBus()
    ctx = service.SessionContext(panel, bus, clock=LoopClock())  # type: ignore[arg-type]
    runner = service.make_runner(project, session_id, ctx, camera)
    rec = run_virtual(runner.run())

    assert rec.clean and rec.verified == ITEMS
    verified = [(e.idx, e.attempt) for e in bus.history if isinstance(e, ev.CaptureVerified)]
    assert sorted(i for i, _ in verified) == list(range(ITEMS))  # one verified photo per item
    assert all(camera.seen[pair] for pair in verified)  # 0 wrong pairs: each shows its own frame
    stale = [pair for pair in camera.order if not camera.seen[pair]]
    assert stale, "the panel model produced no stale frame: the test would prove nothing"
    rejected = {(e.idx, e.attempt) for e in bus.history if isinstance(e, ev.CaptureRejected)}
    assert set(stale) <= rejected  # every stale photo was caught (and retaken)
    last_stale = max(camera.order.index(pair) for pair in stale)
    items_before = len({i for i, _ in camera.order[: last_stale + 1]})
    assert items_before <= 20, f"stale photos until item #{items_before}"
    assert runner._settle.settle_ms >= RESPONSE_S * 1000  # learnt: at least the panel's response
