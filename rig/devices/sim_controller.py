"""``SimRigController``: the rig controller in-process, driving the simulated camera.

It runs the same device interpreter as the pty simulator and the firmware
(``controller_protocol.DeviceModel``), and turns the output levels into camsim
parameter overrides, so a condition sweep changes the simulated photos:

- ``light`` (room lights, 0..255) -> diffuse reflection ``ambient.haze`` and the
  ceiling light's specular ``ambient.glare`` on the glossy screen;
- ``ring`` (LED ring at the camera, 0..255) -> more haze (it lights the screen face-on);
- ``backlight`` (bias light behind the monitor, relay) -> ``display.background_radiance``.

The session engine applies them with ``params.with_values(overrides)``.
"""

from __future__ import annotations

from typing import Any

from rig.devices import controller_protocol as proto
from rig.devices.controller import canonical_conditions
from rig.errors import DeviceError

# Full-scale effects, relative to screen white (camsim's unit for reflected light).
ROOM_HAZE_FULL = 0.06
ROOM_GLARE_FULL = 0.5
RING_HAZE_FULL = 0.03
BIAS_BACKGROUND_ON = 0.25
BIAS_BACKGROUND_OFF = 0.08  # camsim's default wall brightness


def camsim_overrides(levels: dict[str, int]) -> dict[str, float]:
    """Output levels (``{"light": 64, "ring": 0, "backlight": 1}``) -> dotted camsim keys."""
    light = levels.get("light", 0) / 255
    ring = levels.get("ring", 0) / 255
    bias = BIAS_BACKGROUND_ON if levels.get("backlight", 0) else BIAS_BACKGROUND_OFF
    return {
        "ambient.haze": ROOM_HAZE_FULL * light + RING_HAZE_FULL * ring,
        "ambient.glare": ROOM_GLARE_FULL * light,
        "display.background_radiance": bias,
    }


def overrides_for_conditions(conditions: dict[str, str]) -> dict[str, float]:
    """Sweep conditions (``{"lights": "dim"}``) -> camsim overrides, without a controller
    (unset channels are off); an invalid value is a DeviceError naming it."""
    levels = dict.fromkeys(proto.CHANNELS, 0)
    for channel, value in canonical_conditions(conditions).items():
        level = proto.parse_level(channel, value) if channel in proto.CHANNELS else None
        if level is None:
            raise DeviceError(f"condition {channel}={value}: unknown channel or level "
                              f"(channels: {', '.join(proto.CHANNELS)}; levels: off, dim, "
                              "half, on, 0-255)")
        levels[channel] = level
    return camsim_overrides(levels)


class SimRigController:
    """An instant, deterministic rig controller; ``overrides()`` feeds the SimCamera."""

    def __init__(self, firmware: str = f"{proto.FIRMWARE_NAME}/1.0") -> None:
        self.device = proto.DeviceModel(firmware=firmware)
        self._connected = False
        self._closed = False
        self._seq = 0

    async def connect(self) -> None:
        self._connected, self._closed = True, False

    async def close(self) -> None:
        self._connected, self._closed = False, True

    async def set(self, **conditions: str) -> dict[str, str]:
        args = tuple(f"{k}={v}" for k, v in canonical_conditions(conditions).items())
        return self._call(proto.SET, args)

    async def read_sensor(self) -> dict[str, float]:
        return {k: float(v) for k, v in self._call(proto.READ, ()).items()}

    async def version(self) -> dict[str, str]:
        return self._call(proto.HELLO, ())

    async def state(self) -> dict[str, str]:
        return self._call(proto.GET, ())

    def overrides(self) -> dict[str, Any]:
        """camsim overrides for the current output levels."""
        return dict(camsim_overrides(self.device.levels))

    def _call(self, verb: str, args: tuple[str, ...]) -> dict[str, str]:
        # Through the real encoder and interpreter, so the simulator cannot drift from
        # the protocol the hardware speaks.
        if not self._connected:
            raise DeviceError("sim: controller is " + ("closed" if self._closed else
                                                      "not connected (call connect() first)"))
        self._seq = self._seq % proto.MAX_SEQ + 1
        reply = proto.parse_line(self.device.feed(proto.encode_frame(
            proto.Frame(self._seq, verb, args))))
        if reply is None or reply.verb != proto.OK:
            detail = " ".join(reply.args) if reply else "no reply"
            raise DeviceError(f"sim: controller refused {verb} {' '.join(args)}: {detail}")
        return proto.parse_pairs(reply.args)
