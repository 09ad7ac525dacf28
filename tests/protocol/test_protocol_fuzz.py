"""A bounded fuzz of a live loopback session (issue 23): random, truncated, wrong-key and
keyed-but-hostile datagrams to both sides and hostile HTTP requests to the upload server, while
the phone-sim serves real captures. The session must end with every item verified exactly once,
the phone never locked out, and every hostile input dropped and counted. A few seconds."""

from __future__ import annotations

import asyncio
import os
import random
import socket
from pathlib import Path

import aiohttp
import numpy as np

from rig.protocol import messages as m
from rig.protocol.auth import upload_auth
from rig.protocol.endpoint import DesktopEndpoint, time_seq
from rig.protocol.faults import parse_faults
from rig.protocol.phonesim import PhoneSim, PhoneSimConfig, read_shots

N = 8


def _hostile_datagrams(rng: random.Random, key: bytes, sid: bytes) -> list[bytes]:
    evil = m.Codec(os.urandom(32), sid, m.ROLE_PHONE, next_seq=rng.randrange(1, 2**63))
    keyed_desk = m.Codec(key, sid, m.ROLE_DESKTOP, next_seq=2**64 - 3)  # reflected + far ahead
    keyed_phone = m.Codec(key, sid, m.ROLE_PHONE, next_seq=time_seq() + 2**41)  # too far ahead
    good = m.Capture(rng.randrange(100), 1, "x")
    sealed = m.encode(good, key, sid, time_seq())
    return [
        os.urandom(rng.randrange(0, 1300)),
        sealed[: rng.randrange(0, len(sealed))],  # truncated
        sealed[:-1] + bytes([sealed[-1] ^ 1]),  # forged tag
        evil.seal(m.PhotoReady(rng.randrange(N), 1, "0" * 64, 9)),
        evil.seal(m.Hello(0, 1)),
        keyed_desk.seal(m.Resync(next=rng.randrange(1000))),
        keyed_phone.seal(m.Hello(rng.randrange(N), 7)),  # would move the peer if accepted
        keyed_phone.seal(m.CameraFailedMsg(0, 1, "hostile")),
        bytes(rng.randrange(256) for _ in range(rng.randrange(40, 200))),
    ]


async def _hostile_http(http: aiohttp.ClientSession, url: str, key: bytes, sid: bytes,
                        rng: random.Random) -> list[int]:  # fmt: skip
    sha = "ab" * 32
    statuses = []
    requests = [
        {},  # no auth
        {"X-Rig-Auth": "00", "X-Rig-Session": sid.hex()},
        {"X-Rig-Auth": upload_auth(key, sid, 1, 1, sha, 10), "X-Rig-Session": sid.hex(),
         "X-Rig-Index": "1" + "0" * 250, "X-Rig-Attempt": "1", "X-Rig-Sha256": sha,
         "X-Rig-Size": "10"},
        {"X-Rig-Auth": upload_auth(key, sid, 4, 9, sha, 10), "X-Rig-Session": sid.hex(),
         "X-Rig-Index": "4", "X-Rig-Attempt": "9", "X-Rig-Sha256": sha, "X-Rig-Size": "10"},
    ]  # fmt: skip
    for headers in requests:
        async with http.put(f"{url}/upload", params={"offset": "0"}, data=os.urandom(10),
                            headers=headers) as resp:  # fmt: skip
            statuses.append(resp.status)
    reader, writer = await asyncio.open_connection("127.0.0.1", int(url.rsplit(":", 1)[1]))
    writer.write(os.urandom(rng.randrange(20, 400)) + b"\r\n\r\n")  # garbage instead of HTTP
    await writer.drain()
    await reader.read()  # the server answers 400 and closes, or just closes
    writer.close()
    return statuses


def test_fuzzed_live_session_verifies_every_item_once(tmp_path: Path) -> None:
    rng = random.Random(23)
    key, sid = os.urandom(32), os.urandom(8)
    frame = np.zeros((24, 32), np.uint8)

    async def main() -> tuple[DesktopEndpoint, list[int], PhoneSim]:
        ep = DesktopEndpoint(key, sid, "127.0.0.1", 0, 0, tmp_path / "d", lambda age_ms: frame)
        async with ep, aiohttp.ClientSession() as http:
            phone = PhoneSim(PhoneSimConfig(ep.pairing(), tmp_path / "p", parse_faults(""), seed=1))
            task = asyncio.ensure_future(phone.run())
            statuses: list[int] = []
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                try:
                    for i in range(N):
                        frame[:] = (i * 31) % 256
                        capture = asyncio.ensure_future(ep.capture(i, 1, f"f-{i}", timeout_s=30))
                        for _ in range(20):
                            for g in _hostile_datagrams(rng, key, sid):
                                sock.sendto(g, ("127.0.0.1", ep.udp_port))
                                if ep.machine is not None and ep.machine.peer is not None:
                                    sock.sendto(g, ep.machine.peer)
                            await asyncio.sleep(0)  # let the session run between bursts
                        statuses += await _hostile_http(http, f"http://127.0.0.1:{ep.http_port}",
                                                        key, sid, rng)  # fmt: skip
                        await capture
                finally:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
        return ep, statuses, phone

    ep, statuses, phone = asyncio.run(asyncio.wait_for(main(), 120))
    assert ep.server is not None and ep.machine is not None
    assert sorted(ep.server.stored) == [(i, 1) for i in range(N)]  # each item verified once
    assert sorted(i for i, _, _ in read_shots(tmp_path / "p")) == list(range(N))  # shot once
    assert set(statuses) <= {400, 401, 403, 404} and 500 not in statuses
    assert statuses.count(404) == N  # (4, 9) was never asked for: never accepted
    rejected = ep.machine.rejected
    assert rejected.get("ahead", 0) >= N * 20 and rejected.get("mac", 0) >= N * 20
    assert ep.machine.peer is not None and ep.machine.peer[1] != ep.udp_port
    assert sum(phone.machine.rejected.values()) > 0
