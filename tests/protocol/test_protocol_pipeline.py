"""v1.2 pipelined captures (docs/protocol.md §6.4): the capture closes on PHOTO_READY, the
photo stays in flight until stored, a lost or rejected photo is retaken, and every item still
ends with exactly one accepted photo, the phone's own, under loss, duplication, reordering and
restarts of either side."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rig.errors import LocalProtocolError
from rig.protocol import events as ev
from rig.protocol import messages as m
from rig.protocol.desktop import IDLE, WAIT_UPLOAD, DesktopMachine
from rig.protocol.faults import FaultSpec, parse_faults
from rig.protocol.memnet import KEY, SESSION, MemConfig, MemResult, MemRun
from rig.protocol.phone import PhoneMachine, PhoneState
from rig.protocol.timers import Timers

NET = "loss=0.2,dup=0.1,reorder=0.2,delay_ms=10,jitter_ms=20"


class V11Phone(PhoneMachine):
    """Today's phone of minor 1: it never announces pipelining."""

    def _send(self, msg: m.Message) -> None:
        if isinstance(msg, m.Hello):
            msg = dataclasses.replace(msg, minor=1)
        super()._send(msg)


def _pair(phone: type[PhoneMachine] = PhoneMachine) -> tuple[DesktopMachine, PhoneMachine]:
    d = DesktopMachine(KEY, SESSION, 1, 0, None, Timers(), max_inflight=2)
    p = phone(KEY, SESSION, "desktop", 1, PhoneState(cursor=0))
    p.start(0.0)
    _shuttle(d, p, 0.0)
    return d, p


def _shuttle(d: DesktopMachine, p: PhoneMachine, now: float) -> list[ev.Event]:
    """Deliver datagrams both ways until quiet; the desktop's events."""
    events: list[ev.Event] = []
    for _ in range(20):
        to_d = p.datagrams_to_send()
        to_p = d.datagrams_to_send()
        if not to_d and not to_p:
            break
        for g, _ in to_d:
            d.receive_datagram(g, "phone", now)
        for g, _ in to_p:
            p.receive_datagram(g, "desktop", now)
        events += d.next_events()
    return events + d.next_events()


def _shoot(d: DesktopMachine, p: PhoneMachine, item: int, now: float) -> list[ev.Event]:
    d.request_capture(item, 1, f"t-{item}", now)
    _shuttle(d, p, now)
    p.photo_saved(item, 1, f"{item:064x}", 100 + item, now + 0.5)
    return _shuttle(d, p, now + 0.5)


def test_a_v12_phone_pipelines_and_a_held_photo_is_verified_later() -> None:
    d, p = _pair()
    assert d.peer_minor == 2 and d.pipelined
    events = _shoot(d, p, 0, 1.0)
    held = [e for e in events if isinstance(e, ev.PhotoHeld)]
    assert held == [ev.PhotoHeld(0, 1, f"{0:064x}", 100)] and d.state == IDLE
    assert list(d.inflight) == [(0, 1)] and d.next_index == 1
    events = _shoot(d, p, 1, 2.0)  # item 1 is shot while item 0's upload is still running
    assert [type(e) for e in events if isinstance(e, ev.PhotoHeld)] == [ev.PhotoHeld]
    assert d.inflight_full()
    with pytest.raises(LocalProtocolError, match="in flight"):
        d.request_capture(2, 1, "t-2", 2.1)  # bounded look-ahead: the caller waits
    d.photo_stored(1, 1, f"{1:064x}", 2.2)  # out of order: item 1's upload finished first
    d.photo_stored(0, 1, f"{0:064x}", 2.3)
    verified = [e for e in d.next_events() if isinstance(e, ev.PhotoVerified)]
    assert [(e.index, e.attempt) for e in verified] == [(1, 1), (0, 1)] and not d.inflight
    d.photo_stored(0, 1, f"{0:064x}", 2.4)  # a duplicate upload answer: stale, nothing else
    assert not [e for e in d.next_events() if isinstance(e, ev.PhotoVerified)]


def test_a_v11_phone_stays_in_lock_step() -> None:
    d, p = _pair(V11Phone)
    assert d.peer_minor == 1 and not d.pipelined
    events = _shoot(d, p, 0, 1.0)
    assert not [e for e in events if isinstance(e, ev.PhotoHeld)]
    assert d.state == WAIT_UPLOAD and not d.inflight
    with pytest.raises(LocalProtocolError):
        d.request_capture(1, 1, "t-1", 1.6)  # one capture open at a time, as in v1.1


def test_a_held_photo_whose_upload_never_comes_fails_and_is_polled_meanwhile() -> None:
    d, p = _pair()
    _shoot(d, p, 0, 1.0)
    p.next_events()
    p.uploads.clear()  # the upload broke off; only a poll restarts it
    timer = d.get_timer()
    assert timer is not None and timer <= 1.5 + d.timers.poll_s
    d.handle_timer(1.5 + d.timers.poll_s)  # the poll: CAPTURE of the held pair again
    polls = d.datagrams_to_send()
    assert len(polls) == 1
    p.receive_datagram(polls[0][0], "desktop", 2.6)
    assert [type(e) for e in p.next_events()] == [ev.UploadRequested]  # re-upload, no re-shot
    d.handle_timer(1.5 + d.timers.upload_timeout_s)
    failed = [e for e in d.next_events() if isinstance(e, ev.CameraFailed)]
    assert failed == [ev.CameraFailed(0, 1, "upload not completed")] and not d.inflight


def check_pipelined(res: MemResult, n: int, max_inflight: int = 2) -> None:
    """One accepted photo per item, the phone's own; no wire pair shot twice; the look-ahead
    was used and bounded."""
    assert res.lost == [] and res.failed == []
    assert sorted(res.verified) == list(range(n))
    for item, (attempt, sha) in res.verified.items():
        assert res.phone_sha[(item, attempt)] == sha
    assert max(res.saved_pairs.values()) == 1, res.saved_pairs.most_common(3)
    assert 1 <= res.max_inflight_seen <= max_inflight


MATRIX = {
    "clean": (MemConfig(n=30, upload_ms=60), ""),
    "network": (MemConfig(n=30, upload_ms=60), NET),
    "upload-failure": (MemConfig(n=30, upload_ms=60), "upload_fail=0.4," + NET),
    "late-rejections": (MemConfig(n=30, upload_ms=60, reject=frozenset({3, 4, 17})), NET),
    "phone-restart": (
        MemConfig(n=30, upload_ms=60, phone_restarts={5: "after_save", 9: "before_save"}),
        NET,
    ),
    "desktop-restart": (MemConfig(n=30, upload_ms=60, desktop_restarts=(6, 19)), NET),
    "one-in-flight": (MemConfig(n=20, upload_ms=60, max_inflight=1), NET),
}


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_pipelined_fault_matrix(name: str) -> None:
    cfg, spec = MATRIX[name]
    cfg = dataclasses.replace(cfg, pipelined=True, faults=parse_faults(spec), seed=7)
    check_pipelined(MemRun(cfg).run(), cfg.n, cfg.max_inflight)


def test_pipelining_is_faster_than_lock_step_on_the_same_faults() -> None:
    """The point of §6.4: with uploads as slow as here, each item costs a shot, not a shot
    plus an upload (fake clock: end times are exact)."""
    base = MemConfig(n=20, shot_ms=500, upload_ms=150, seed=3)
    lock = MemRun(dataclasses.replace(base, max_inflight=0)).run()
    pipe = MemRun(dataclasses.replace(base, pipelined=True)).run()
    assert sorted(pipe.verified) == list(range(20)) and sorted(set(lock.completed)) == list(
        range(20)
    )
    assert pipe.end_s < lock.end_s - 20 * 0.1, (pipe.end_s, lock.end_s)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    loss=st.floats(0, 0.4),
    dup=st.floats(0, 0.3),
    reorder=st.floats(0, 0.3),
    camera_fail=st.floats(0, 0.1),
    upload_fail=st.floats(0, 0.3),
    reject=st.frozensets(st.integers(0, 19), max_size=3),
    restart=st.one_of(
        st.none(), st.tuples(st.integers(0, 19), st.sampled_from(["after_save", "before_save"]))
    ),
    desktop_restart=st.one_of(st.none(), st.integers(0, 19)),
    max_inflight=st.integers(1, 3),
)
def test_pipelined_random_faults_one_accepted_photo_per_item(
    seed: int,
    loss: float,
    dup: float,
    reorder: float,
    camera_fail: float,
    upload_fail: float,
    reject: frozenset[int],
    restart: tuple[int, str] | None,
    desktop_restart: int | None,
    max_inflight: int,
) -> None:
    faults = FaultSpec(loss=loss, dup=dup, reorder=reorder, delay_ms=10, jitter_ms=20,
                       camera_fail=camera_fail, upload_fail=upload_fail)  # fmt: skip
    cfg = MemConfig(
        n=20,
        upload_ms=60,  # slower than a datagram: the look-ahead is really used
        seed=seed,
        faults=faults,
        camera_retries=10,
        phone_restarts=dict([restart]) if restart else {},
        desktop_restarts=(desktop_restart,) if desktop_restart is not None else (),
        pipelined=True,
        max_inflight=max_inflight,
        reject=reject,
    )
    check_pipelined(MemRun(cfg).run(), cfg.n, max_inflight)
