"""SerialRigController against a simulated device process on a pseudo-terminal."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rig.devices.serial_controller import SerialRigController
from rig.errors import DeviceError

START_TIMEOUT_S = 20.0


class SimDevice:
    """``python -m rig.devices.pty_device`` in its own process, reachable at ``link``."""

    def __init__(self, link: Path, *flags: str) -> None:
        self.link = link
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rig.devices.pty_device", "--link", str(link), *flags],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # The device prints its path once the pty is open: wait for that line, bounded.
        assert self.next_line() == str(link)

    def next_line(self) -> str:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], START_TIMEOUT_S)
        assert ready, "simulated device said nothing"
        return self.proc.stdout.readline().decode().strip()

    def reset(self) -> None:
        """Reset the board (as after a brown-out) and wait until it has."""
        self.proc.send_signal(signal.SIGUSR1)
        assert self.next_line() == "reset"

    def unplug(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def start_device(tmp_path: Path) -> Iterator[Callable[..., SimDevice]]:
    devices: list[SimDevice] = []

    def start(*flags: str) -> SimDevice:
        devices.append(SimDevice(tmp_path / "rig-tty", *flags))
        return devices[-1]

    yield start
    for device in devices:
        device.stop()


def controller(port: Path | str, **kw: float) -> SerialRigController:
    options: dict = {"timeout_s": 0.5, "boot_wait_s": 0.5, "reconnect_delay_s": 0.05, **kw}
    return SerialRigController(str(port), **options)


def test_handshake_set_read_and_state(start_device: Callable[..., SimDevice]) -> None:
    device = start_device()

    async def session() -> None:
        ctl = controller(device.link)
        await ctl.connect()
        await ctl.connect()  # idempotent
        assert (await ctl.version())["proto"] == "1"
        dark = (await ctl.read_sensor())["lux"]
        assert await ctl.set(lights="dim", backlight="on") == {"light": "dim",
                                                              "backlight": "on"}
        assert (await ctl.state())["light"] == "dim"
        assert (await ctl.read_sensor())["lux"] > dark
        assert (await ctl.fire_shutter(20))["count"] == "1"
        await ctl.close()
        await ctl.close()
        with pytest.raises(DeviceError, match="closed"):
            await ctl.set(light="on")

    asyncio.run(session())


def test_refused_values_are_a_clear_error(start_device: Callable[..., SimDevice]) -> None:
    device = start_device()

    async def session() -> None:
        ctl = controller(device.link)
        await ctl.connect()
        with pytest.raises(DeviceError, match="refused SET light=blinding: VALUE"):
            await ctl.set(light="blinding")
        await ctl.close()

    asyncio.run(session())


def test_garbage_and_damaged_replies_cost_only_retries(
        start_device: Callable[..., SimDevice]) -> None:
    # Random junk before every reply, and every 3rd reply damaged in transit.
    device = start_device("--noise", "7", "--corrupt-every", "3")

    async def session() -> list[str]:
        ctl = controller(device.link, timeout_s=0.3, retries=5)
        await ctl.connect()
        seen = []
        for level in ["off", "dim", "on", "half", "off", "on"]:
            seen.append((await ctl.set(light=level))["light"])
        await ctl.close()
        return seen

    assert asyncio.run(session()) == ["off", "dim", "on", "half", "off", "on"]


def test_silent_device_times_out_with_a_device_error(tmp_path: Path) -> None:
    master, slave = os.openpty()  # a port nobody answers on
    try:
        ctl = controller(os.ttyname(slave), timeout_s=0.2, boot_wait_s=0.2)
        with pytest.raises(DeviceError, match="no HELLO answer"):
            asyncio.run(ctl.connect())
    finally:
        os.close(master)
        os.close(slave)


def test_missing_port_fails_at_once(tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match="cannot open"):
        asyncio.run(controller(tmp_path / "no-such-tty").connect())


def test_unplug_and_replug_keeps_the_session(start_device: Callable[..., SimDevice]) -> None:
    first = start_device()

    async def session() -> tuple[dict[str, str], dict[str, str], int]:
        ctl = controller(first.link)
        await ctl.connect()
        await ctl.set(light="dim", ring="40")
        first.unplug()
        start_device()  # a fresh board: all outputs off, same by-id path
        after = await ctl.set(backlight="on")  # reconnects, restores, then applies
        state = await ctl.state()
        await ctl.close()
        return after, state, ctl.reconnects

    after, state, reconnects = asyncio.run(session())
    assert after == {"backlight": "on"}
    assert state == {"light": "dim", "ring": "40", "backlight": "on"}
    assert reconnects == 1


def test_unplug_without_replug_reports_clearly(start_device: Callable[..., SimDevice]) -> None:
    device = start_device()

    async def session() -> None:
        ctl = controller(device.link, reconnect_attempts=3)
        await ctl.connect()
        device.unplug()
        with pytest.raises(DeviceError, match="unplugged and not back after 3 attempts"):
            await ctl.set(light="on")

    asyncio.run(session())


def test_a_board_reset_is_noticed_and_the_outputs_restored(
        start_device: Callable[..., SimDevice]) -> None:
    device = start_device()

    async def session() -> dict[str, str]:
        ctl = controller(device.link)
        await ctl.connect()
        await ctl.set(light="dim", backlight="on")
        device.reset()  # the board forgets everything and says "EVT boot"
        await ctl.state()  # the host reads the boot event with this reply
        state = await ctl.state()
        await ctl.close()
        return state

    assert asyncio.run(session()) == {"light": "dim", "ring": "off", "backlight": "on"}
