"""An asyncio event loop on virtual time, for testing timeouts without waiting for them.

The loop's clock moves only when nothing else can happen: no callback is ready, no
socket is readable, and no job runs in a worker thread. Then it jumps straight to the
next timer. Work in threads (rendering, registration, the simulated camera) takes no
virtual time: the loop blocks for real until it is done. A test can therefore set a
shot to take 34.9 s against a 35 s limit and know, deterministically, which side of
the limit it falls on. Not for real sockets (traffic in flight is invisible to it).
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Executor
from typing import Any, TypeVar

T = TypeVar("T")


class _VirtualSelector(selectors.DefaultSelector):
    loop: VirtualTimeLoop | None = None

    def select(self, timeout: float | None = None) -> list[Any]:
        ready = super().select(0)
        loop = self.loop
        if ready or timeout == 0 or loop is None:
            return ready
        if loop.busy or timeout is None:  # a worker will wake us (or nothing is scheduled)
            return super().select(None)
        loop.advance(timeout)  # idle until the next timer: jump there
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        selector = _VirtualSelector()
        super().__init__(selector)
        selector.loop = self
        self._now = 0.0
        self.busy = 0  # jobs running in worker threads

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds

    def run_in_executor(  # type: ignore[override]
        self, executor: Executor | None, func: Callable[..., T], *args: Any
    ) -> asyncio.Future[T]:
        future = super().run_in_executor(executor, func, *args)
        self.busy += 1
        future.add_done_callback(self._job_done)
        return future

    def _job_done(self, _future: asyncio.Future[Any]) -> None:
        self.busy -= 1


class LoopClock:
    """The runner's clock on the running loop's (virtual) time, as unix seconds that start
    at the wall-clock time of the first reading (so event logs stay plausible)."""

    def __init__(self) -> None:
        self.epoch: float | None = None

    def now(self) -> float:
        loop_time = asyncio.get_running_loop().time()
        if self.epoch is None:
            self.epoch = time.time() - loop_time
        return self.epoch + loop_time

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


def run_virtual(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on a fresh virtual-time loop."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
