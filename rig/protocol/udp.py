"""The thin asyncio adapter between a sans-I/O protocol machine and a UDP socket.

The only datagram socket code of the protocol (besides the netem proxy). The loop's monotonic
clock (``loop.time()``) is the ``now`` fed to the machine, so timers map onto ``call_at``.
Optional network faults (phone-sim ``--faults``) are applied to both directions here, using the
pure decision function of ``rig.protocol.faults``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any, Protocol, cast

from rig.protocol.events import Event
from rig.protocol.faults import FaultSpec, plan_datagram


class Machine(Protocol):
    def receive_datagram(self, data: bytes, addr: Any, now: float) -> None: ...
    def datagrams_to_send(self) -> list[tuple[bytes, Any]]: ...
    def next_events(self) -> list[Event]: ...
    def get_timer(self) -> float | None: ...
    def handle_timer(self, now: float) -> None: ...


class MachineLink(asyncio.DatagramProtocol):
    """Feeds datagrams and timers to ``machine``; hands its events to ``on_event``."""

    def __init__(
        self,
        machine: Machine,
        on_event: Callable[[Event], None],
        faults: FaultSpec | None = None,
        seed: int = 0,
        before_send: Callable[[], None] | None = None,
    ) -> None:
        self.machine = machine
        self.on_event = on_event
        self.faults = faults if faults is not None and not faults.network_clean else None
        self.rng = random.Random(seed)
        self.before_send = before_send
        self.transport: asyncio.DatagramTransport | None = None
        self.on_sent: Callable[[bytes, Any], None] | None = None  # sees every datagram sent
        self.on_received: Callable[[bytes, Any], None] | None = None  # … and every one received
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self.loop = asyncio.get_running_loop()

    def now(self) -> float:
        return self.loop.time()

    # ---- asyncio callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if self.faults is None:
            self._deliver(data, addr)
            return
        for delay_ms in plan_datagram(self.faults, self.rng):
            self.loop.call_later(delay_ms / 1000, self._deliver, data, addr)

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP port unreachable while the peer restarts: the retransmit timer copes

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.transport = None

    # ---- plumbing
    def _deliver(self, data: bytes, addr: Any) -> None:
        if self.on_received is not None:
            self.on_received(data, addr)
        self.machine.receive_datagram(data, addr, self.now())
        self.pump()

    def pump(self) -> None:
        """Persist (``before_send``), send what the machine queued, dispatch its events,
        persist again if they changed anything, re-arm its timer.

        Persisting first keeps the rule of §4.6 and §7: nothing a datagram announces (a seq, a
        finished attempt, a wire pair) is sent before it is on disk.
        """
        if self.before_send is not None:
            self.before_send()
        for data, addr in self.machine.datagrams_to_send():
            self._send(data, addr)
        for event in self.machine.next_events():
            self.on_event(event)
        if self.before_send is not None:
            self.before_send()
        when = self.machine.get_timer()
        if when != self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer_at = when
            self._timer = None if when is None else self.loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._timer = self._timer_at = None
        self.machine.handle_timer(self.now())
        self.pump()

    def _send(self, data: bytes, addr: Any) -> None:
        if self.faults is None:
            self._sendto(data, addr)
            return
        for delay_ms in plan_datagram(self.faults, self.rng):
            self.loop.call_later(delay_ms / 1000, self._sendto, data, addr)

    def _sendto(self, data: bytes, addr: Any) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, addr)
            if self.on_sent is not None:
                self.on_sent(data, addr)
