"""``rig phone-sim``: a process that behaves like the phone app, with injectable faults.

It pairs from the QR payload, runs the sans-I/O ``PhoneMachine`` over UDP, and on each shot
fetches the desktop's screen tap and "photographs" it (through ``rig.camsim`` with a preset,
else a plain JPEG of the frame), saves the photo and its state durably in ``--store``, and
uploads it. A crash at ``restart_at`` happens after the photo is saved and before it is
uploaded (the hardest point); the phone then restarts from its persisted state on a new UDP
port, as a real app restarted by Android would.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
import os
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from rig.protocol import events as ev
from rig.protocol.auth import ReplayWindow
from rig.protocol.endpoint import SEQ_BLOCK, time_seq
from rig.protocol.faults import FaultSpec
from rig.protocol.pairing import Pairing
from rig.protocol.phone import PhoneMachine, PhoneState
from rig.protocol.timers import Timers
from rig.protocol.udp import MachineLink
from rig.protocol.upload import UploadOutcome, fetch_tap, make_meta, upload_photo

STATE_NAME = "phone-state.json"
SHOTS_NAME = "shots.log"


@dataclass
class PhoneSimConfig:
    pairing: Pairing
    store: Path
    faults: FaultSpec
    shot_ms: float = 0.0
    upload_ms: float = 0.0  # each upload's body is spread over this long (a slow link)
    camera_preset: str | None = None
    seed: int = 0
    idle_exit_s: float = 0.0  # exit after this long without hearing the desktop (0 = never)
    verbose: bool = False
    timers: Timers = field(default_factory=Timers)


class _Restart(Exception):
    """Raised to simulate a crash: the phone restarts from what it persisted."""


class PhoneSim:
    """One run of the simulated phone; ``await run()`` restarts it after simulated crashes."""

    def __init__(self, cfg: PhoneSimConfig) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.base_url = f"http://{_url_host(cfg.pairing.host)}:{cfg.pairing.http_port}"
        self.camera: Any = None
        self.boots = 0
        self.shot_ms: dict[tuple[int, int], float] = {}

    async def run(self) -> None:
        self.cfg.store.mkdir(parents=True, exist_ok=True)
        (self.cfg.store / "photos").mkdir(exist_ok=True)
        while True:
            try:
                await self._boot()
                return
            except _Restart:
                self.boots += 1
                self._log(f"phone-sim: simulated crash; restarting from {self.cfg.store}")

    # ------------------------------------------------------------------ one boot
    async def _boot(self) -> None:
        loop = asyncio.get_running_loop()
        disk = self._load()
        self.restarts_done: set[int] = set(disk.get("restarts_done", []))
        state = PhoneState.from_json(disk.get("state", {}))
        seq = max(int(disk.get("seq_mark", 0)), time_seq())
        p = self.cfg.pairing
        self.machine = PhoneMachine(p.key, p.session, (p.host, p.udp_port), seq, state,
                                    self.cfg.timers)  # fmt: skip
        floor = time_seq()
        self.machine.codec.window = ReplayWindow.restored(int(disk.get("peer_highest", 0)), floor)
        self.seq_mark = 0
        self.saved_version = -1
        self.crash: asyncio.Future[None] = loop.create_future()
        self.drained = asyncio.Event()  # set on BYE once nothing is left to upload
        self.tasks: set[asyncio.Task[None]] = set()
        self.link = MachineLink(self.machine, self._on_event, self.cfg.faults,
                                self.rng.randrange(2**32), before_send=self._persist)  # fmt: skip
        transport, _ = await loop.create_datagram_endpoint(
            lambda: self.link, remote_addr=None, local_addr=("0.0.0.0", 0)
        )
        timeout = aiohttp.ClientTimeout(total=30)
        self.http = aiohttp.ClientSession(timeout=timeout)
        try:
            self.machine.start(self.link.now())
            self.link.pump()
            watchdog = asyncio.ensure_future(self._watch_idle())
            bye = asyncio.ensure_future(self.drained.wait())
            waiters: set[asyncio.Future[Any]] = {self.crash, watchdog, bye}
            done, _ = await asyncio.wait(waiters, return_when="FIRST_COMPLETED")
            watchdog.cancel()
            bye.cancel()
            if self.crash in done:
                raise _Restart
        finally:
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            transport.close()
            await self.http.close()

    async def _watch_idle(self) -> None:
        limit = self.cfg.idle_exit_s
        started = self.link.now()
        while True:
            await asyncio.sleep(1.0 if limit <= 0 else min(1.0, limit / 4))
            heard = self.machine._last_heard_s or started
            if limit > 0 and self.link.now() - heard > limit and not self.machine.uploads:
                self._log("phone-sim: desktop silent; exiting")
                return

    # ------------------------------------------------------------------ events
    def _on_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.ShootRequested):
            self._spawn(self._shoot(event.index, event.attempt, event.tag))
        elif isinstance(event, ev.UploadRequested):
            self._spawn(self._upload(event.index, event.attempt))
        else:
            self._log(f"phone-sim: {event}")
        self._check_drained()

    def _check_drained(self) -> None:
        """After BYE, exit (if asked to exit when idle) once every photo is uploaded."""
        m = self.machine
        if self.cfg.idle_exit_s > 0 and m.ended and not m.uploads and m.shooting is None:
            self._log("phone-sim: the desktop ended the session; exiting")
            self.drained.set()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _shoot(self, index: int, attempt: int, tag: str) -> None:
        started = self.link.now()
        f = self.cfg.faults
        delay_ms = self.cfg.shot_ms + (f.slow_ms if self.rng.random() < f.slow_camera else 0.0)
        fail = self.rng.random() < f.camera_fail
        age_ms = f.early_ms if self.rng.random() < f.early else 0.0
        if fail:
            if delay_ms > 0:
                await asyncio.sleep(delay_ms / 1000)
            self.machine.camera_failed(index, attempt, "simulated camera error", self.link.now())
            self.link.pump()
            return
        # The shutter opens when the request arrives (what the screen shows then is the
        # photo: a settle too short really photographs the previous frame); processing and
        # saving fill the rest of the shot, so a shot takes ``shot_ms`` in all, as a phone
        # whose camera needs that long from request to saved photo.
        p = self.cfg.pairing
        frame = await fetch_tap(self.http, self.base_url, p.key, p.session, index, attempt, age_ms)
        if frame is None:
            frame = np.full((48, 64), (index * 37) % 256, np.uint8)  # no tap: a stand-in scene
        if self.cfg.camera_preset or frame.size > 1 << 20:
            jpeg = await asyncio.to_thread(self._photograph, frame)  # keeps the phone answering
        else:
            jpeg = self._photograph(frame)  # a small JPEG encode: cheaper than a thread hop
        remaining_s = started + delay_ms / 1000 - self.link.now()
        if remaining_s > 0:
            await asyncio.sleep(remaining_s)
        path = self._photo_path(index, attempt)
        _replace_file(path, jpeg)
        sha = hashlib.sha256(jpeg).hexdigest()
        with open(self.cfg.store / SHOTS_NAME, "a", encoding="ascii") as log:
            log.write(f"{index} {attempt} {sha}\n")
        self.shot_ms[(index, attempt)] = (self.link.now() - started) * 1000
        self._log(f"phone-sim: shot {index} attempt {attempt} in "
                  f"{self.shot_ms[(index, attempt)]:.0f} ms")  # fmt: skip
        self.machine.photo_saved(index, attempt, sha, len(jpeg), self.link.now())
        self.link.pump()  # persists the state (before_send) before PHOTO_READY goes out
        if index in self.cfg.faults.restart_at and index not in self.restarts_done:
            self.restarts_done.add(index)
            self._persist(force=True)
            if not self.crash.done():
                self.crash.set_result(None)

    def _photograph(self, frame: np.ndarray) -> bytes:
        if self.cfg.camera_preset:
            if self.camera is None:
                self.camera = _load_camera(self.cfg.camera_preset, self.cfg.seed)
            if self.camera is not None:
                return bytes(self.camera.capture(frame).jpeg)
        from rig.imaging import codec

        return codec.encode_jpeg(frame, 90, what="phone-sim: the tapped frame")

    async def _upload(self, index: int, attempt: int) -> None:
        p = self.cfg.pairing
        refused = False
        try:
            data = self._photo_path(index, attempt).read_bytes()
        except OSError:
            ok = False
        else:
            shot_ms = self.shot_ms.pop((index, attempt), None)
            meta = make_meta(p.key, p.session, index, attempt, data, shot_ms)
            broken = self.rng.random() < self.cfg.faults.upload_fail
            cut = max(1, len(data) // 2) if broken else None
            outcome = await upload_photo(
                self.http, self.base_url, meta, data, cut, self.cfg.upload_ms / 1000
            )
            ok = outcome is UploadOutcome.STORED and not broken
            refused = outcome is UploadOutcome.REFUSED
        self.machine.upload_finished(index, attempt, ok, self.link.now(), refused=refused)
        self.link.pump()
        self._check_drained()

    # ------------------------------------------------------------------ persistence
    def _photo_path(self, index: int, attempt: int) -> Path:
        return self.cfg.store / "photos" / f"{index:06d}_a{attempt}.jpg"

    def _load(self) -> dict[str, Any]:
        try:
            obj = json.loads((self.cfg.store / STATE_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        same = isinstance(obj, dict) and obj.get("session") == self.cfg.pairing.session.hex()
        return obj if same else {}

    def _persist(self, force: bool = False) -> None:
        fresh = self.machine.version == self.saved_version and self.machine.next_seq < self.seq_mark
        if fresh and not force:
            return
        if self.machine.next_seq >= self.seq_mark:
            self.seq_mark = self.machine.next_seq + SEQ_BLOCK
        window = self.machine.codec.window
        obj = {
            "session": self.cfg.pairing.session.hex(),
            "state": self.machine.snapshot(),
            "seq_mark": self.seq_mark,
            "restarts_done": sorted(self.restarts_done),
            "peer_highest": window.highest if window is not None else 0,
        }
        _replace_file(self.cfg.store / STATE_NAME, json.dumps(obj).encode())
        self.saved_version = self.machine.version

    def _log(self, text: str) -> None:
        if self.cfg.verbose:
            print(text, file=sys.stderr, flush=True)


def _replace_file(path: Path, data: bytes) -> None:
    """Write-then-rename: atomic against the process crashes we simulate (a reader sees the old
    or the new file). The phone app additionally fsyncs (power loss); the simulator skips that
    so that its disk latency does not pollute the protocol overhead measured by the bench."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _load_camera(preset: str, seed: int) -> Any:
    """rig.camsim is optional here: without it the phone-sim photographs with plain JPEG."""
    try:
        camsim = importlib.import_module("rig.camsim")
    except ImportError:
        print(
            "phone-sim: rig.camsim not available; plain JPEG of the tapped frame", file=sys.stderr
        )
        return None
    return camsim.SimCamera(camsim.load_preset(preset), seed)


def read_shots(store: Path) -> list[tuple[int, int, str]]:
    """The phone-sim's log of saved photos: (index, attempt, sha256) per shot."""
    path = Path(store) / SHOTS_NAME
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="ascii").splitlines():
        parts = line.split()
        if len(parts) == 3:
            out.append((int(parts[0]), int(parts[1]), parts[2]))
    return out
