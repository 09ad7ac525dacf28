"""The rig-controller interface: lights, LED ring, monitor bias light, shutter, lux sensor.

Backends: ``SerialRigController`` (real or simulated hardware over a serial line,
docs/rig-controller.md) and ``SimRigController`` (in-process, drives camsim).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

# Friendly spellings accepted on the command line and in sweeps -> protocol channel.
CHANNEL_ALIASES = {"lights": "light", "room": "light", "led": "ring", "bias": "backlight"}


@runtime_checkable
class RigController(Protocol):
    """What a session needs from the box that changes the capture conditions."""

    async def connect(self) -> None:
        """Open the device and check its firmware (idempotent)."""

    async def close(self) -> None:
        """Release the device (idempotent)."""

    async def set(self, **conditions: str) -> dict[str, str]:
        """Apply ``light="dim"``-style conditions; returns what the device applied."""

    async def read_sensor(self) -> dict[str, float]:
        """Sensor readings, e.g. ``{"lux": 212.0}``."""

    async def version(self) -> dict[str, str]:
        """Firmware name/version and protocol version from the HELLO handshake."""


def canonical_conditions(conditions: dict[str, str]) -> dict[str, str]:
    """Map aliases (``lights`` -> ``light``) so every backend sees protocol channel names."""
    return {CHANNEL_ALIASES.get(k, k): str(v) for k, v in conditions.items()}
