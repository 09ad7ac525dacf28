"""An unmodified CheXpeditor phone as the session's camera (docs/protocol.md, compatibility).

The app keeps its photos: the desktop triggers each shot with ``"<seq>|<name>"``,
waits for ``OK|<name>`` (the JPEG is saved on the phone) and records the name; the
photos are then paired with their items by that name with ``rig import-photos DIR
--chexpeditor``, and registered and verified like any other. The name's path parts
are the session id and the item/attempt, never patient data. In simulation the
desktop writes each screen frame under that path in ``frames`` so that
``rig phone-sim --compat chexpeditor --source-root FRAMES`` photographs the screen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rig.atomic import write_bytes_atomic
from rig.devices.urls import CameraUrl, check_options, int_option
from rig.errors import (
    CameraFailedError,
    DeviceError,
    PhoneLostError,
    RemoteProtocolError,
    UsageError,
)
from rig.imaging import codec
from rig.protocol.chexpeditor import INSECURE_WARNING, ChexpeditorDriver
from rig.session.capture import (
    CapturedPhoto,
    CaptureLimits,
    CapturerEnv,
    CaptureRequest,
    ProgressCallback,
)
from rig.session.plan import CapturePlan

DEFAULT_PORT = 4445
# The app saves the JPEG on the phone before it answers; nothing is transferred.
LIMITS = CaptureLimits(shot_s=30.0, transfer_s=0.0)


def item_parts(session_id: str, idx: int, attempt: int) -> tuple[str, str]:
    return session_id, f"item{idx:06d}_a{attempt}.png"


@dataclass(frozen=True)
class ChexpeditorSpec:
    """``chexpeditor://HOST:PORT?row_start=N&frames=DIR``."""

    host: str
    port: int
    row_start: int = 0
    frames: Path | None = None
    pairs: bool = False

    def build(self, env: CapturerEnv) -> ChexpeditorCapturer:
        return ChexpeditorCapturer(
            self.host, self.port, self.row_start, self.frames, env.on_warning
        )


def spec_from_url(url: CameraUrl, plan: CapturePlan) -> ChexpeditorSpec:
    """Checked before a session exists: needs the insecure flag in the plan, and HOST:PORT."""
    from urllib.parse import urlsplit

    if not plan.insecure_chexpeditor:
        raise UsageError(
            "the CheXpeditor protocol is unauthenticated: pass --insecure-chexpeditor "
            "to use it (on a private network only)"
        )
    check_options(url, ("row_start", "frames"))
    where = urlsplit(f"chexpeditor:{url.target}")
    try:
        port = where.port or DEFAULT_PORT
    except ValueError as exc:
        raise UsageError(f"camera '{url}': bad port ({exc})") from exc
    if not where.hostname:
        raise UsageError(f"camera '{url}': write chexpeditor://HOST:PORT")
    frames = url.option("frames")
    return ChexpeditorSpec(
        where.hostname, port, int_option(url, "row_start", 0) or 0, Path(frames) if frames else None
    )


class ChexpeditorCapturer:
    def __init__(
        self,
        host: str,
        port: int,
        row_start: int = 0,
        frames: Path | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.host, self.port, self.row_start = host, port, row_start
        self.frames = frames
        self.warn = warn
        self._driver: ChexpeditorDriver | None = None

    async def start(self) -> None:
        if self.warn is not None:
            self.warn(INSECURE_WARNING)
        self._driver = await ChexpeditorDriver(self.host, self.port).__aenter__()

    @property
    def limits(self) -> CaptureLimits:
        return LIMITS

    async def stop(self) -> None:
        if self._driver is not None:
            await self._driver.__aexit__(None, None, None)

    async def recover(self, idx: int, attempt: int) -> CapturedPhoto | None:
        return None  # photos stay on the phone; rig import-photos brings them in

    async def capture(self, request: CaptureRequest, progress: ProgressCallback) -> CapturedPhoto:
        assert self._driver is not None, "start() first"
        parts = item_parts(request.session_id, request.idx, request.attempt)
        if self.frames is not None:
            png = codec.encode_png(request.shown_frame, what="screen frame")
            write_bytes_atomic(self.frames.joinpath(*parts), png, durable=False)
        try:
            result = await self._driver.capture(self.row_start + request.idx, parts)
        except RemoteProtocolError as exc:
            raise CameraFailedError(exc.message) from exc
        except DeviceError as exc:
            raise PhoneLostError(exc.message) from exc
        device = {
            "camera": f"chexpeditor://{self.host}:{self.port}",
            "seq": result.seq,
            "confirmed": result.confirmed,
        }
        return CapturedPhoto(jpeg=b"", captured_at=0.0, device=device, pending=result.name)
