"""The ``Display`` interface and the offscreen display used headless and in simulation.

A display shows a screen frame and says when it became visible. The offscreen
display models a fixed presentation latency, and its *screen tap* returns the
frame that is visible at a given instant — so a simulated phone that shoots too
early really photographs the previous image, as a real one would.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Protocol

import numpy as np


class Display(Protocol):
    async def show(self, frame: np.ndarray) -> float:
        """Show ``frame``; return the (unix) time it was presented on the panel."""
        ...

    def tap(self, at: float | None = None) -> np.ndarray | None:
        """The frame visible at time ``at`` (now by default); None before the first one."""
        ...


class OffscreenDisplay:
    """A display with no window: frames become 'visible' ``latency_ms`` after ``show``."""

    def __init__(self, latency_ms: float = 16.0, keep: int = 4) -> None:
        self.latency_s = latency_ms / 1000.0
        self._keep = keep
        self._frames: list[tuple[float, np.ndarray]] = []
        self._lock = threading.Lock()  # the tap is read from the upload server's thread

    async def show(self, frame: np.ndarray) -> float:
        presented = time.time() + self.latency_s
        with self._lock:
            self._frames.append((presented, frame))
            del self._frames[: -self._keep]
        await asyncio.sleep(self.latency_s)  # the panel really takes this long
        return presented

    def tap(self, at: float | None = None) -> np.ndarray | None:
        at = time.time() if at is None else at
        with self._lock:
            visible = [frame for t, frame in self._frames if t <= at]
        return visible[-1] if visible else None
