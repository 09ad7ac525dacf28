"""``rig protocol conformance --phone CMD``: a third-party phone against a scripted v1.1 desktop.

Each scenario starts a fresh session (new key, new phone store): the real ``DesktopEndpoint`` on
loopback, a ``NetemProxy`` between it and the phone when the scenario injects network faults, and
the phone command as a child process, paired through a pairing file. The desktop's screen tap
serves a frame that changes with the item *and with every fetch*, so a photo shot twice never
has the hash of the first. Every check is on what reaches the desktop over real sockets (photos,
answers, datagrams), never on the phone's internals. Spec: docs/protocol.md §14.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rig.errors import DeviceError, UsageError
from rig.protocol import events as ev
from rig.protocol import messages as m
from rig.protocol.endpoint import DesktopEndpoint
from rig.protocol.faults import FaultSpec, parse_faults
from rig.protocol.netem import NetemProxy
from rig.protocol.timers import Timers

TIMERS = Timers(phone_timeout_s=8.0, shot_timeout_s=10.0, upload_timeout_s=4.0)
CAPTURE_S = 30.0  # bound on one capture in any scenario
QUIET_S = 2.5  # after BYE_ACK the phone must stay silent this long (2.5 × keepalive_s)


@dataclass(frozen=True)
class ScenarioResult:
    name: str
    passed: bool
    detail: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": self.name, "passed": self.passed, "detail": self.detail,
                "seconds": round(self.seconds, 2)}  # fmt: skip


class Failed(Exception):
    """A scenario's check failed; the message says which and what was seen."""


def check(ok: bool, what: str) -> None:
    if not ok:
        raise Failed(what)


@dataclass(frozen=True)
class PhoneCommand:
    """The command line of the phone under test; ``{pairing}`` (a pairing file), ``{uri}`` and
    ``{store}`` (a fresh folder for its state) are filled in; without ``{pairing}`` or ``{uri}``
    the pairing file is appended."""

    template: str

    def argv(self, pairing_file: Path, uri: str, store: Path) -> list[str]:
        try:
            parts = shlex.split(self.template)
        except ValueError as exc:
            raise UsageError(f"--phone: cannot split the command: {exc}") from None
        if not parts:
            raise UsageError("--phone: give the phone's command line")
        values = {"{pairing}": str(pairing_file), "{uri}": uri, "{store}": str(store)}
        out = [values.get(p, p) for p in parts]
        if "{pairing}" not in parts and "{uri}" not in parts:
            out.append(str(pairing_file))
        return out


def screen(index: int, fetch: int) -> np.ndarray:
    """(96, 128) grey: a smooth ramp, a block placed by ``index`` and a row coding ``fetch``."""
    yy, xx = np.mgrid[0:96, 0:128]
    img = ((xx + yy) % 256).astype(np.uint8)
    x0, y0 = (index * 23) % 96, (index * 17) % 64
    img[y0 : y0 + 32, x0 : x0 + 32] = 255 if index % 2 else 0
    img[90:96, :] = np.uint8((fetch * 41) % 256)
    return img


class Harness:
    """One scenario's world: desktop endpoint (+ proxy), the phone process, its store."""

    def __init__(self, phone: PhoneCommand, tmp: Path, faults: FaultSpec, seed: int) -> None:
        self.phone, self.tmp, self.faults, self.seed = phone, tmp, faults, seed
        self.key, self.session = os.urandom(32), os.urandom(8)
        self.showing = 0
        self.fetches = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.ep: DesktopEndpoint | None = None
        self.proxy: NetemProxy | None = None
        self.ports = (0, 0)
        self.seen: list[ev.Event] = []
        self.changed = asyncio.Event()

    def _tap(self, age_ms: float) -> np.ndarray:
        self.fetches += 1
        return screen(self.showing, self.fetches)

    async def open_desktop(self) -> DesktopEndpoint:
        ep = DesktopEndpoint(self.key, self.session, "127.0.0.1", *self.ports, self.tmp / "desk",
                             self._tap, timers=TIMERS, camera_retries=0)  # fmt: skip
        await ep.__aenter__()
        ep.listeners.append(self._on_event)
        self.ep, self.ports = ep, (ep.udp_port, ep.http_port)
        if self.proxy is None:
            target = ("127.0.0.1", ep.udp_port)
            proxy = NetemProxy(("127.0.0.1", 0), target, self.faults, self.seed)
            self.proxy = await proxy.__aenter__() if not self.faults.network_clean else None
        return ep

    def _on_event(self, event: ev.Event) -> None:
        self.seen.append(event)
        self.changed.set()

    async def wait_for(self, pred: Callable[[ev.Event], bool], timeout_s: float) -> ev.Event:
        async with asyncio.timeout(timeout_s):
            while True:
                found = next((e for e in self.seen if pred(e)), None)
                if found is not None:
                    return found
                self.changed.clear()
                await self.changed.wait()

    def start_phone(self) -> None:
        assert self.ep is not None
        pairing = self.ep.pairing()
        if self.proxy is not None:
            pairing = pairing.with_udp("127.0.0.1", self.proxy.port)
        pairing_file = self.tmp / "pairing.txt"
        pairing_file.write_text(pairing.to_uri() + "\n", encoding="utf-8")
        argv = self.phone.argv(pairing_file, pairing.to_uri(), self.tmp / "phone")
        log = open(self.tmp / "phone.log", "ab")  # noqa: SIM115 (the child keeps it open)
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        except OSError as exc:
            raise UsageError(f"--phone: cannot start '{argv[0]}': {exc.strerror}") from None
        finally:
            log.close()

    def kill_phone(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    async def capture(self, index: int, attempt: int = 1) -> Any:
        assert self.ep is not None
        self.showing = index
        try:
            return await self.ep.capture(index, attempt, f"c-{index:04d}", CAPTURE_S)
        except DeviceError as exc:
            raise Failed(f"item {index} attempt {attempt}: {exc.message}") from None

    async def close(self) -> None:
        self.kill_phone()
        if self.ep is not None:
            await self.ep.close(bye=False)
        if self.proxy is not None:
            await self.proxy.__aexit__(None, None, None)

    def stored_once(self, n: int) -> None:
        assert self.ep is not None and self.ep.server is not None
        per_item: dict[int, int] = {}
        for wi, wa in self.ep.server.stored:
            item = self.ep.machine.wiremap.item(wi, wa) if self.ep.machine else (wi, wa)
            if item is not None:
                per_item[item[0]] = per_item.get(item[0], 0) + 1
        check(all(per_item.get(i) == 1 for i in range(n)), f"photos per item: {per_item}")

    def uploads_clean(self) -> None:
        assert self.ep is not None and self.ep.server is not None
        bad = {k: v for k, v in self.ep.server.rejected.items() if k not in ("offset",)}
        check(not bad, f"refused uploads: {bad}")


Scenario = Callable[[Harness], Awaitable[str]]


async def _clean(h: Harness) -> str:
    for i in range(3):
        await h.capture(i)
    assert h.ep is not None and h.ep.machine is not None
    check(h.ep.machine.peer_minor >= 1, "the phone's HELLO has no minor >= 1 (not a v1.1 phone)")
    check(h.ep.machine.phone_shot_s > 0, "the phone's HELLO announces no camera timeout (shot_s)")
    h.stored_once(3)
    h.uploads_clean()
    return f"v1.{h.ep.machine.peer_minor}, camera timeout {h.ep.machine.phone_shot_s:g} s"


async def _many(h: Harness) -> str:
    for i in range(5):
        await h.capture(i)
    h.stored_once(5)
    h.uploads_clean()
    assert h.proxy is not None
    return f"proxy {dict(h.proxy.stats)}"


async def _phone_restart(h: Harness) -> str:
    for i in range(2):
        await h.capture(i)
    pending = asyncio.ensure_future(h.capture(2))
    announced = await h.wait_for(lambda e: isinstance(e, ev.PhotoAnnounced) and e.index == 2, 20)
    h.kill_phone()  # SIGKILL after the photo was saved, maybe before it was uploaded
    h.start_phone()
    record = await pending
    assert isinstance(announced, ev.PhotoAnnounced)
    check(record.sha256 == announced.sha256, "after the restart item 2 was shot again")
    await h.capture(3)
    h.stored_once(4)
    return "photo re-uploaded, not re-shot"


async def _desktop_restart(h: Harness) -> str:
    for i in range(2):
        await h.capture(i)
    assert h.ep is not None
    await h.ep.close(bye=False)  # as if killed
    await h.open_desktop()
    again = await h.capture(1)
    check(again.index == 1, "item 1 not found after the restart")
    for i in range(2, 4):
        await h.capture(i)
    h.stored_once(4)
    return "resumed on the same ports without re-pairing"


async def _forged(h: Harness) -> str:
    import socket

    await h.capture(0)
    assert h.ep is not None and h.ep.machine is not None
    phone = h.ep.machine.peer
    evil_key = m.Codec(os.urandom(32), h.session, m.ROLE_DESKTOP)
    reflected = m.Codec(h.key, h.session, m.ROLE_PHONE, next_seq=2**40)
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for i in range(1, 4):
            # CAPTUREs of the phone's own next index with an attempt we never ask for: a phone
            # that shot one would upload (i, 9), which the desktop refuses (404 not_requested).
            keyed_ahead = m.Codec(h.key, h.session, m.ROLE_DESKTOP, next_seq=2**64 - 2)
            grams = [evil_key.seal(m.Capture(i, 9, "evil")), os.urandom(70), bytes(1300),
                     b"RG\x01", keyed_ahead.seal(m.Capture(i, 9, "ahead")),
                     reflected.seal(m.Hello(0, 1))]  # fmt: skip
            for g in grams:
                sock.sendto(g, phone)
            sent += len(grams)
            await h.capture(i)
    h.stored_once(4)
    h.uploads_clean()
    check(h.ep.machine.resyncs == 0 and h.ep.machine.replans == 0, "a forgery moved the cursor")
    return f"{sent} hostile datagrams ignored"


async def _replayed(h: Harness) -> str:
    import socket

    assert h.ep is not None and h.ep.link is not None and h.ep.machine is not None
    recorded: list[bytes] = []
    h.ep.link.on_sent = lambda data, addr: recorded.append(data)
    for i in range(3):
        await h.capture(i)
    h.ep.link.on_sent = None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for data in recorded:
            sock.sendto(data, h.ep.machine.peer)
    for i in range(3, 5):
        await h.capture(i)
    h.stored_once(5)
    h.uploads_clean()
    check(h.ep.machine.resyncs == 0 and h.ep.machine.replans == 0, "replays moved the cursor")
    return f"{len(recorded)} recorded desktop datagrams replayed"


async def _upload_resume(h: Harness) -> str:
    assert h.ep is not None and h.ep.server is not None
    server, cut = h.ep.server, {"done": False}
    inner = server.on_progress

    def break_once(index: int, attempt: int, received: int) -> None:
        if index == 1 and not cut["done"]:
            cut["done"] = True
            raise ConnectionError("the connection drops mid-upload")
        if inner is not None:
            inner(index, attempt, received)

    server.on_progress = break_once
    for i in range(3):
        await h.capture(i)
    check(cut["done"], "no upload of item 1 reached the server")
    h.stored_once(3)
    return "an upload cut mid-body was resumed"


async def _upload_conflict(h: Harness) -> str:
    import hashlib

    assert h.ep is not None and h.ep.server is not None
    server = h.ep.server
    await h.capture(0)
    other = b"\xff\xd8 another photo \xff\xd9"
    sha = hashlib.sha256(other).hexdigest()

    def squat(event: ev.Event) -> None:  # the phone saved (1, 1): another photo takes the slot
        if isinstance(event, ev.PhotoAnnounced) and event.index == 1 and (1, 1) not in server.stored:
            (server.photos_dir / f"{1:06d}_a1_{sha}.jpg").write_bytes(other)
            server.load_existing()

    h.ep.listeners.append(squat)
    h.showing = 1
    with contextlib.suppress(DeviceError):  # 412 to every upload: the attempt cannot complete
        await h.ep.capture(1, 1, "c-0001", CAPTURE_S)
    h.ep.listeners.remove(squat)
    conflicts = server.rejected.get("conflict", 0)
    check(conflicts >= 1, "the phone's upload never met the stored photo (no 412)")
    check(conflicts <= 12, f"{conflicts} uploads refused with 412: the phone keeps retrying")
    retake = await h.capture(1, attempt=2)
    check(retake.sha256 != sha and server.stored[(1, 1)].sha256 == sha, "a photo was overwritten")
    await h.capture(2)
    return f"{conflicts} × 412 conflict; the phone moved on to the retake"


async def _resync(h: Harness) -> str:
    assert h.ep is not None and h.ep.machine is not None
    for i in range(2):
        await h.capture(i)
    await h.capture(4)  # the desktop jumps ahead: GAP, then RESYNC, which the phone must follow
    check(h.ep.machine.resyncs >= 1 and h.ep.machine.replans == 0,
          f"resyncs {h.ep.machine.resyncs}, replans {h.ep.machine.replans}")  # fmt: skip
    before = h.ep.machine.resyncs
    retake = await h.capture(0, attempt=2)  # v1.1: a retake of an earlier index, no RESYNC
    check(retake.attempt == 2 and h.ep.machine.resyncs == before and h.ep.machine.replans == 0,
          "a retake of an earlier index needed a RESYNC or re-plan")  # fmt: skip
    return f"{h.ep.machine.resyncs} RESYNC followed; retake served in place"


async def _bye(h: Harness) -> str:
    await h.capture(0)
    assert h.ep is not None and h.ep.machine is not None and h.ep.link is not None
    heard: list[float] = []
    h.ep.machine.close("conformance: session finished", h.ep.link.now())
    h.ep.link.pump()
    try:
        await h.wait_for(lambda e: isinstance(e, ev.ByeAcked), 3.0)
    except TimeoutError:
        raise Failed("no BYE_ACK to BYE") from None
    h.ep.link.on_received = lambda data, addr: heard.append(_type_of(data))
    await asyncio.sleep(QUIET_S)  # an observation window: keepalives would come every 1 s
    # A BYE retransmitted before the first BYE_ACK arrived gets its own BYE_ACK (§7.5: "MUST
    # answer every BYE"), possibly late on a loaded machine: that is not a keepalive.
    talk = [t for t in heard if t != m.ByeAck.TYPE]
    check(not talk, f"{len(talk)} datagrams after BYE_ACK (keepalives must stop)")
    return f"BYE acknowledged; silent for {QUIET_S:g} s"


def _type_of(datagram: bytes) -> int:
    """The message type in a datagram's clear header (§4.1); -1 if it has no header."""
    if len(datagram) < m.HEADER_LEN:
        return -1
    return int(m.HEADER.unpack_from(datagram)[2])


SCENARIOS: dict[str, tuple[str, Scenario]] = {
    "pairing-and-version": ("", _clean),
    "loss": ("loss=0.3", _many),
    "duplication": ("dup=0.5", _many),
    "reordering": ("reorder=0.5,reorder_ms=60,delay_ms=5,jitter_ms=5", _many),
    "phone-restart": ("", _phone_restart),
    "desktop-restart": ("", _desktop_restart),
    "forged-datagrams": ("", _forged),
    "replayed-datagrams": ("", _replayed),
    "upload-resume": ("", _upload_resume),
    "upload-conflict": ("", _upload_conflict),
    "resync": ("", _resync),
    "bye": ("", _bye),
}


async def run_scenario(phone: PhoneCommand, name: str, seed: int = 0) -> ScenarioResult:
    spec, scenario = SCENARIOS[name]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"rig-conformance-{name}-") as tmp:
        h = Harness(phone, Path(tmp), parse_faults(spec), seed)
        try:
            await h.open_desktop()
            h.start_phone()
            detail = await asyncio.wait_for(scenario(h), 120)
            passed = True
        except (Failed, TimeoutError) as exc:
            passed, detail = False, str(exc) or "timed out"
            detail += _phone_tail(Path(tmp) / "phone.log", h)
        finally:
            with contextlib.suppress(Exception):
                await h.close()
    return ScenarioResult(name, passed, detail, time.monotonic() - started)


def _phone_tail(log: Path, h: Harness) -> str:
    code = h.proc.poll() if h.proc is not None else None
    exited = f"; the phone exited with {code}" if code is not None else ""
    try:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:]
    except OSError:
        tail = []
    return exited + (f"; phone said: {tail[0][:160]}" if tail else "")


async def run_phone_suite(
    phone: PhoneCommand, names: list[str], seed: int = 0,
    progress: Callable[[ScenarioResult], None] | None = None,
) -> list[ScenarioResult]:  # fmt: skip
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise UsageError(f"--scenario: unknown {unknown} (known: {', '.join(SCENARIOS)})")
    results = []
    for name in names or list(SCENARIOS):
        result = await run_scenario(phone, name, seed)
        results.append(result)
        if progress is not None:
            progress(result)
    return results
