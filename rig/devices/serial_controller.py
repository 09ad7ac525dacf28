"""``SerialRigController``: the rig controller over a serial line (pyserial).

Thin adapter over the sans-I/O ``controller_protocol``: every blocking pyserial call
runs in a worker thread, every wait has a deadline, and the port is opened with
``serial.serial_for_url`` so ``/dev/ttyACM0``, ``/dev/pts/N``, ``loop://`` and
``socket://host:port`` all work.

Unplug handling: an I/O error closes the port and reopens the same path up to
``reconnect_attempts`` times; after a reconnect the HELLO handshake is repeated and
the last applied conditions are set again, so a session continues in the same
lighting. A device that answers nothing is a ``DeviceError`` after
``timeout_s * (retries + 1)`` at most.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

from rig.devices import controller_protocol as proto
from rig.devices.controller import canonical_conditions
from rig.errors import DeviceError

DEFAULT_BAUD = 115200
READ_SLICE_S = 0.05  # longest single blocking read, so deadlines are honoured closely


class SerialRigController:
    """A rig controller on a serial port; the constructor is inert."""

    def __init__(
        self,
        port: str,
        *,
        baud: int = DEFAULT_BAUD,
        timeout_s: float = 1.0,
        retries: int = 2,
        boot_wait_s: float = 2.5,
        reconnect_attempts: int = 5,
        reconnect_delay_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.port = port
        self.baud = baud
        self.timeout_s = timeout_s
        self.retries = retries
        # Many Arduinos reset when the port opens (DTR) and sit in the bootloader ~2 s.
        self.boot_wait_s = boot_wait_s
        self.reconnect_attempts = reconnect_attempts
        self.reconnect_delay_s = reconnect_delay_s
        self.clock = clock
        self.reconnects = 0
        self._serial: Any = None
        self._host = proto.HostProtocol()
        self._hello: dict[str, str] = {}
        self._applied: dict[str, str] = {}
        self._closed = False
        self._lock = threading.Lock()  # one request on the wire at a time

    # ---- RigController
    async def connect(self) -> None:
        await asyncio.to_thread(self._locked, self._connect)

    async def close(self) -> None:
        await asyncio.to_thread(self._locked, self._close)

    async def set(self, **conditions: str) -> dict[str, str]:
        wanted = canonical_conditions(conditions)
        args = tuple(f"{k}={v}" for k, v in wanted.items())
        reply = await asyncio.to_thread(self._locked, self._call, proto.SET, args)
        applied = reply.values
        self._applied.update(applied)
        return applied

    async def state(self) -> dict[str, str]:
        """What the outputs are set to now (GET)."""
        reply = await asyncio.to_thread(self._locked, self._call, proto.GET, ())
        return reply.values

    async def read_sensor(self) -> dict[str, float]:
        reply = await asyncio.to_thread(self._locked, self._call, proto.READ, ())
        try:
            return {k: float(v) for k, v in reply.values.items()}
        except ValueError as exc:
            raise DeviceError(f"{self.port}: sensor reply is not numeric ({reply.args})") from exc

    async def fire_shutter(self, pulse_ms: int = 100) -> dict[str, str]:
        """Pulse the camera shutter line for ``pulse_ms``."""
        reply = await asyncio.to_thread(self._locked, self._call, proto.FIRE, (f"ms={pulse_ms}",))
        return reply.values

    async def version(self) -> dict[str, str]:
        if not self._hello:
            await self.connect()
        return dict(self._hello)

    # ---- blocking side (worker thread)
    def _locked(self, fn: Callable[..., Any], *args: Any) -> Any:
        with self._lock:
            return fn(*args)

    def _connect(self) -> None:
        if self._serial is not None:
            return
        self._closed = False
        self._open_port()
        try:
            self._handshake(first_timeout_s=max(self.timeout_s, self.boot_wait_s))
        except _PortLost as exc:
            self._drop_port()
            raise DeviceError(f"{self.port}: the port failed during HELLO ({exc})") from exc

    def _close(self) -> None:
        self._closed = True
        self._drop_port()

    def _open_port(self) -> None:
        import serial  # lazily: pyserial is only needed for this backend

        try:
            self._serial = serial.serial_for_url(self.port, baudrate=self.baud,
                                                 timeout=READ_SLICE_S, write_timeout=self.timeout_s)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DeviceError(f"{self.port}: cannot open the controller port ({_short(exc)})") from exc
        self._host = proto.HostProtocol(next_seq=self._host.next_seq)

    def _drop_port(self) -> None:
        if self._serial is not None:
            # Closing a vanished port may fail; it is gone either way.
            with contextlib.suppress(Exception):
                self._serial.close()
        self._serial = None

    def _handshake(self, first_timeout_s: float) -> None:
        reply = self._exchange(proto.HELLO, (), first_timeout_s)
        if reply is None:
            reply = self._exchange(proto.HELLO, (), self.timeout_s)
        if reply is None or not reply.ok:
            self._drop_port()
            raise DeviceError(f"{self.port}: no HELLO answer from the controller within "
                              f"{first_timeout_s + self.timeout_s:.1f} s (right port? firmware "
                              "flashed? see docs/rig-controller.md)")
        values = reply.values
        if values.get("proto") != str(proto.PROTOCOL_VERSION):
            self._drop_port()
            raise DeviceError(f"{self.port}: controller speaks protocol {values.get('proto')!r}, "
                              f"rig needs {proto.PROTOCOL_VERSION} (update the firmware)")
        self._hello = values

    def _call(self, verb: str, args: tuple[str, ...]) -> proto.Reply:
        if self._closed:
            raise DeviceError(f"{self.port}: controller is closed")
        if self._serial is None:
            self._connect()
        last_error = "no answer"
        for _ in range(self.retries + 1):
            try:
                reply = self._exchange(verb, args, self.timeout_s)
            except _PortLost:
                self._reconnect()
                continue
            if reply is None:
                last_error = f"no answer within {self.timeout_s:.1f} s"
                continue
            if not reply.ok and reply.args[:1] == (proto.E_CHECKSUM,):
                last_error = "line damaged in transit"
                continue  # the device saw a damaged line: just send it again
            if not reply.ok:
                raise DeviceError(f"{self.port}: controller refused {verb} "
                                  f"{' '.join(args)}: {reply.error}")
            self._reapply_after_reset()
            return reply
        raise DeviceError(f"{self.port}: {verb} failed after {self.retries + 1} tries "
                          f"({last_error})")

    def _exchange(self, verb: str, args: tuple[str, ...], timeout_s: float) -> proto.Reply | None:
        """Send one request and wait for its reply until a deadline; None on timeout."""
        import serial

        seq, data = self._host.request(verb, *args)
        deadline = self.clock() + timeout_s
        try:
            self._serial.write(data)
            self._serial.flush()
            while self.clock() < deadline:
                chunk = self._serial.read(max(1, self._serial.in_waiting))
                for reply in self._host.receive(chunk):
                    if reply.seq == seq:
                        return reply
        except (serial.SerialException, OSError) as exc:
            self._host.forget(seq)
            raise _PortLost(str(exc)) from exc
        self._host.forget(seq)
        return None

    def _reconnect(self) -> None:
        """The port vanished: reopen it (bounded), redo HELLO, restore the outputs."""
        self._drop_port()
        problem = "port vanished"
        for attempt in range(self.reconnect_attempts):
            if attempt:
                time.sleep(self.reconnect_delay_s)  # let the USB device re-enumerate
            try:
                self._open_port()
                self._handshake(first_timeout_s=max(self.timeout_s, self.boot_wait_s))
                self._restore()
            except (DeviceError, _PortLost) as exc:
                problem = str(exc)
                self._drop_port()
                continue
            self.reconnects += 1
            return
        raise DeviceError(f"{self.port}: controller unplugged and not back after "
                          f"{self.reconnect_attempts} attempts ({problem})")

    def _restore(self) -> None:
        if not self._applied:
            return
        args = tuple(f"{k}={v}" for k, v in self._applied.items())
        reply = self._exchange(proto.SET, args, self.timeout_s)
        if reply is None or not reply.ok:
            raise DeviceError(f"{self.port}: could not restore {' '.join(args)} after reconnect")

    def _reapply_after_reset(self) -> None:
        """An ``EVT boot`` means the board restarted (brown-out, watchdog): restore outputs."""
        booted = any(e.args[:1] == ("boot",) for e in self._host.events)
        self._host.events.clear()
        if booted:
            self._restore()


class _PortLost(Exception):
    """The serial port failed under us (unplugged); handled by reconnecting."""


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
