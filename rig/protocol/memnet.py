"""Both protocol machines back to back in memory, with a fake clock and injected faults.

Used by the tests (the full fault matrix) and handy for exploring the protocol: no sockets,
no threads, no wall clock; a run with a given seed is exactly reproducible. The "desktop
driver" plays the session engine (capture 0..n-1 from attempt 1, retry camera failures with
attempt + 1; GAPs are resolved inside the desktop machine); the "phone world" plays camera and
uploader. With ``pipelined`` the driver plays the v1.2 session (docs/protocol.md §6.4): it asks
for the next item as soon as the photo is held on the phone, re-queues an item whose held photo
is lost or rejected late (``reject``), and re-asks the attempts in flight after a desktop restart.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import random
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rig.protocol import events as ev
from rig.protocol.desktop import DesktopMachine
from rig.protocol.faults import FaultSpec, plan_datagram
from rig.protocol.phone import PhoneMachine, PhoneState
from rig.protocol.timers import Timers
from rig.protocol.wiremap import WireMap

KEY = bytes(range(32))
SESSION = bytes.fromhex("0123456789abcdef")
SEQ_JUMP = 1_000_000  # a restarted side starts this far above its last seq (models time-based seq)


@dataclass
class MemResult:
    completed: list[int] = field(default_factory=list)
    stored: dict[int, list[tuple[int, str]]] = field(default_factory=dict)  # index -> [(a, sha)]
    saved: Counter[int] = field(default_factory=Counter)  # index -> photos saved on the phone
    saved_pairs: Counter[tuple[int, int]] = field(default_factory=Counter)  # wire (i, a) -> saves
    verified: dict[int, tuple[int, str]] = field(
        default_factory=dict
    )  # pipelined: item -> accepted
    max_inflight_seen: int = 0
    phone_sha: dict[tuple[int, int], str] = field(default_factory=dict)  # (item, attempt)
    wire_sha: dict[tuple[int, int], str] = field(default_factory=dict)  # what the phone saved
    lost: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    resyncs: int = 0
    replans: int = 0
    retransmissions: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    end_s: float = 0.0


@dataclass
class MemConfig:
    n: int = 20
    faults: FaultSpec = field(default_factory=FaultSpec)
    seed: int = 0
    shot_ms: float = 50.0
    upload_ms: float = 5.0
    phone_restarts: dict[int, str] = field(default_factory=dict)  # index -> before_save|after_save
    desktop_restarts: tuple[int, ...] = ()
    down_s: float = 0.5
    camera_retries: int = 12  # 0.2^13 per item: a whole-run failure is then practically impossible
    timers: Timers = field(default_factory=Timers)
    phone_cursor: int = 0  # the phone's cursor at first start (-1 = fresh, unpaired phone)
    time_limit_s: float = 36_000.0
    retakes: dict[int, int] = field(default_factory=dict)  # item -> retaken once this one is done
    phone_factory: Callable[..., Any] = PhoneMachine  # (key, session, addr, seq, state, timers)
    pipelined: bool = False  # the v1.2 driver (§6.4); the machines pipeline with a v1.2 phone
    max_inflight: int = 2
    reject: frozenset[int] = frozenset()  # pipelined: items whose first verified photo is rejected


class MemRun:
    """One simulated session; call ``run()``."""

    def __init__(self, cfg: MemConfig) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.now = 0.0
        self.queue: list[tuple[float, int, str, Any]] = []
        self.tick = itertools.count()
        self.res = MemResult()
        self.phone_boot = 0
        self.desktop_boot = 0
        self.desktop_up = True
        self.phone_up = True
        self.pending_phone_restarts = dict(cfg.phone_restarts)
        self.pending_desktop_restarts = set(cfg.desktop_restarts)
        self.phone_disk: dict[str, Any] = PhoneState(cursor=cfg.phone_cursor).to_json()
        self.wire_entries: list[list[int]] = []
        self.phone = self._new_phone(initial_seq=1)
        self.desktop = self._new_desktop(initial_seq=1)
        self.index = 0
        self.attempt = 1
        self.driver_busy = False
        self.retake: tuple[int, int] | None = None  # (item, attempt) to capture next
        self.pending_retakes = dict(cfg.retakes)
        self.last_attempt: dict[int, int] = {}
        self.work: deque[tuple[int, int]] = deque((i, 1) for i in range(cfg.n))
        self.open: tuple[int, int] | None = None  # pipelined: the capture the machine holds open
        self.rejected_pairs: set[tuple[int, int]] = set()

    # ------------------------------------------------------------------ construction
    def _new_phone(self, initial_seq: int) -> Any:
        state = PhoneState.from_json(json.loads(json.dumps(self.phone_disk)))
        return self.cfg.phone_factory(KEY, SESSION, "desktop", initial_seq, state, self.cfg.timers)

    def _new_desktop(self, initial_seq: int) -> DesktopMachine:
        nxt = self._first_unstored()
        wiremap = WireMap(self.wire_entries)  # the endpoint persists it with its state
        return DesktopMachine(KEY, SESSION, initial_seq, nxt, None, self.cfg.timers, wiremap,
                              self.cfg.max_inflight)  # fmt: skip

    def _first_unstored(self) -> int:
        i = 0
        while i in self.res.stored:
            i += 1
        return i

    # ------------------------------------------------------------------ scheduling
    def _at(self, t: float, kind: str, payload: Any) -> None:
        heapq.heappush(self.queue, (t, next(self.tick), kind, payload))

    def _transmit(self, data: bytes, to: str) -> None:
        for delay_ms in plan_datagram(self.cfg.faults, self.rng):
            self._at(self.now + delay_ms / 1000 + 0.0002, "deliver", (to, data, self._boots()))

    def _boots(self) -> tuple[int, int]:
        return (self.phone_boot, self.desktop_boot)

    def _flush(self) -> None:
        if self.phone_up:
            for data, _ in self.phone.datagrams_to_send():
                self._transmit(data, "desktop")
            for e in self.phone.next_events():
                self._on_phone_event(e)
            self.phone_disk = self.phone.snapshot()  # the adapter persists after every call
        if self.desktop_up:
            self.wire_entries = self.desktop.wiremap.entries()  # persisted before sending
            for data, _ in self.desktop.datagrams_to_send():
                self._transmit(data, "phone")
            for e in self.desktop.next_events():
                self._on_desktop_event(e)

    # ------------------------------------------------------------------ phone world
    def _on_phone_event(self, e: ev.Event) -> None:
        boot = self.phone_boot
        if isinstance(e, ev.ShootRequested):
            if self.pending_phone_restarts.get(e.index) == "before_save":
                self._crash_phone(e.index)
                return
            f = self.cfg.faults
            shot_s = self.cfg.shot_ms / 1000
            if self.rng.random() < f.slow_camera:
                shot_s += f.slow_ms / 1000
            kind = "camera_fail" if self.rng.random() < f.camera_fail else "photo"
            self._at(self.now + shot_s, kind, (boot, e.index, e.attempt))
        elif isinstance(e, ev.UploadRequested):
            ok = self.rng.random() >= self.cfg.faults.upload_fail
            self._at(self.now + self.cfg.upload_ms / 1000, "upload", (boot, e, ok))

    def _photo(self, index: int, attempt: int) -> None:
        self.res.saved[index] += 1
        self.res.saved_pairs[(index, attempt)] += 1
        sha = hashlib.sha256(f"{index}/{attempt}/{self.phone_boot}".encode()).hexdigest()
        self.res.wire_sha[(index, attempt)] = sha
        self.phone.photo_saved(index, attempt, sha, 1000 + index, self.now)
        self.phone_disk = self.phone.snapshot()
        if self.pending_phone_restarts.get(index) == "after_save":
            self._flush()
            self._crash_phone(index)

    def _crash_phone(self, index: int) -> None:
        self.pending_phone_restarts.pop(index, None)
        self.phone_up = False
        self.phone_boot += 1
        self._at(self.now + self.cfg.down_s, "phone_start", self.phone.next_seq + SEQ_JUMP)

    def _upload(self, e: ev.UploadRequested, ok: bool) -> None:
        """The HTTP upload reaches the desktop's server (which is down while it restarts)."""
        item = self.desktop.wiremap.item(e.index, e.attempt) if self.desktop_up else None
        if ok and item is not None:
            stored = self.res.stored.setdefault(item[0], [])
            if (item[1], e.sha256) not in stored:
                stored.append((item[1], e.sha256))
                self.res.phone_sha[item] = self.res.wire_sha[(e.index, e.attempt)]
            self.desktop.photo_stored(e.index, e.attempt, e.sha256, self.now)
        else:
            ok = False
        self._at(self.now + self.cfg.upload_ms / 1000, "upload_done", (self.phone_boot, e, ok))

    # ------------------------------------------------------------------ desktop driver
    def _drive(self) -> None:
        if self.cfg.pipelined:
            self._drive_pipelined()
            return
        if self.driver_busy or not self.desktop_up:
            return
        if self.retake is not None:
            self.driver_busy = True
            item, attempt = self.retake
            self.desktop.request_capture(item, attempt, f"s-{item:06d}", self.now)
            return
        if self.index >= self.cfg.n:
            return
        while self.index in self.res.stored and self.index < self.cfg.n:
            self.index, self.attempt = self.index + 1, 1  # already stored: never asked again
        if self.index >= self.cfg.n:
            return
        if self.index in self.pending_desktop_restarts and self.attempt == 1:
            self.pending_desktop_restarts.discard(self.index)
            self._crash_desktop()
            return
        self.driver_busy = True
        self.last_attempt[self.index] = self.attempt
        self.desktop.request_capture(self.index, self.attempt, f"s-{self.index:06d}", self.now)

    # ------------------------------------------------------------------ pipelined driver (§6.4)
    def _drive_pipelined(self) -> None:
        d = self.desktop
        if self.open is not None or not self.desktop_up or (d.inflight and d.inflight_full()):
            return
        while self.work and self.work[0][0] in self.res.verified:
            self.work.popleft()
        if not self.work:
            return
        item, attempt = self.work.popleft()
        if item in self.pending_desktop_restarts:
            self.pending_desktop_restarts.discard(item)
            self.work.appendleft((item, attempt))
            self._crash_desktop()
            return
        self.open = (item, attempt)
        self.last_attempt[item] = attempt
        d.request_capture(item, attempt, f"s-{item:06d}", self.now)

    def _requeue(self, item: int, attempt: int) -> None:
        if item not in self.res.verified and all(w[0] != item for w in self.work):
            self.work.appendleft((item, attempt))

    def _on_pipelined_event(self, e: ev.Event) -> None:
        key = (getattr(e, "index", -1), getattr(e, "attempt", -1))
        if key == self.open and isinstance(
            e, ev.PhotoHeld | ev.PhotoVerified | ev.CameraFailed | ev.PhoneLost
        ):
            self.open = None
        self.res.max_inflight_seen = max(self.res.max_inflight_seen, len(self.desktop.inflight))
        item, attempt = key
        if isinstance(e, ev.PhotoVerified):
            if key in self.rejected_pairs or item in self.res.verified:
                return
            if item in self.cfg.reject and not any(i == item for i, _ in self.rejected_pairs):
                self.rejected_pairs.add(key)  # e.g. the frame code shows the previous frame
                self._requeue(item, attempt + 1)
                return
            self.res.verified[item] = (attempt, e.sha256)
            self.res.completed.append(item)
        elif isinstance(e, ev.CameraFailed):
            if attempt > self.cfg.camera_retries:
                self.res.failed.append(item)
            else:
                self._requeue(item, attempt + 1)
        elif isinstance(e, ev.PhoneLost):
            self.res.lost.append(item)
            self._requeue(item, attempt)
        elif isinstance(e, ev.ResyncNeeded):
            self.res.resyncs += 1
        elif isinstance(e, ev.Replanned):
            self.res.replans += 1

    def _restart_pipelined_driver(self) -> None:
        """A restarted session asks again for every item without an accepted photo, with the
        attempt it last asked (the phone answers from its results: never a second shot)."""
        self.open = None
        todo = []
        for i in range(self.cfg.n):
            if i in self.res.verified:
                continue
            a = self.last_attempt.get(i, 1)
            todo.append((i, a + 1 if (i, a) in self.rejected_pairs else a))
        self.work = deque(todo)

    def _on_desktop_event(self, e: ev.Event) -> None:
        if self.cfg.pipelined:
            self._on_pipelined_event(e)
            return
        if isinstance(e, ev.PhotoVerified):
            self.res.completed.append(e.index)
            self.driver_busy = False
            if self.retake is not None and self.retake[0] == e.index:
                self.retake = None  # the retake is done: carry on where the session was
                return
            self.index, self.attempt = e.index + 1, 1
            for item, after in list(self.pending_retakes.items()):
                if after == e.index:  # e.g. a registration rejection found late (issue 23)
                    del self.pending_retakes[item]
                    self.retake = (item, self.last_attempt.get(item, 1) + 1)
        elif isinstance(e, ev.CameraFailed):
            self.driver_busy = False
            if self.retake is not None:
                self.retake = (self.retake[0], self.retake[1] + 1)
            elif self.attempt > self.cfg.camera_retries:
                self.res.failed.append(e.index)
                self.index, self.attempt = self.index + 1, 1
            else:
                self.attempt += 1
        elif isinstance(e, ev.PhoneLost):
            self.res.lost.append(e.index)
            self.driver_busy = False  # the operator would be told; the test retries once
        elif isinstance(e, ev.ResyncNeeded):
            self.res.resyncs += 1
        elif isinstance(e, ev.Replanned):
            self.res.replans += 1

    def _crash_desktop(self) -> None:
        self.res.retransmissions += self.desktop.retransmissions
        self.res.rejected.update(self.desktop.rejected)
        self.desktop_up = False
        self.desktop_boot += 1
        self._at(self.now + self.cfg.down_s, "desktop_start", self.desktop.next_seq + SEQ_JUMP)

    # ------------------------------------------------------------------ main loop
    def _next_time(self) -> float | None:
        times = [self.queue[0][0]] if self.queue else []
        for up, machine in ((self.phone_up, self.phone), (self.desktop_up, self.desktop)):
            t = machine.get_timer() if up else None
            if t is not None:
                times.append(max(t, self.now))
        return min(times) if times else None

    def run(self) -> MemResult:
        self.phone.start(self.now)
        self._flush()
        self._drive()
        self._flush()
        while len(set(self.res.completed) | set(self.res.failed)) < self.cfg.n:
            t = self._next_time()
            if t is None or t > self.cfg.time_limit_s:
                break
            self.now = t
            self._step()
            self._flush()
            self._drive()
            self._flush()
        self.res.retransmissions += self.desktop.retransmissions
        self.res.rejected.update(self.desktop.rejected)
        self.res.rejected.update(self.phone.rejected)
        self.res.end_s = self.now
        return self.res

    def _step(self) -> None:
        if self.queue and self.queue[0][0] <= self.now:
            _, _, kind, payload = heapq.heappop(self.queue)
            self._dispatch(kind, payload)
        for up, machine in ((self.phone_up, self.phone), (self.desktop_up, self.desktop)):
            t = machine.get_timer() if up else None
            if t is not None and t <= self.now:
                machine.handle_timer(self.now)

    def _dispatch(self, kind: str, payload: Any) -> None:
        if kind == "deliver":
            to, data, _ = payload
            if to == "desktop" and self.desktop_up:
                self.desktop.receive_datagram(data, ("phone", self.phone_boot), self.now)
            elif to == "phone" and self.phone_up:
                self.phone.receive_datagram(data, "desktop", self.now)
        elif kind == "phone_start":
            self.phone_up = True
            self.phone = self._new_phone(initial_seq=payload)
            self.phone.start(self.now)
        elif kind == "desktop_start":
            self.desktop_up = True
            self.desktop = self._new_desktop(initial_seq=payload)
            self.driver_busy = False
            self.index, self.attempt = self._first_unstored(), 1
            if self.cfg.pipelined:
                self._restart_pipelined_driver()
        elif payload[0] != self.phone_boot or not self.phone_up:
            return  # camera / upload work of a phone process that has since crashed
        elif kind == "photo":
            self._photo(payload[1], payload[2])
        elif kind == "camera_fail":
            self.phone.camera_failed(payload[1], payload[2], "simulated camera error", self.now)
        elif kind == "upload":
            self._upload(payload[1], payload[2])
        elif kind == "upload_done":
            e = payload[1]
            self.phone.upload_finished(e.index, e.attempt, payload[2], self.now)
