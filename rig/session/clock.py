"""Time as a parameter of the session runner: one clock that tells the time and can wait.

The runner never reads ``time`` or calls ``asyncio.sleep`` itself: settle waits,
capture deadlines, retry back-off and the camera-lost limit all go through a
``Clock``, so tests run them on a virtual clock (tests/session/virtual_time.py) and
check every limit just under and just over it without waiting for real.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds; unix time for the system clock (it stamps the event log)."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall-clock time and asyncio's timers."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
