"""``rig protocol conformance --desktop HOST:PORT``: a desktop checked from the phone's side.

The runner is a v1.1 phone with the session's pairing key: it probes the running desktop's UDP
endpoint and HTTP server with well-formed, forged, replayed and keyed-but-hostile input and the
documented upload errors, then serves real captures through loss, duplication and a phone
restart (``PhoneSim``), and waits for the desktop's BYE. Spec: docs/protocol.md §14.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from rig.errors import UsageError
from rig.protocol import messages as m
from rig.protocol.auth import ReplayWindow
from rig.protocol.conformance import Failed, ScenarioResult, check
from rig.protocol.endpoint import time_seq
from rig.protocol.faults import parse_faults
from rig.protocol.pairing import Pairing
from rig.protocol.phonesim import PhoneSim, PhoneSimConfig
from rig.protocol.upload import MAX_PHOTO_BYTES, upload_auth

ANSWER_S = 1.0  # how long an answer may take on a live desktop (loopback or lab Wi-Fi)


class Probe:
    """A UDP socket with the session key: sends datagrams, collects what the desktop answers."""

    def __init__(self, pairing: Pairing) -> None:
        self.pairing = pairing
        self.addr = (pairing.host, pairing.udp_port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.codec = m.Codec(pairing.key, pairing.session, m.ROLE_PHONE, next_seq=time_seq())
        self.codec.window = ReplayWindow(floor=time_seq())

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.addr)

    def hello(self, minor: int | None = m.MINOR) -> tuple[bytes, int]:
        nonce = int.from_bytes(os.urandom(4), "big")
        data = self.codec.seal(m.Hello(-1, nonce, minor=minor, shot_s=20 if minor else None))
        self.send(data)
        return data, nonce

    async def answers(self, wait_s: float = ANSWER_S) -> list[m.Message]:
        """Every authenticated datagram received within ``wait_s`` (an observation window)."""
        loop = asyncio.get_running_loop()
        out: list[m.Message] = []
        end = loop.time() + wait_s
        while (left := end - loop.time()) > 0:
            try:
                data = await asyncio.wait_for(loop.sock_recv(self.sock, 2048), left)
            except TimeoutError:
                break
            msg = self.codec.open(data)
            if msg is not None:
                out.append(msg)
        return out

    def close(self) -> None:
        self.sock.close()


def _acks(msgs: list[m.Message], nonce: int) -> list[m.HelloAck]:
    return [a for a in msgs if isinstance(a, m.HelloAck) and a.nonce == nonce]


async def _hello_version(p: Probe, pairing: Pairing) -> str:
    _, nonce = p.hello(minor=1)
    acks = _acks(await p.answers(), nonce)
    check(bool(acks), "no HELLO_ACK to a v1.1 HELLO")
    check(acks[0].minor == 1, f"HELLO_ACK minor {acks[0].minor} (want 1 for a v1.1 phone)")
    _, nonce = p.hello(minor=None)
    old = _acks(await p.answers(), nonce)
    check(bool(old) and old[0].minor is None, "a v1.0 HELLO must get a v1.0 HELLO_ACK (no minor)")
    return "minor 1 negotiated; v1.0 HELLO answered without minor"


async def _forged(p: Probe, pairing: Pairing) -> str:
    evil = m.Codec(os.urandom(32), pairing.session, m.ROLE_PHONE, next_seq=time_seq())
    reflected = m.Codec(pairing.key, pairing.session, m.ROLE_DESKTOP, next_seq=time_seq())
    for data in [evil.seal(m.Hello(-1, 1)), os.urandom(80), bytes(1300), b"RG\x01\x01",
                 reflected.seal(m.HelloAck(1, 0))]:  # fmt: skip
        p.send(data)
    check(not _acks(await p.answers(0.5), 1), "the desktop answered a forged HELLO")
    _, nonce = p.hello()
    check(bool(_acks(await p.answers(), nonce)), "no answer to a genuine HELLO after the forgeries")
    return "5 forged datagrams unanswered"


async def _replayed(p: Probe, pairing: Pairing) -> str:
    data, nonce = p.hello()
    await p.answers()
    p.send(data)
    check(not _acks(await p.answers(0.5), nonce), "the desktop answered a replayed HELLO")
    return "a replayed HELLO is unanswered"


async def _ahead(p: Probe, pairing: Pairing) -> str:
    keyed = m.Codec(pairing.key, pairing.session, m.ROLE_PHONE, next_seq=2**64 - 2)
    p.send(keyed.seal(m.Hello(-1, 99)))
    check(not _acks(await p.answers(0.5), 99), "the desktop accepted a seq 2^64-2 (bricking)")
    _, nonce = p.hello()
    check(bool(_acks(await p.answers(), nonce)), "after a far-ahead seq the real phone is locked out")
    return "seq 2^64-2 dropped; the phone is not locked out"


async def _http_statuses(p: Probe, pairing: Pairing) -> str:
    import aiohttp

    key, sid = pairing.key, pairing.session
    host = f"[{pairing.host}]" if ":" in pairing.host else pairing.host
    url = f"http://{host}:{pairing.http_port}/upload"

    def headers(index: int, attempt: int, size: int, session: str | None = None) -> dict[str, str]:
        sha = "0" * 64
        return {"X-Rig-Session": session or sid.hex(), "X-Rig-Index": str(index),
                "X-Rig-Attempt": str(attempt), "X-Rig-Sha256": sha, "X-Rig-Size": str(size),
                "X-Rig-Auth": upload_auth(key, sid, index, attempt, sha, size)}  # fmt: skip

    cases = [
        ("no auth", {"X-Rig-Session": sid.hex()}, 401, "auth"),
        ("wrong session", headers(1, 1, 10, session="00" * 8), 403, "session"),
        ("index 10^250", {**headers(1, 1, 10), "X-Rig-Index": "1" + "0" * 250}, 400, "malformed"),
        ("never requested", headers(2**31 - 1, 7, 10), 404, "not_requested"),
        ("over 64 MiB", headers(1, 1, MAX_PHOTO_BYTES + 1), 413, "too_large"),
    ]
    seen = []
    async with aiohttp.ClientSession() as http:
        for what, hdrs, status, error in cases:
            async with http.get(url, headers=hdrs) as resp:
                body = await resp.text()
            got = json.loads(body).get("error") if body.startswith("{") else body[:40]
            check((resp.status, got) == (status, error),
                  f"{what}: got {resp.status} {got!r}, want {status} {error!r} (§5.3)")  # fmt: skip
            seen.append(str(status))
    return "statuses " + " ".join(seen)


async def _slow_headers(p: Probe, pairing: Pairing) -> str:
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection(pairing.host, pairing.http_port)
    started = loop.time()
    writer.write(b"GET /upload HTTP/1.1\r\nHost: x\r\n")  # and never the rest of the head
    await writer.drain()
    try:
        async with asyncio.timeout(30):
            await reader.read()  # returns when the desktop closes the connection
    except TimeoutError:
        raise Failed("a request head that never ends kept the connection open 30 s") from None
    finally:
        writer.close()
    return f"closed after {loop.time() - started:.1f} s"


async def _captures(p: Probe, pairing: Pairing) -> str:
    with tempfile.TemporaryDirectory(prefix="rig-conformance-phone-") as tmp:
        cfg = PhoneSimConfig(pairing, Path(tmp), parse_faults("loss=0.2,dup=0.1,restart_at=0"),
                             seed=1)  # fmt: skip
        sim = PhoneSim(cfg)
        task = asyncio.ensure_future(sim.run())
        try:
            async with asyncio.timeout(90):
                while _stored(sim) < 3 and not task.done():
                    await asyncio.sleep(0.05)  # polling the phone's own record, bounded above
        except TimeoutError:
            raise Failed(f"only {_stored(sim)} photos confirmed stored in 90 s") from None
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        check(sim.boots >= 1, "the phone restart did not happen")
    return f"{_stored(sim)} photos stored through loss, duplication and a phone restart"


def _stored(sim: PhoneSim) -> int:
    machine = getattr(sim, "machine", None)
    if machine is None:
        return 0
    return sum(1 for r in machine.persist.results.values() if r.stored)


Scenario = Callable[[Probe, Pairing], Awaitable[str]]
DESKTOP_SCENARIOS: dict[str, Scenario] = {
    "hello-version": _hello_version,
    "forged-datagrams": _forged,
    "replayed-datagrams": _replayed,
    "seq-far-ahead": _ahead,
    "http-statuses": _http_statuses,
    "slow-headers": _slow_headers,
    "captures": _captures,  # last: the desktop may end its session once it has its photos
}


async def run_desktop_suite(
    pairing: Pairing, names: list[str],
    progress: Callable[[ScenarioResult], None] | None = None,
) -> list[ScenarioResult]:  # fmt: skip
    unknown = [n for n in names if n not in DESKTOP_SCENARIOS]
    if unknown:
        raise UsageError(f"--scenario: unknown {unknown} (known: {', '.join(DESKTOP_SCENARIOS)})")
    results = []
    probe = Probe(pairing)
    try:
        for name in names or list(DESKTOP_SCENARIOS):
            started = time.monotonic()
            try:
                detail = await asyncio.wait_for(DESKTOP_SCENARIOS[name](probe, pairing), 120)
                passed = True
            except (Failed, TimeoutError, OSError) as exc:
                passed, detail = False, str(exc) or type(exc).__name__
            result = ScenarioResult(name, passed, detail, time.monotonic() - started)
            results.append(result)
            if progress is not None:
                progress(result)
    finally:
        with contextlib.suppress(OSError):
            probe.close()
    return results


def any_failed(results: list[ScenarioResult]) -> list[str]:
    return [r.name for r in results if not r.passed]

