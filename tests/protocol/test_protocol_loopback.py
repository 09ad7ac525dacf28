"""Real sockets on loopback: endpoint + phone-sim process, hostile third parties, uploads."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import cv2
import numpy as np
import pytest

from rig.devices.display import OffscreenDisplay
from rig.protocol import messages as m
from rig.protocol.auth import upload_auth
from rig.protocol.endpoint import CameraFailedError, DesktopEndpoint, PhoneLostError
from rig.protocol.faults import parse_faults
from rig.protocol.phonesim import PhoneSim, PhoneSimConfig, read_shots
from rig.protocol.timers import Timers
from rig.protocol.upload import UploadOutcome, make_meta, upload_photo

SHADES = [(i * 53) % 200 + 30 for i in range(64)]  # one flat grey per item, far apart


def photo_shade(path: str) -> float:
    img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    assert img is not None
    return float(img.mean())


def nearest_item(shade: float) -> int:
    return int(np.argmin([abs(shade - s) for s in SHADES]))


async def capture_all(ep: DesktopEndpoint, frame: np.ndarray, n: int) -> list[Any]:
    records = []
    for i in range(n):
        frame[:] = SHADES[i]
        records.append(await ep.capture(i, 1, f"t-{i:04d}", timeout_s=60))
    return records


def test_protocol_loopback_phone_sim_process_with_faults(tmp_path: Path) -> None:
    """Desktop endpoint here, phone-sim in a child process with network + device faults."""
    n = 30
    frame = np.zeros((24, 32), np.uint8)

    async def main() -> tuple[list[Any], dict[str, Any]]:
        ep = DesktopEndpoint(os.urandom(32), os.urandom(8), "127.0.0.1", 0, 0, tmp_path / "d",
                             lambda age_ms: frame)  # fmt: skip
        async with ep:
            faults = "loss=0.15,dup=0.1,reorder=0.1,delay_ms=2,jitter_ms=4,restart_at=7;19,camera_fail=0.05"
            cmd = [sys.executable, "-m", "rig", "phone-sim", ep.pairing_payload(), "--store",
                   str(tmp_path / "p"), "--faults", faults, "--seed", "3", "--idle-exit-s", "20"]  # fmt: skip
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
            try:
                records = await capture_all(ep, frame, n)
            finally:
                proc.terminate()
                proc.wait(timeout=10)
            return records, ep.stats()

    records, stats = asyncio.run(main())
    assert [r.index for r in records] == list(range(n))
    for r in records:  # each stored photo is verified, and shows its own item (not a neighbour)
        data = Path(r.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == r.sha256 and len(data) == r.size
        assert nearest_item(photo_shade(r.path)) == r.index
    stored = sorted(p.name for p in (tmp_path / "d" / "photos").iterdir())
    assert len(stored) == n and len({name[:6] for name in stored}) == n
    shots = read_shots(tmp_path / "p")
    saved_per_index = [sum(1 for i, _, _ in shots if i == k) for k in range(n)]
    assert saved_per_index == [1] * n  # nothing shot twice, despite two crashes
    assert stats["retransmissions"] > 0


def test_protocol_forged_sender_on_real_sockets(tmp_path: Path) -> None:
    """A third party sends forged, replayed, oversize and garbage datagrams mid-session."""
    n = 12
    frame = np.zeros((16, 16), np.uint8)
    key, session = os.urandom(32), os.urandom(8)

    async def main() -> tuple[DesktopEndpoint, PhoneSim, Any]:
        ep = DesktopEndpoint(key, session, "127.0.0.1", 0, 0, tmp_path / "d", lambda age_ms: frame)
        async with ep:
            cfg = PhoneSimConfig(ep.pairing(), tmp_path / "p", parse_faults(""), idle_exit_s=0)
            phone = PhoneSim(cfg)
            phone_task = asyncio.ensure_future(phone.run())
            attacker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            attacker.bind(("127.0.0.1", 0))
            evil_phone = m.Codec(os.urandom(32), session, m.ROLE_PHONE)
            evil_desktop = m.Codec(os.urandom(32), session, m.ROLE_DESKTOP)
            stale = m.Codec(key, session, m.ROLE_PHONE, next_seq=5)  # genuine key, seqs of the past
            old = stale.seal(m.Hello(cursor=0, nonce=1))
            try:
                await ep.capture(0, 1, "", timeout_s=30)  # the phone has spoken: seqs are in use
                for i in range(1, n):
                    frame[:] = SHADES[i]
                    for _ in range(3):
                        desk = ("127.0.0.1", ep.udp_port)
                        attacker.sendto(evil_phone.seal(m.PhotoReady(i, 1, "0" * 64, 10)), desk)
                        attacker.sendto(old, desk)
                        attacker.sendto(b"\x00" * 1300, desk)
                        attacker.sendto(os.urandom(60), desk)
                        phone_addr = ep.machine.peer if ep.machine else None
                        if phone_addr is not None:
                            attacker.sendto(evil_desktop.seal(m.Capture(i + 1, 1, "x")), phone_addr)
                            attacker.sendto(b"RG" + os.urandom(80), phone_addr)
                    await asyncio.sleep(0)
                    await ep.capture(i, 1, "", timeout_s=30)
                peer = ep.machine.peer if ep.machine else None
            finally:
                phone_task.cancel()
                await asyncio.gather(phone_task, return_exceptions=True)
                attacker.close()
            return ep, phone, peer

    ep, phone, peer = asyncio.run(main())
    assert ep.machine is not None
    rejected = ep.machine.rejected
    assert rejected.get("mac", 0) >= 3 * (
        n - 1
    )  # the forged PhotoReady (+ random bytes that pass length)
    assert rejected.get("replay", 0) == 3 * (n - 1)  # the genuine-key datagram with an old seq
    assert rejected.get("oversize", 0) == 3 * (n - 1)
    assert sum(rejected.values()) == 4 * 3 * (n - 1)  # every hostile datagram counted, once
    assert peer is not None and peer[1] != 0 and ep.stored(n - 1) is not None
    assert sum(phone.machine.rejected.values()) >= 2 * (3 * (n - 1) - 3)
    assert set(phone.machine.rejected) <= {"mac", "magic", "short", "malformed", "version"}


def test_protocol_upload_server_checks_and_resumes(tmp_path: Path) -> None:
    key, session = os.urandom(32), os.urandom(8)
    photo = os.urandom(5000)

    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {}
        ep = DesktopEndpoint(key, session, "127.0.0.1", 0, 0, tmp_path)
        async with ep, aiohttp.ClientSession() as http:
            assert ep.machine is not None
            for item in (3, 4):  # uploads are accepted only for captures asked for (§5.2)
                ep.machine.wiremap.assign(item, 1, -1)
            url = f"http://127.0.0.1:{ep.http_port}"
            meta = make_meta(key, session, 3, 1, photo)
            bad = make_meta(os.urandom(32), session, 3, 1, photo)
            out["forged"] = await upload_photo(http, url, bad, photo)
            async with http.put(f"{url}/upload", headers={"X-Rig-Index": "1"}) as r:
                out["no_auth_status"] = r.status
            out["partial"] = await upload_photo(http, url, meta, photo, break_after=1234)
            part = list((tmp_path / "partial").iterdir())
            out["part_size"] = part[0].stat().st_size if part else 0
            out["resumed"] = await upload_photo(http, url, meta, photo)
            out["again"] = await upload_photo(http, url, meta, photo)  # idempotent
            other = os.urandom(5000)
            out["conflict"] = await upload_photo(
                http, url, make_meta(key, session, 3, 1, other), other
            )
            lie = make_meta(key, session, 4, 1, photo)
            headers = lie.headers() | {"X-Rig-Size": "5000"}
            wrong = bytes(5000)  # right size and valid auth for `photo`, but other bytes
            async with http.put(
                f"{url}/upload", params={"offset": "0"}, data=wrong, headers=headers
            ) as r:
                out["hash_mismatch_status"] = r.status
            out["stored"] = sorted(p.name for p in (tmp_path / "photos").iterdir())
            out["rejected"] = ep.stats()["rejected_uploads"]
        return out

    out = asyncio.run(main())
    assert out["forged"] is UploadOutcome.REFUSED and out["no_auth_status"] == 401
    assert out["partial"] is UploadOutcome.RETRY and out["part_size"] == 1234
    assert out["resumed"] is UploadOutcome.STORED and out["again"] is UploadOutcome.STORED
    assert out["conflict"] is UploadOutcome.REFUSED  # 412: another photo holds this attempt
    assert out["hash_mismatch_status"] == 422
    sha = hashlib.sha256(photo).hexdigest()
    assert out["stored"] == [f"000003_a1_{sha}.jpg"]
    assert (tmp_path / "photos" / out["stored"][0]).read_bytes() == photo
    # offset: the optimistic PUT at 0 of the resumed upload (answered 409 with `received`)
    assert out["rejected"] == {"auth": 2, "offset": 1, "conflict": 1, "sha256": 1}
    assert upload_auth(key, session, 3, 1, sha, 5000) == make_meta(key, session, 3, 1, photo).auth


def test_protocol_endpoint_raises_phone_lost_without_phone(tmp_path: Path) -> None:
    async def main() -> None:
        timers = Timers(phone_timeout_s=0.3)
        ep = DesktopEndpoint(
            os.urandom(32), os.urandom(8), "127.0.0.1", 0, 0, tmp_path, timers=timers
        )
        async with ep:
            await ep.capture(0, 1, "", timeout_s=10)

    with pytest.raises(PhoneLostError, match="no phone has paired"):
        asyncio.run(main())


def test_protocol_camera_failures_are_retried_then_raised(tmp_path: Path) -> None:
    async def main() -> None:
        ep = DesktopEndpoint(os.urandom(32), os.urandom(8), "127.0.0.1", 0, 0, tmp_path / "d",
                             camera_retries=2)  # fmt: skip
        async with ep:
            cfg = PhoneSimConfig(ep.pairing(), tmp_path / "p", parse_faults("camera_fail=1"))
            task = asyncio.ensure_future(PhoneSim(cfg).run())
            try:
                await ep.capture(0, 1, "", timeout_s=20)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    with pytest.raises(CameraFailedError, match="3 times"):
        asyncio.run(main())


def test_protocol_early_shot_really_shows_previous_image(tmp_path: Path) -> None:
    """A shutter firing early photographs what the display showed before: the previous item."""
    display = OffscreenDisplay(latency_ms=300)  # the simulated panel keeps frames and latency

    def tap(age_ms: float) -> np.ndarray | None:
        return display.tap(time.time() - age_ms / 1000)

    async def main() -> list[Any]:
        ep = DesktopEndpoint(os.urandom(32), os.urandom(8), "127.0.0.1", 0, 0, tmp_path / "d",
                             tap)  # fmt: skip
        async with ep:
            spec = parse_faults("early=1,early_ms=200")
            cfg = PhoneSimConfig(ep.pairing(), tmp_path / "p", spec)
            task = asyncio.ensure_future(PhoneSim(cfg).run())
            try:
                records = []
                for i in range(4):
                    await display.show(np.full((16, 16), SHADES[i], np.uint8))  # visible now
                    records.append(await ep.capture(i, 1, f"t-{i:04d}", timeout_s=60))
                return records
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    records = asyncio.run(main())
    # Item i became visible 300 ms after it was commanded, and the capture request was sent then;
    # 200 ms earlier the screen still showed item i - 1 (item 0: nothing yet, the phone-sim's
    # black stand-in).
    shades = [photo_shade(r.path) for r in records]
    assert shades[0] < 10
    assert [nearest_item(s) for s in shades[1:]] == [0, 1, 2]


def test_protocol_desktop_restart_resumes_without_reshooting(tmp_path: Path) -> None:
    """The desktop endpoint stops after item 4 and comes back on the same ports and store."""
    key, session = os.urandom(32), os.urandom(8)
    frame = np.zeros((16, 16), np.uint8)

    async def main() -> list[int]:
        first = DesktopEndpoint(key, session, "127.0.0.1", 0, 0, tmp_path / "d", lambda age_ms: frame)
        await first.__aenter__()
        ports = first.udp_port, first.http_port
        cfg = PhoneSimConfig(first.pairing(), tmp_path / "p", parse_faults("loss=0.1,dup=0.1"))
        phone = asyncio.ensure_future(PhoneSim(cfg).run())
        await capture_all(first, frame, 5)
        await first.close(bye=False)  # as if killed: no BYE, the phone keeps its session
        second = DesktopEndpoint(key, session, "127.0.0.1", *ports, tmp_path / "d", lambda age_ms: frame)
        try:
            async with second:
                again = [await second.capture(i, 1, "", timeout_s=30) for i in (3, 4)]
                assert [r.index for r in again] == [3, 4]  # already stored: not asked again
                records = []
                for i in range(5, 10):
                    frame[:] = SHADES[i]
                    records.append(await second.capture(i, 1, "", timeout_s=30))
                assert all(nearest_item(photo_shade(r.path)) == r.index for r in records)
        finally:
            phone.cancel()
            await asyncio.gather(phone, return_exceptions=True)
        return [i for i, _, _ in read_shots(tmp_path / "p")]

    shots = asyncio.run(main())
    assert sorted(shots) == list(range(10))  # each item shot exactly once across the restart


def test_protocol_phone_sim_photographs_through_camsim(tmp_path: Path) -> None:
    """With --camera-preset the phone-sim shoots the tapped frame through rig.camsim."""
    camsim = pytest.importorskip("rig.camsim")
    frame = np.zeros((135, 240), np.uint8)
    frame[30:100, 60:180] = 220

    async def main() -> Any:
        ep = DesktopEndpoint(os.urandom(32), os.urandom(8), "127.0.0.1", 0, 0, tmp_path / "d",
                             lambda age_ms: frame)  # fmt: skip
        async with ep:
            preset = camsim.preset_names()[0]
            cfg = PhoneSimConfig(
                ep.pairing(), tmp_path / "p", parse_faults(""), camera_preset=preset
            )
            task = asyncio.ensure_future(PhoneSim(cfg).run())
            try:
                return await ep.capture(0, 1, "", timeout_s=60)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    record = asyncio.run(main())
    photo = cv2.imread(record.path)
    assert (
        photo is not None and photo.shape[0] > frame.shape[0]
    )  # a sensor-sized photo, not the frame


def test_protocol_retake_with_new_attempt_and_explicit_resync(tmp_path: Path) -> None:
    """A retake (higher attempt) is shot anew; going back and forth needs explicit resyncs."""
    frame = np.zeros((16, 16), np.uint8)

    async def main() -> tuple[list[Any], int, list[int]]:
        ep = DesktopEndpoint(os.urandom(32), os.urandom(8), "127.0.0.1", 0, 0, tmp_path / "d",
                             lambda age_ms: frame)  # fmt: skip
        async with ep:
            cfg = PhoneSimConfig(ep.pairing(), tmp_path / "p", parse_faults(""))
            task = asyncio.ensure_future(PhoneSim(cfg).run())
            try:
                out = await capture_all(ep, frame, 4)  # items 0..3, attempt 1
                frame[:] = SHADES[10]
                out.append(await ep.capture(1, 2, "retake", timeout_s=30))  # retake of item 1
                out.append(await ep.capture(1, 1, "", timeout_s=30))  # attempt 1: stored already
                frame[:] = SHADES[4]
                out.append(await ep.capture(4, 1, "", timeout_s=30))
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            return out, ep.resyncs, [i for i, _, _ in read_shots(tmp_path / "p")]

    out, resyncs, shots = asyncio.run(main())
    retake, again, fourth = out[4], out[5], out[6]
    assert (retake.index, retake.attempt) == (2 - 1, 2) and nearest_item(photo_shade(retake.path)) == 10
    assert again == out[1] and again.attempt == 1
    assert (fourth.index, fourth.attempt) == (4, 1) and nearest_item(photo_shade(fourth.path)) == 4
    assert shots == [0, 1, 2, 3, 1, 4]  # the retake shot once; the stored attempt 1 not again
    assert resyncs == 0  # v1.1: a retake of an earlier index needs no RESYNC (§7.1)


def test_protocol_capture_cancelled_by_the_caller_is_closed_and_retried(tmp_path: Path) -> None:
    """Issue 23, scaled down: shots take 1.5 s, the caller gives up after 1 s (as the session's
    30 s deadline did with 34 s shots). The cancelled capture is closed in the machine; the retry
    of the same attempt gets the photo the phone went on to take — no LocalProtocolError, no
    second shot. A protocol error during a capture surfaces as a device error."""
    frame = np.full((16, 16), 90, np.uint8)

    async def main() -> tuple[Any, dict[str, Any], Any]:
        ep = DesktopEndpoint(os.urandom(32), os.urandom(8), "127.0.0.1", 0, 0, tmp_path / "d",
                             lambda age_ms: frame)  # fmt: skip
        async with ep:
            cfg = PhoneSimConfig(ep.pairing(), tmp_path / "p", parse_faults(""), shot_ms=1500)
            task = asyncio.ensure_future(PhoneSim(cfg).run())
            try:
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(ep.capture(0, 1, "slow"), 1.0)
                assert ep.machine is not None and ep.machine.state == "IDLE"
                record = await ep.capture(0, 1, "slow", timeout_s=30)
                limits = ep.limits()
                with pytest.raises(PhoneLostError, match="capture tag"):
                    await ep.capture(1, 1, "../bad tag", timeout_s=5)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            return record, ep.stats(), limits

    record, _stats, limits = asyncio.run(main())
    assert record.index == 0 and record.attempt == 1
    assert [i for i, _, _ in read_shots(tmp_path / "p")] == [0]  # shot once
    assert limits.shot_s >= 25 and limits.total_s > limits.shot_s  # phone announced 20 s + margin


def test_protocol_upload_statuses_v11(tmp_path: Path) -> None:
    """Every answer of docs/protocol.md §5.3 over a real socket, with its JSON body, the server
    limits of §5.4 (slow heads closed, connections over the limit refused), and the tap's
    optional X-Rig-Session (§5.5)."""
    from rig.protocol.auth import tap_auth
    from rig.protocol.httpd import HttpLimits

    key, sid = os.urandom(32), os.urandom(8)
    photo = os.urandom(3000)
    limits = HttpLimits(head_timeout_s=0.5, max_connections=2)

    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {}
        ep = DesktopEndpoint(key, sid, "127.0.0.1", 0, 0, tmp_path, lambda age_ms: np.zeros((2, 3), np.uint8),
                             http_limits=limits)  # fmt: skip
        async with ep, aiohttp.ClientSession() as http:
            assert ep.machine is not None
            ep.machine.wiremap.assign(3, 1, -1)  # as if CAPTURE(3, 1) was sent
            url = f"http://127.0.0.1:{ep.http_port}"
            meta = make_meta(key, sid, 3, 1, photo)

            async def answer(method: str, headers: dict[str, str], body: bytes = b"",
                             offset: str = "0", path: str = "/upload") -> tuple[int, Any]:  # fmt: skip
                async with http.request(method, url + path, params={"offset": offset},
                                        data=body, headers=headers) as r:  # fmt: skip
                    return r.status, await r.json() if r.content_type == "application/json" else None

            h = meta.headers()
            out["no_auth"] = await answer("GET", {"X-Rig-Session": sid.hex()})
            out["bad_auth"] = await answer("GET", h | {"X-Rig-Auth": "0" * 64})
            out["session"] = await answer("GET", h | {"X-Rig-Session": "00" * 8})
            out["huge_index"] = await answer("GET", h | {"X-Rig-Index": "1" + "0" * 250})
            other = make_meta(key, sid, 3, 9, photo)
            out["not_requested"] = await answer("GET", other.headers())
            big = make_meta(key, sid, 3, 1, photo)
            big_h = big.headers() | {"X-Rig-Size": str(64 * 2**20 + 1), "X-Rig-Auth": upload_auth(
                key, sid, 3, 1, big.sha256, 64 * 2**20 + 1)}  # fmt: skip
            out["too_large"] = await answer("GET", big_h)
            out["half"] = await answer("PUT", h, photo[:1000])
            out["offset"] = await answer("PUT", h, photo[1000:], offset="0")
            out["rest"] = await answer("PUT", h, photo[1000:], offset="1000")
            changed = make_meta(key, sid, 3, 1, photo[::-1])
            out["conflict"] = await answer("GET", changed.headers())
            ep.machine.wiremap.assign(4, 1, -1)
            lie = make_meta(key, sid, 4, 1, photo)
            out["sha256"] = await answer("PUT", lie.headers(), bytes(3000))
            out["unknown_path"] = await answer("GET", h, path="/nope")
            tap_h = {"X-Rig-Auth": tap_auth(key, sid, 3, 1)}
            async with http.get(f"{url}/tap", params={"index": "3", "attempt": "1"},
                                headers=tap_h) as r:  # fmt: skip
                out["tap"] = (r.status, r.headers.get("X-Rig-Shape"))
            async with http.get(f"{url}/tap", params={"index": "3", "attempt": "1"},
                                headers=tap_h | {"X-Rig-Session": "11" * 8}) as r:  # fmt: skip
                out["tap_session"] = r.status
            # §5.4: a head that never ends is closed; the connection limit answers 503.
            loop = asyncio.get_running_loop()
            slow = [await asyncio.open_connection("127.0.0.1", ep.http_port) for _ in range(2)]
            for _, writer in slow:
                writer.write(b"GET /upload HTTP/1.1\r\n")
            extra_r, extra_w = await asyncio.open_connection("127.0.0.1", ep.http_port)
            out["busy"] = (await extra_r.read())[:12]
            t0 = loop.time()
            out["slow_closed"] = [await r.read() for r, _ in slow]
            out["slow_s"] = loop.time() - t0
            for _, w in [*slow, (extra_r, extra_w)]:
                w.close()
            assert ep.http is not None
            out["timed_out"] = ep.http.timed_out
        return out

    out = asyncio.run(main())
    assert out["no_auth"] == (401, {"error": "auth"}) and out["bad_auth"] == (401, {"error": "auth"})
    assert out["session"] == (403, {"error": "session"})
    assert out["huge_index"] == (400, {"error": "malformed", "field": "X-Rig-Index"})
    assert out["not_requested"] == (404, {"error": "not_requested"})
    assert out["too_large"] == (413, {"error": "too_large", "max_bytes": 64 * 2**20})
    assert out["half"] == (200, {"received": 1000, "complete": False})
    assert out["offset"] == (409, {"error": "offset", "received": 1000, "complete": False})
    assert out["rest"] == (200, {"received": 3000, "complete": True})
    status, body = out["conflict"]
    assert status == 412 and body["error"] == "conflict"
    assert out["sha256"] == (422, {"error": "sha256"})
    assert out["unknown_path"] == (404, {"error": "not_found"})
    assert out["tap"] == (200, "2,3,1") and out["tap_session"] == 403
    assert out["busy"].startswith(b"HTTP/1.1 503")
    assert out["slow_closed"] == [b"", b""] and out["slow_s"] < 5 and out["timed_out"] == 2
