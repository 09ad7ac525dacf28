"""``rig netem``: a bidirectional UDP proxy that drops, duplicates, reorders and delays datagrams.

What happens to each datagram is decided by the pure, seeded ``faults.plan_datagram``; this
module is only the socket plumbing. Each client address gets its own upstream socket (like a
NAT), so a phone restarting on a new port appears to the desktop as a new address.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable
from typing import Any, cast

from rig.protocol.faults import FaultSpec, plan_datagram

Addr = tuple[Any, ...]


class _Side(asyncio.DatagramProtocol):
    def __init__(self, on_datagram: Callable[[bytes, Addr], None]) -> None:
        self.on_datagram = on_datagram
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Addr) -> None:
        self.on_datagram(data, addr)

    def error_received(self, exc: Exception) -> None:
        pass


class NetemProxy:
    """``async with NetemProxy(listen, target, spec, seed) as proxy: proxy.port``."""

    def __init__(self, listen: Addr, target: Addr, spec: FaultSpec, seed: int = 0) -> None:
        self.listen, self.target, self.spec = listen, target, spec
        self.rng = random.Random(seed)
        self.stats: Counter[str] = Counter()
        self._front: _Side | None = None
        self._upstream: dict[Addr, _Side] = {}
        self.port = 0

    async def __aenter__(self) -> NetemProxy:
        loop = asyncio.get_running_loop()
        transport, proto = await loop.create_datagram_endpoint(
            lambda: _Side(self._from_client), local_addr=self.listen
        )
        self._front = proto
        self.port = transport.get_extra_info("sockname")[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for side in [self._front, *self._upstream.values()]:
            if side is not None and side.transport is not None:
                side.transport.close()

    def _from_client(self, data: bytes, client: Addr) -> None:
        side = self._upstream.get(client)
        if side is None:
            side = _Side(self._replier(client))
            self._upstream[client] = side
            loop = asyncio.get_running_loop()
            coro = loop.create_datagram_endpoint(lambda: side, remote_addr=self.target)
            task = asyncio.ensure_future(coro)
            task.add_done_callback(lambda _t: self._flush(side))
        if side.transport is None:
            side.pending.append(data)  # the upstream socket is still being made
            return
        self._forward(data, side, None)

    def _flush(self, side: _Side) -> None:
        pending, side.pending = side.pending, []
        for data in pending:
            self._forward(data, side, None)

    def _replier(self, client: Addr) -> Callable[[bytes, Addr], None]:
        def reply(data: bytes, _addr: Addr) -> None:
            self._forward(data, self._front, client)

        return reply

    def _forward(self, data: bytes, side: _Side | None, addr: Addr | None) -> None:
        delays = plan_datagram(self.spec, self.rng)
        self.stats["received"] += 1
        self.stats["dropped"] += not delays
        self.stats["duplicated"] += len(delays) > 1
        loop = asyncio.get_running_loop()
        for delay_ms in delays:
            if delay_ms <= 0:
                self._send(data, side, addr)
            else:
                loop.call_later(delay_ms / 1000, self._send, data, side, addr)

    @staticmethod
    def _send(data: bytes, side: _Side | None, addr: Addr | None) -> None:
        if side is not None and side.transport is not None and not side.transport.is_closing():
            side.transport.sendto(data, addr)


def parse_hostport(text: str, what: str) -> tuple[str, int]:
    from rig.errors import InputError

    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise InputError(f"{what}: expected HOST:PORT, got '{text}'")
    return host.strip("[]") or "127.0.0.1", int(port)
