"""Photo upload over HTTP (docs/protocol.md §5): the desktop's aiohttp server and the phone's client.

Server: authenticates every request (HMAC over session, index, attempt, sha256, size),
accepts the photo in resumable pieces (``PUT /upload?offset=N``, ``GET /upload`` for the
current offset), verifies the SHA-256, stores it atomically under a name that carries index,
attempt and hash, and is idempotent per (session, index, attempt). In simulation it also serves
the screen tap (``GET /tap``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
from aiohttp import web

from rig.atomic import fsync_dir
from rig.protocol.auth import hex_equal, tap_auth, upload_auth

MAX_PHOTO_BYTES = 64 * 1024 * 1024
_NAME_RE = re.compile(r"(\d{6,})_a(\d+)_([0-9a-f]{64})\.jpg")


@dataclass(frozen=True)
class PhotoRecord:
    """A verified photo on the desktop."""

    index: int
    attempt: int
    path: str
    sha256: str
    size: int
    stored_at: float  # Unix time, s
    shot_ms: float | None = None  # the phone's shutter-to-saved time, if sent (informational)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class UploadMeta:
    session_hex: str
    index: int
    attempt: int
    sha256: str
    size: int
    auth: str
    shot_ms: float | None = None  # informational, not authenticated (used by benchmarks only)

    def headers(self) -> dict[str, str]:
        extra = {} if self.shot_ms is None else {"X-Rig-Shot-Ms": f"{self.shot_ms:.3f}"}
        return extra | {
            "X-Rig-Session": self.session_hex,
            "X-Rig-Index": str(self.index),
            "X-Rig-Attempt": str(self.attempt),
            "X-Rig-Sha256": self.sha256,
            "X-Rig-Size": str(self.size),
            "X-Rig-Auth": self.auth,
        }


def make_meta(
    key: bytes, session: bytes, index: int, attempt: int, data: bytes, shot_ms: float | None = None
) -> UploadMeta:
    sha = hashlib.sha256(data).hexdigest()
    auth = upload_auth(key, session, index, attempt, sha, len(data))
    return UploadMeta(session.hex(), index, attempt, sha, len(data), auth, shot_ms)


TapFn = Callable[[int, int, float], np.ndarray | None]


class UploadServer:
    """Stores verified photos in ``store_dir/photos``; calls ``on_stored`` once per new photo."""

    def __init__(
        self,
        key: bytes,
        session: bytes,
        store_dir: Path,
        on_stored: Callable[[PhotoRecord], None],
        tap: TapFn | None = None,
        durable: bool = True,
    ) -> None:
        self.key, self.session = key, session
        self.durable = durable  # fsync photo and folder (power-loss safe); off only for benches
        self.photos_dir = Path(store_dir) / "photos"
        self.partial_dir = Path(store_dir) / "partial"
        self.on_stored = on_stored
        self.tap = tap
        self.stored: dict[tuple[int, int], PhotoRecord] = {}
        self.by_index: dict[int, dict[int, PhotoRecord]] = {}  # index -> attempt -> record
        self.rejected: dict[str, int] = {}
        self._locks: dict[tuple[int, int], asyncio.Lock] = {}

    def load_existing(self) -> None:
        """Index photos stored by an earlier run (names carry index, attempt and hash)."""
        self.photos_dir.mkdir(parents=True, exist_ok=True)
        self.partial_dir.mkdir(parents=True, exist_ok=True)
        for path in self.photos_dir.iterdir():
            match = _NAME_RE.fullmatch(path.name)
            if match:
                i, a, sha = int(match[1]), int(match[2]), match[3]
                st = path.stat()
                self._add(PhotoRecord(i, a, str(path), sha, st.st_size, st.st_mtime))

    def _add(self, record: PhotoRecord) -> None:
        self.stored[(record.index, record.attempt)] = record
        self.by_index.setdefault(record.index, {})[record.attempt] = record

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_PHOTO_BYTES + 1024)
        app.router.add_get("/upload", self._status)
        app.router.add_put("/upload", self._put)
        app.router.add_get("/tap", self._tap)
        return app

    # ---- request checks
    def _reject(self, reason: str, status: int, **extra: Any) -> web.Response:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1
        return web.json_response({"error": reason, **extra}, status=status)

    def _meta(self, request: web.Request) -> UploadMeta | web.Response:
        h = request.headers
        try:
            meta = UploadMeta(
                h["X-Rig-Session"], int(h["X-Rig-Index"]), int(h["X-Rig-Attempt"]),
                h["X-Rig-Sha256"], int(h["X-Rig-Size"]), h["X-Rig-Auth"],
            )  # fmt: skip
        except (KeyError, ValueError):
            return self._reject("malformed", 400)
        with contextlib.suppress(KeyError, ValueError):
            meta = replace(meta, shot_ms=float(h["X-Rig-Shot-Ms"]))
        if meta.session_hex != self.session.hex():
            return self._reject("session", 403)
        want = upload_auth(self.key, self.session, meta.index, meta.attempt, meta.sha256, meta.size)
        if not hex_equal(want, meta.auth):
            return self._reject("mac", 401)
        if not 0 < meta.size <= MAX_PHOTO_BYTES or min(meta.index, meta.attempt) < 0:
            return self._reject("size", 413)
        if not re.fullmatch(r"[0-9a-f]{64}", meta.sha256):
            return self._reject("malformed", 400)
        return meta

    def _partial(self, meta: UploadMeta) -> Path:
        return self.partial_dir / f"{meta.index:06d}_a{meta.attempt}_{meta.sha256}.part"

    def _state(self, meta: UploadMeta) -> web.Response:
        done = self.stored.get((meta.index, meta.attempt))
        if done is not None:
            if done.sha256 != meta.sha256:
                return self._reject("conflict", 409, received=0, complete=False)
            return web.json_response({"received": done.size, "complete": True})
        part = self._partial(meta)
        received = part.stat().st_size if part.exists() else 0
        return web.json_response({"received": received, "complete": False})

    # ---- handlers
    async def _status(self, request: web.Request) -> web.Response:
        meta = self._meta(request)
        return meta if isinstance(meta, web.Response) else self._state(meta)

    async def _put(self, request: web.Request) -> web.Response:
        meta = self._meta(request)
        if isinstance(meta, web.Response):
            return meta
        try:
            offset = int(request.query.get("offset", "0"))
        except ValueError:
            return self._reject("malformed", 400)
        lock = self._locks.setdefault((meta.index, meta.attempt), asyncio.Lock())
        async with lock:
            if (meta.index, meta.attempt) in self.stored:
                return self._state(meta)
            part = self._partial(meta)
            received = part.stat().st_size if part.exists() else 0
            if offset != received:
                return web.json_response({"received": received, "complete": False}, status=409)
            body = await request.read()
            if received + len(body) > meta.size:
                return self._reject("size", 413)
            with open(part, "ab") as handle:
                handle.write(body)
            received += len(body)
            if received < meta.size:
                return web.json_response({"received": received, "complete": False})
            return self._finish(meta, part)

    def _finish(self, meta: UploadMeta, part: Path) -> web.Response:
        data = part.read_bytes()
        if hashlib.sha256(data).hexdigest() != meta.sha256:
            part.unlink(missing_ok=True)
            return self._reject("sha256", 422)
        target = self.photos_dir / f"{meta.index:06d}_a{meta.attempt}_{meta.sha256}.jpg"
        if self.durable:
            with open(part, "rb+") as handle:
                os.fsync(handle.fileno())
        os.replace(part, target)  # atomic: a reader sees no photo or the whole verified photo
        if self.durable:
            fsync_dir(self.photos_dir)
        record = PhotoRecord(
            meta.index, meta.attempt, str(target), meta.sha256, meta.size, time.time(), meta.shot_ms
        )
        self._add(record)
        self.on_stored(record)
        return web.json_response({"received": meta.size, "complete": True})

    async def _tap(self, request: web.Request) -> web.Response:
        try:
            index, attempt = int(request.query["index"]), int(request.query["attempt"])
            age_ms = float(request.query.get("age_ms", "0"))
        except (KeyError, ValueError):
            return self._reject("malformed", 400)
        want = tap_auth(self.key, self.session, index, attempt)
        if not hex_equal(want, request.headers.get("X-Rig-Auth", "")):
            return self._reject("mac", 401)
        frame = self.tap(index, attempt, age_ms) if self.tap is not None else None
        if frame is None:
            return web.Response(status=404, text="no screen tap in this session")
        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        shape = frame.shape if frame.ndim == 3 else (*frame.shape, 1)
        headers = {"X-Rig-Shape": ",".join(map(str, shape))}
        return web.Response(body=frame.tobytes(), headers=headers)


# ---------------------------------------------------------------------------- client (phone)
async def upload_photo(
    http: aiohttp.ClientSession,
    base_url: str,
    meta: UploadMeta,
    data: bytes,
    break_after: int | None = None,
) -> bool:
    """Upload ``data`` (resuming where the server stopped); True once the desktop stored it.

    ``break_after`` (fault injection) sends only that many bytes and gives up, leaving a partial
    upload for the next try to resume.
    """
    headers = meta.headers()
    offset = 0  # optimistic first PUT; a 409 answer tells where the desktop stands
    try:
        for _ in range(3):
            end = len(data) if break_after is None else min(len(data), offset + break_after)
            async with http.put(
                f"{base_url}/upload", params={"offset": str(offset)}, data=data[offset:end],
                headers=headers,
            ) as resp:  # fmt: skip
                if resp.status not in (200, 409):
                    return False
                state = await resp.json()
            if state.get("complete"):
                return True
            if resp.status == 200 or int(state["received"]) == offset:
                return False  # partial upload (fault injection) or no progress possible
            offset = int(state["received"])
        return False
    except (TimeoutError, aiohttp.ClientError, ValueError, KeyError):
        return False


async def fetch_tap(
    http: aiohttp.ClientSession, base_url: str, key: bytes, session: bytes, index: int,
    attempt: int, age_ms: float = 0.0,
) -> np.ndarray | None:  # fmt: skip
    """The screen frame the desktop showed ``age_ms`` ago, or None if it has no tap."""
    headers = {"X-Rig-Auth": tap_auth(key, session, index, attempt)}
    params = {"index": str(index), "attempt": str(attempt), "age_ms": f"{age_ms:g}"}
    try:
        async with http.get(f"{base_url}/tap", params=params, headers=headers) as resp:
            if resp.status != 200:
                return None
            shape = tuple(int(x) for x in resp.headers["X-Rig-Shape"].split(","))
            return np.frombuffer(await resp.read(), np.uint8).reshape(shape)
    except (TimeoutError, aiohttp.ClientError, ValueError, KeyError):
        return None
