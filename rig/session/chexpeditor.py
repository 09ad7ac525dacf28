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

from pathlib import Path
from typing import Any

import cv2

from rig.atomic import write_bytes_atomic
from rig.errors import DeviceError, RemoteProtocolError
from rig.protocol.chexpeditor import INSECURE_WARNING, ChexpeditorDriver
from rig.session.capture import CameraFailedError, CapturedPhoto, CaptureRequest, PhoneLostError


def item_parts(session_id: str, idx: int, attempt: int) -> tuple[str, str]:
    return session_id, f"item{idx:06d}_a{attempt}.png"


class ChexpeditorCapturer:
    def __init__(
        self, host: str, port: int, row_start: int = 0, frames: Path | None = None, warn: Any = None
    ) -> None:
        self.host, self.port, self.row_start = host, port, row_start
        self.frames = frames
        self.warn = warn
        self._driver: ChexpeditorDriver | None = None

    async def start(self) -> None:
        if self.warn is not None:
            self.warn(INSECURE_WARNING)
        self._driver = await ChexpeditorDriver(self.host, self.port).__aenter__()

    async def stop(self) -> None:
        if self._driver is not None:
            await self._driver.__aexit__(None, None, None)

    async def capture(self, request: CaptureRequest) -> CapturedPhoto:
        assert self._driver is not None, "start() first"
        parts = item_parts(request.session_id, request.idx, request.attempt)
        if self.frames is not None:
            ok, png = cv2.imencode(".png", request.shown_frame)
            if ok:
                write_bytes_atomic(self.frames.joinpath(*parts), png.tobytes(), durable=False)
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
