"""Preparing screen frames ahead of the display (render + compose off the event loop)."""

from __future__ import annotations

import asyncio
import hashlib
from concurrent.futures import Executor
from dataclasses import dataclass

from calibration.fiducials import FiducialLayout
from calibration.framecode import SESSION_BITS, FrameCode
from rig.imaging import codec
from rig.imaging.screen import ScreenFrame, compose_screen_frame, displayed_image
from rig.library.frames import GroundTruth, ensure_displayed_frame, ensure_frame
from rig.project import Project


def session_code(session_id: str) -> int:
    """The session field of the frame code: a stable hash of the session id."""
    digest = hashlib.sha256(session_id.encode()).digest()
    return int.from_bytes(digest[:4], "big") % (1 << SESSION_BITS)


@dataclass(frozen=True)
class PreparedItem:
    idx: int
    attempt: int
    truth: GroundTruth
    screen: ScreenFrame


def prepare_item(
    project: Project,
    session_id: str,
    idx: int,
    attempt: int,
    source_id: int,
    layout: FiducialLayout,
    screen_wh: tuple[int, int],
    placement: str,
) -> PreparedItem:
    """Ground truth (rendered once, stored) and the exact screen frame for one attempt.

    ``screen_wh`` and ``placement`` are a settled plan's (``CapturePlan.settled``: the
    rig.toml defaults were resolved when the session was created). The item's ground
    truth is the image as displayed (reduced, when the placement reduced it:
    ``ensure_displayed_frame``)."""
    truth = ensure_frame(project, source_id)
    pixels = codec.to_bgr(truth.pixels, codec.RGB)  # screen frames are in OpenCV order
    code = FrameCode(session=session_code(session_id), index=idx, attempt=attempt, frame_hash=0)
    screen = compose_screen_frame(pixels, screen_wh, layout, code, placement)
    truth = ensure_displayed_frame(project, truth, displayed_image(screen), screen.placement)
    return PreparedItem(idx, attempt, truth, screen)


class Prefetcher:
    """Keeps the next few items rendered and composed so the display never waits on decoding."""

    def __init__(self, executor: Executor, depth: int = 3) -> None:
        self.executor = executor
        self.depth = depth
        self._pending: dict[tuple[int, int], asyncio.Future[PreparedItem]] = {}

    def want(self, key: tuple[int, int], job: object) -> None:
        if key not in self._pending and len(self._pending) < self.depth + 1:
            loop = asyncio.get_running_loop()
            self._pending[key] = loop.run_in_executor(self.executor, job)  # type: ignore[arg-type]

    async def get(self, key: tuple[int, int], job: object) -> PreparedItem:
        self.want(key, job)
        future = self._pending.pop(key, None)
        if future is None:  # the queue was full: do it now
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self.executor, job)  # type: ignore[arg-type]
        return await future

    def retain(self, keys: set[tuple[int, int]]) -> None:
        """Forget prepared items no longer coming (e.g. their attempt number moved on)."""
        for key in [k for k in self._pending if k not in keys]:
            future = self._pending.pop(key)
            future.cancel()

    def cancel(self) -> None:
        """Drop what was prepared ahead (e.g. on stop); their errors are not reported."""
        for future in self._pending.values():
            future.cancel()
            if future.done() and not future.cancelled():
                future.exception()  # retrieved: a failed prefetch of an unused item is moot
        self._pending.clear()
