"""Photo upload over HTTP (docs/protocol.md §5): the desktop's aiohttp server and the phone's client.

Server: authenticates every request (HMAC over session, index, attempt, sha256, size),
accepts the photo in resumable pieces (``PUT /upload?offset=N``, ``GET /upload`` for the
current offset) only for a capture the desktop asked for, verifies the SHA-256, stores it
atomically under a name that carries index, attempt and hash, and is idempotent per (session,
index, attempt); every refusal is one of the statuses and JSON bodies of §5.3. In simulation it
also serves the screen tap (``GET /tap``). The socket side is ``rig.protocol.httpd``.

Durability is off the event loop (``PhotoCommits``, a ``rig.groupcommit.GroupCommit``): the
hash check, the file's fdatasync, the rename and one fsync of the folder for every photo that
became ready meanwhile run on a worker thread, and the photo is reported stored
(``on_stored``, then STORED, then ``complete``) only once it is durable. The loop keeps
answering datagrams — the next capture's among them — while the disk works.

A disk that cannot take a photo (full, read-only: checked before the body is read, and any
``OSError`` meaning so while writing) is answered 507 ``storage`` (the phone retries later),
its partial file removed, and told once to ``on_storage_error``: the session pauses with that
line instead of waiting for a photo that cannot be stored. No traceback reaches the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import hashlib
import os
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import parse_qs

import aiohttp
import numpy as np

from rig.atomic import ensure_free, fsync_dir
from rig.errors import StorageError, storage_error
from rig.groupcommit import GroupCommit
from rig.protocol.auth import hex_equal, tap_auth, upload_auth
from rig.protocol.httpd import Body, Request, Response
from rig.protocol.messages import MAX_INDEX

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


TapFn = Callable[[int, int, float], np.ndarray | None]  # (index, attempt, age_ms) -> frame
RequestedFn = Callable[[int, int], bool]  # whether the desktop sent a CAPTURE for this wire pair
ProgressFn = Callable[[int, int, int], None]  # (index, attempt, bytes held) while a PUT runs

_DECIMAL = re.compile(r"0|[1-9][0-9]{0,9}")  # at most 10 digits: 10^250 is malformed, not 500
_SHA = re.compile(r"[0-9a-f]{64}")


class Refused(Exception):
    """An upload request answered with a documented error (docs/protocol.md §5.3)."""

    def __init__(self, status: int, error: str, **extra: object) -> None:
        super().__init__(error)
        self.status, self.error, self.extra = status, error, extra


def _decimal(headers: dict[str, str], name: str, lo: int, hi: int) -> int:
    text = headers.get(name.lower(), "")
    if not _DECIMAL.fullmatch(text) or not lo <= int(text) <= hi:
        raise Refused(400, "malformed", field=name)
    return int(text)


def parse_meta(headers: dict[str, str], key: bytes, session: bytes) -> UploadMeta:
    """The upload headers, checked in the order of §5.3: auth present, session, fields, HMAC."""
    auth = headers.get("x-rig-auth")
    if not auth:
        raise Refused(401, "auth")
    if headers.get("x-rig-session") != session.hex():
        raise Refused(403, "session")
    index = _decimal(headers, "X-Rig-Index", 0, MAX_INDEX)
    attempt = _decimal(headers, "X-Rig-Attempt", 0, MAX_INDEX)
    size = _decimal(headers, "X-Rig-Size", 1, MAX_INDEX)
    sha = headers.get("x-rig-sha256", "")
    if not _SHA.fullmatch(sha):
        raise Refused(400, "malformed", field="X-Rig-Sha256")
    if not hex_equal(upload_auth(key, session, index, attempt, sha, size), auth):
        raise Refused(401, "auth")
    if size > MAX_PHOTO_BYTES:
        raise Refused(413, "too_large", max_bytes=MAX_PHOTO_BYTES)
    shot_ms = None
    with contextlib.suppress(ValueError):
        shot_ms = float(headers.get("x-rig-shot-ms", "x"))
    return UploadMeta(session.hex(), index, attempt, sha, size, auth, shot_ms)


class PhotoCommits:
    """Verified photos made durable in groups (``rig.groupcommit``): each file fdatasync'ed
    and renamed into place, then the folder fsynced once per batch (rig/atomic.py's order)."""

    def __init__(self, folder: Path, durable: bool = True) -> None:
        self.folder, self.durable = folder, durable
        self.group: GroupCommit[tuple[Path, Path]] = GroupCommit(self._sync)

    async def commit(self, part: Path, target: Path) -> None:
        await self.group.commit((part, target))

    def _sync(self, jobs: list[tuple[Path, Path]]) -> None:
        for part, target in jobs:
            if self.durable:
                with open(part, "rb+") as handle:
                    _fdatasync(handle.fileno())
            os.replace(part, target)  # atomic: a reader sees no photo or the whole verified one
        if self.durable:
            fsync_dir(self.folder)


_fdatasync = getattr(os, "fdatasync", os.fsync)  # the data, not the mtime; fsync where missing


def _sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class UploadServer:
    """Stores verified photos in ``store_dir/photos``; calls ``on_stored`` once per new photo.

    Accepts an upload only for a wire pair the desktop asked for (``requested``) or already
    holds, with the statuses and JSON bodies of §5.3; serves the simulation tap if given one.
    """

    def __init__(
        self,
        key: bytes,
        session: bytes,
        store_dir: Path,
        on_stored: Callable[[PhotoRecord], None],
        tap: TapFn | None = None,
        durable: bool = True,
        requested: RequestedFn | None = None,
        on_progress: ProgressFn | None = None,
        on_storage_error: Callable[[StorageError], None] | None = None,
    ) -> None:
        self.key, self.session = key, session
        self.durable = durable  # fsync photo and folder (power-loss safe); off only for benches
        self.photos_dir = Path(store_dir) / "photos"
        self.partial_dir = Path(store_dir) / "partial"
        self.on_stored = on_stored
        self.tap = tap
        self.requested = requested or (lambda index, attempt: True)
        self.on_progress = on_progress
        self.on_storage_error = on_storage_error
        self.stored: dict[tuple[int, int], PhotoRecord] = {}
        self.by_index: dict[int, dict[int, PhotoRecord]] = {}  # index -> attempt -> record
        self.rejected: dict[str, int] = {}
        self._locks: dict[tuple[int, int], asyncio.Lock] = {}
        self.commits = PhotoCommits(self.photos_dir, durable)

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

    # ---- the HTTP application (rig.protocol.httpd calls it once per request)
    async def handle(self, request: Request, body: Body) -> Response:
        try:
            if request.path == "/upload" and request.method in ("GET", "PUT"):
                meta = parse_meta(request.headers, self.key, self.session)
                try:
                    if request.method == "GET":
                        return await self._status(meta)
                    return await self._put(meta, request, body)
                except (OSError, StorageError) as exc:
                    self._no_room(meta, exc)
            if request.path == "/tap" and request.method == "GET":
                return self._tap(request)
            raise Refused(404, "not_found")
        except Refused as exc:
            self.rejected[exc.error] = self.rejected.get(exc.error, 0) + 1
            return Response.json(exc.status, {"error": exc.error, **exc.extra})

    def _no_room(self, meta: UploadMeta, exc: OSError | StorageError) -> NoReturn:
        """Refuse with 507 (and drop the partial file) an upload the disk cannot take."""
        storage = storage_error(exc, self.photos_dir)
        if storage is None:
            raise exc
        with contextlib.suppress(OSError):
            self._partial(meta).unlink(missing_ok=True)  # nothing half-written is kept
        if self.on_storage_error is not None:
            self.on_storage_error(storage)
        raise Refused(507, "storage")

    def _partial(self, meta: UploadMeta) -> Path:
        return self.partial_dir / f"{meta.index:06d}_a{meta.attempt}_{meta.sha256}.part"

    def _state(self, meta: UploadMeta) -> Response:
        done = self.stored.get((meta.index, meta.attempt))
        if done is not None:
            if done.sha256 != meta.sha256:  # never overwritten; retrying cannot help
                raise Refused(412, "conflict", stored_sha256=done.sha256)
            return Response.json(200, {"received": done.size, "complete": True})
        if not self.requested(meta.index, meta.attempt):
            raise Refused(404, "not_requested")
        part = self._partial(meta)
        received = part.stat().st_size if part.exists() else 0
        return Response.json(200, {"received": received, "complete": False})

    async def _status(self, meta: UploadMeta) -> Response:
        """GET: the current state; a partial file that already holds every byte (its connection
        broke before the answer) is finished now, so no client is left waiting at ``size``."""
        async with self._locks.setdefault((meta.index, meta.attempt), asyncio.Lock()):
            state = self._state(meta)
            part = self._partial(meta)
            done = (meta.index, meta.attempt) in self.stored
            if not done and part.exists() and part.stat().st_size >= meta.size:
                return await self._finish(meta, part)
            return state

    async def _put(self, meta: UploadMeta, request: Request, body: Body) -> Response:
        query = parse_qs(request.query)
        offset_text = query.get("offset", ["0"])[-1]
        if not _DECIMAL.fullmatch(offset_text) or int(offset_text) > meta.size:
            raise Refused(400, "malformed", field="offset")
        offset = int(offset_text)
        lock = self._locks.setdefault((meta.index, meta.attempt), asyncio.Lock())
        async with lock:
            state = self._state(meta)  # stored / conflict / not requested
            if (meta.index, meta.attempt) in self.stored:
                return state
            part = self._partial(meta)
            received = part.stat().st_size if part.exists() else 0
            if offset != received:
                raise Refused(409, "offset", received=received, complete=False)
            if request.content_length is not None and received + request.content_length > meta.size:
                raise Refused(413, "too_large", max_bytes=meta.size - received)
            ensure_free(self.partial_dir, meta.size - received)  # before a byte is written
            received = await self._append(meta, part, received, body)
            if received < meta.size:
                return Response.json(200, {"received": received, "complete": False})
            return await self._finish(meta, part)

    async def _append(self, meta: UploadMeta, part: Path, received: int, body: Body) -> int:
        """Write the body's chunks to the partial file; a broken connection keeps what came."""
        with open(part, "ab") as handle:
            async for chunk in body.chunks():
                if received + len(chunk) > meta.size:
                    raise Refused(413, "too_large", max_bytes=meta.size)
                handle.write(chunk)
                received += len(chunk)
                if self.on_progress is not None:
                    self.on_progress(meta.index, meta.attempt, received)
        return received

    async def _finish(self, meta: UploadMeta, part: Path) -> Response:
        if await asyncio.to_thread(_sha256_of, part) != meta.sha256:
            part.unlink(missing_ok=True)
            raise Refused(422, "sha256")
        target = self.photos_dir / f"{meta.index:06d}_a{meta.attempt}_{meta.sha256}.jpg"
        await self.commits.commit(part, target)
        record = PhotoRecord(
            meta.index, meta.attempt, str(target), meta.sha256, meta.size, time.time(), meta.shot_ms
        )
        self._add(record)
        self.on_stored(record)
        return Response.json(200, {"received": meta.size, "complete": True})

    def _tap(self, request: Request) -> Response:
        """Simulation only (§5.5): the raw frame shown ``age_ms`` ago."""
        h = request.headers
        if not h.get("x-rig-auth"):
            raise Refused(401, "auth")
        if "x-rig-session" in h and h["x-rig-session"] != self.session.hex():
            raise Refused(403, "session")
        q = {k: v[-1] for k, v in parse_qs(request.query).items()}
        index = _decimal({"index": q.get("index", "")}, "index", 0, MAX_INDEX)
        attempt = _decimal({"attempt": q.get("attempt", "")}, "attempt", 0, MAX_INDEX)
        age_ms = _decimal({"age_ms": q.get("age_ms", "0").split(".")[0]}, "age_ms", 0, 600_000)
        if not hex_equal(tap_auth(self.key, self.session, index, attempt), h["x-rig-auth"]):
            raise Refused(401, "auth")
        frame = self.tap(index, attempt, float(age_ms)) if self.tap is not None else None
        if frame is None:
            raise Refused(404, "no_tap")
        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        shape = frame.shape if frame.ndim == 3 else (*frame.shape, 1)
        headers = {"X-Rig-Shape": ",".join(map(str, shape)),
                   "Content-Type": "application/octet-stream"}  # fmt: skip
        return Response(200, frame.tobytes(), headers)


# ---------------------------------------------------------------------------- client (phone)
class UploadOutcome(enum.Enum):
    """What a client makes of the desktop's answers (docs/protocol.md §5.3)."""

    STORED = "stored"  # complete: true
    RETRY = "retry"  # try again later (network, 404 not_requested, 422, 503, a partial upload)
    REFUSED = "refused"  # retrying cannot help (400, 401, 403, 412, 413)


_REFUSED = frozenset({400, 401, 403, 412, 413})


async def upload_photo(
    http: aiohttp.ClientSession,
    base_url: str,
    meta: UploadMeta,
    data: bytes,
    break_after: int | None = None,
    duration_s: float = 0.0,
) -> UploadOutcome:
    """Upload ``data`` (resuming where the server stopped).

    ``break_after`` (fault injection) sends only that many bytes and gives up, leaving a partial
    upload for the next try to resume. ``duration_s`` (simulation) spreads the body over that
    long in small pieces, as a slow link delivers it.
    """
    headers = meta.headers()
    offset = 0  # optimistic first PUT; a 409 "offset" answer tells where the desktop stands
    try:
        for _ in range(3):
            end = len(data) if break_after is None else min(len(data), offset + break_after)
            async with http.put(
                f"{base_url}/upload", params={"offset": str(offset)},
                data=_paced(data[offset:end], duration_s) if duration_s > 0 else data[offset:end],
                headers=headers,
            ) as resp:  # fmt: skip
                if resp.status in _REFUSED:
                    return UploadOutcome.REFUSED
                if resp.status not in (200, 409):
                    return UploadOutcome.RETRY
                state = await resp.json()
            if state.get("complete"):
                return UploadOutcome.STORED
            if resp.status == 200 or int(state["received"]) == offset:
                return UploadOutcome.RETRY  # partial upload (fault injection), no progress
            offset = int(state["received"])
        return UploadOutcome.RETRY
    except (TimeoutError, aiohttp.ClientError, ValueError, KeyError):
        return UploadOutcome.RETRY


async def _paced(data: bytes, duration_s: float, pieces: int = 16) -> AsyncIterator[bytes]:
    """``data`` in ``pieces`` chunks, one every ``duration_s / pieces`` seconds."""
    step = max(1, -(-len(data) // pieces))
    for start in range(0, len(data), step):
        await asyncio.sleep(duration_s / pieces)
        yield data[start : start + step]


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
