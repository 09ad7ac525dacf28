"""The ``Camera`` interface every camera backend implements, and what it returns.

Backends: ``UsbCamera`` (V4L2/UVC or a video file), ``GphotoCamera``, ``SimCamera``
(rig.camsim) and the phone (inside a session). Constructors are inert: hardware,
threads and sockets start in ``connect()``; ``connect()`` and ``close()`` are
idempotent; ``capture()`` before ``connect()`` or after ``close()`` raises
``DeviceError``. Contract tests: tests/devices/camera_contract.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class CapturedPhoto:
    """One photo from a camera backend."""

    jpeg: bytes  # the file as the camera produced it
    image: np.ndarray  # decoded, (H, W, 3) uint8 BGR
    captured_at: float  # unix seconds (the backend's clock) when the exposure happened
    device: dict[str, Any] = field(default_factory=dict)  # backend, model, settings
    truth: dict[str, Any] | None = None  # simulated cameras only: rig.camsim TRUTH.json


@runtime_checkable
class Camera(Protocol):
    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def capture(self, shown_frame: np.ndarray | None = None) -> CapturedPhoto:
        """A photo taken after this call. ``shown_frame`` is what the display shows
        (uint8 screen frame): simulated cameras photograph it, real ones ignore it."""
        ...
