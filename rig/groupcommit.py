"""Group commit: durability work batched on a worker thread, off the event loop.

``await commit(job)`` returns once ``sync`` has run over a batch holding ``job``. Jobs queued
while a batch is on disk wait for the next one together, so one fsync serves every write that
became ready meanwhile — the loop keeps serving the capture in progress, and nobody is told
"stored" before the disk said so. Nothing runs until the first commit (inert constructor).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupCommit(Generic[T]):
    """Batches of ``T`` made durable by ``sync(batch)`` on a worker thread."""

    def __init__(self, sync: Callable[[list[T]], None]) -> None:
        self.sync = sync
        self.batches = 0  # syncs run: fewer than commits when they overlapped
        self._queued: list[tuple[T, asyncio.Future[None]]] = []
        self._worker: asyncio.Task[None] | None = None

    async def commit(self, job: T) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued.append((job, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.ensure_future(self._drain())
        await future

    async def _drain(self) -> None:
        while self._queued:
            batch, self._queued = self._queued, []
            try:
                await asyncio.to_thread(self.sync, [job for job, _ in batch])
            except OSError as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                self.batches += 1
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
