"""A small HTTP/1.1 server on h11 with the limits docs/protocol.md §5.4 promises.

h11 parses; this module only moves bytes and enforces time and count bounds that a general
server leaves open: the whole request head must arrive within ``head_timeout_s`` (no slow
headers), body bytes must keep coming (``body_idle_s``), at most ``max_connections`` at once
(the next one gets ``503 {"error": "busy"}`` and is closed), and an idle keep-alive connection
is closed after ``keepalive_s``. The application is one coroutine per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import h11

READ_BYTES = 65536
MAX_HEAD_BYTES = 16384


@dataclass(frozen=True)
class HttpLimits:
    head_timeout_s: float = 10.0
    body_idle_s: float = 30.0
    keepalive_s: float = 30.0
    max_connections: int = 16


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    content_length: int | None


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, obj: dict[str, object]) -> Response:
        body = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
        return cls(status, body, {"Content-Type": "application/json"})


class Body:
    """The request body as an async iterator of chunks (each within ``body_idle_s``)."""

    def __init__(self, conn: _Conn) -> None:
        self._conn = conn
        self.consumed = False

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            event = await self._conn.next_event(self._conn.limits.body_idle_s)
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self.consumed = True
                return
            else:
                raise ConnectionError("connection ended inside the request body")


Handler = Callable[[Request, Body], Awaitable[Response]]


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, limits: HttpLimits) -> None:
        self.reader = reader
        self.limits = limits
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)

    async def next_event(self, timeout_s: float) -> h11.Event | type[h11.PAUSED]:
        async with asyncio.timeout(timeout_s):
            while True:
                event = self.h11.next_event()
                if event is h11.PAUSED or isinstance(event, h11.Event):
                    return event
                self.h11.receive_data(await self.reader.read(READ_BYTES))


class HttpServer:
    """``await start(host, port)`` → the bound port; ``await close()``."""

    def __init__(self, handler: Handler, limits: HttpLimits | None = None) -> None:
        self.handler = handler
        self.limits = limits or HttpLimits()
        self.active = 0
        self.refused = 0  # connections turned away (over max_connections)
        self.timed_out = 0  # connections closed for slow heads or bodies
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._accept, host, port)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop accepting, close open connections (their handlers see the end and return)."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            if self._tasks:
                await asyncio.wait(set(self._tasks), timeout=5.0)
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        try:
            if self.active >= self.limits.max_connections:
                self.refused += 1
                writer.write(_raw_response(Response.json(503, {"error": "busy"})))
                await writer.drain()
                return
            self.active += 1
            try:
                await self._serve(_Conn(reader, self.limits), writer)
            finally:
                self.active -= 1
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            if task is not None:
                self._tasks.discard(task)

    async def _serve(self, conn: _Conn, writer: asyncio.StreamWriter) -> None:
        first = True
        while True:
            try:
                wait = self.limits.head_timeout_s if first else self.limits.keepalive_s
                event = await conn.next_event(wait)
            except TimeoutError:
                self.timed_out += 1
                return
            except h11.RemoteProtocolError as exc:
                await self._send(conn, writer, Response.json(exc.error_status_hint,
                                                             {"error": "malformed"}))  # fmt: skip
                return
            if not isinstance(event, h11.Request):
                return  # ConnectionClosed (or junk): done
            first = False
            body = Body(conn)
            try:
                response = await self.handler(_request(event), body)
            except TimeoutError:
                self.timed_out += 1
                return
            await self._send(conn, writer, response)
            if not body.consumed or conn.h11.our_state is h11.MUST_CLOSE:
                return  # an answer before the body was read: the connection cannot continue
            conn.h11.start_next_cycle()

    async def _send(self, conn: _Conn, writer: asyncio.StreamWriter, response: Response) -> None:
        headers = [*response.headers.items(), ("Content-Length", str(len(response.body)))]
        data = conn.h11.send(h11.Response(status_code=response.status, headers=headers))
        data = (data or b"") + (conn.h11.send(h11.Data(data=response.body)) or b"")
        data += conn.h11.send(h11.EndOfMessage()) or b""
        writer.write(data)
        await writer.drain()


def _request(event: h11.Request) -> Request:
    target = event.target.decode("ascii", "replace")
    path, _, query = target.partition("?")
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in event.headers}
    length = headers.get("content-length")
    return Request(event.method.decode("ascii", "replace"), path, query, headers,
                   int(length) if length and length.isdigit() else None)  # fmt: skip


def _raw_response(response: Response) -> bytes:
    """A one-off answer on a connection we will not read from (503 over the limit)."""
    head = f"HTTP/1.1 {response.status} \r\nContent-Length: {len(response.body)}\r\n"
    head += "Content-Type: application/json\r\nConnection: close\r\n\r\n"
    return head.encode() + response.body
