"""Protocol v1.1 behaviour, in memory with a fake clock (docs/protocol.md §4.6, §6, §7).

Each test is a scenario the spec states normatively: resync that converges (issue 23: the
33,478-RESYNC livelock), slow shots within announced limits, HELLO nonces, BYE, version
negotiation with a v1.0 phone, peer binding, RESYNC during a shot.
"""

from __future__ import annotations

import pytest
from legacy_phone import KeepCursorPhone
from legacy_phone import PhoneMachine as V10Phone
from test_protocol_machines import MATRIX, check_exactly_once

from rig.errors import LocalProtocolError
from rig.protocol import events as ev
from rig.protocol import messages as m
from rig.protocol.auth import MAX_AHEAD, ReplayWindow
from rig.protocol.desktop import CLOSED, CLOSING, MAX_GAPS, DesktopMachine
from rig.protocol.faults import parse_faults
from rig.protocol.memnet import KEY, SESSION, MemConfig, MemResult, MemRun
from rig.protocol.phone import ENDED, READY, PhoneMachine, PhoneState
from rig.protocol.timers import Timers

NET = "loss=0.2,dup=0.05,reorder=0.1,delay_ms=20,jitter_ms=10"


def _retake_run(phone: type, retakes: dict[int, int], faults: str = "", seed: int = 1) -> MemResult:
    cfg = MemConfig(n=12, faults=parse_faults(faults), seed=seed, retakes=retakes,
                    phone_factory=phone, time_limit_s=600)  # fmt: skip
    return MemRun(cfg).run()


def _check_retaken(res: MemResult, n: int, retaken: set[int]) -> None:
    """Every item stored; retaken items twice (attempts 1 and 2), others once; no wire pair
    shot twice; each stored photo is the phone's photo of the wire pair that carried it."""
    assert res.lost == [] and res.failed == []
    assert sorted(res.stored) == list(range(n))
    for item, photos in res.stored.items():
        assert [a for a, _ in photos] == ([1, 2] if item in retaken else [1]), (item, photos)
        for attempt, sha in photos:
            assert res.phone_sha[(item, attempt)] == sha


@pytest.mark.parametrize("phone", [PhoneMachine, V10Phone, KeepCursorPhone])
@pytest.mark.parametrize("faults", ["", NET])
def test_retake_two_behind_the_phone_converges(phone: type, faults: str) -> None:
    """Item 2 is rejected late (after item 4 was verified): the phone's cursor is at 5. The v1.1
    phone retakes it in place; v1.0 phones (even one keeping its cursor on RESYNC) get the
    retake re-planned at their cursor. Never more than a handful of RESYNCs."""
    res = _retake_run(phone, {2: 4, 7: 9}, faults)
    _check_retaken(res, 12, {2, 7})
    assert res.resyncs <= 2 * MAX_GAPS
    if phone is PhoneMachine:
        assert res.resyncs == 0 and res.replans == 0  # a v1.1 phone needs neither
    else:
        assert res.replans >= 2  # each late retake travels at the phone's cursor


class RefusingPhone(V10Phone):
    """Answers every RESYNC with another cursor and every retake with GAP: it never follows."""

    def _on_resync(self, msg: m.Resync) -> None:
        self._send(m.ResyncAck(next=self.persist.cursor + 1000))

    def _may_shoot(self, index: int, attempt: int) -> bool:
        return False


def test_phone_that_never_follows_ends_in_phone_lost_not_livelock() -> None:
    d = DesktopMachine(KEY, SESSION, 1, 0, "phone")
    p = RefusingPhone(KEY, SESSION, "desktop", 1, PhoneState(cursor=0))
    d.request_capture(0, 1, "t", 0.0)
    now, lost, resyncs = 0.0, [], 0
    while now < 120 and not lost:
        for data, _ in d.datagrams_to_send():
            p.receive_datagram(data, "desktop", now)
        for data, _ in p.datagrams_to_send():
            d.receive_datagram(data, "phone", now)
        for e in d.next_events():
            lost += [e] if isinstance(e, ev.PhoneLost) else []
            resyncs += isinstance(e, ev.ResyncNeeded)
        when = d.get_timer()
        now = max(now + 0.01, when if when is not None else now + 1)
        d.handle_timer(now)
    assert lost and "does not follow RESYNC" in lost[0].reason
    assert resyncs <= MAX_GAPS and now < 20  # bounded, with back-off, well before phone_timeout


def test_phone_whose_shots_take_34_s_completes_within_its_announced_limit() -> None:
    """The phone announces its camera timeout (40 s) in HELLO; the desktop waits for it instead
    of failing at its own 30 s shot timeout (issue 23: timeouts that compose)."""
    timers = Timers(camera_timeout_s=40.0, phone_timeout_s=15.0, shot_timeout_s=30.0)
    cfg = MemConfig(n=4, shot_ms=34_000, timers=timers, faults=parse_faults(NET), seed=3)
    res = MemRun(cfg).run()
    check_exactly_once(res, 4)
    assert res.end_s > 4 * 34


def test_v10_phone_with_34_s_shots_hits_the_desktop_default() -> None:
    """A v1.0 phone announces nothing: the desktop's own 30 s shot timeout applies."""
    timers = Timers(camera_timeout_s=40.0)
    cfg = MemConfig(n=1, shot_ms=34_000, timers=timers, phone_factory=V10Phone,
                    camera_retries=0, time_limit_s=200)  # fmt: skip
    res = MemRun(cfg).run()
    assert res.failed == [0]


@pytest.mark.parametrize("name", ["all-network", "phone-restart-twice", "both-restart", "fresh-phone"])
def test_v10_phone_completes_sessions_against_v11_desktop(name: str) -> None:
    """Backward compatibility: today's v1.0 phone, frozen, through the fault matrix."""
    cfg, spec = MATRIX[name]
    cfg = MemConfig(**{**cfg.__dict__, "seed": 5, "faults": parse_faults(spec),
                       "phone_factory": V10Phone})  # fmt: skip
    check_exactly_once(MemRun(cfg).run(), cfg.n)


def _pair(phone: type = PhoneMachine) -> tuple[DesktopMachine, PhoneMachine]:
    d = DesktopMachine(KEY, SESSION, 1, 0)
    p = phone(KEY, SESSION, "desktop", 1, PhoneState(cursor=0))
    return d, p


def _deliver(src: DesktopMachine | PhoneMachine, dst: DesktopMachine | PhoneMachine,
             now: float, addr: object = "phone") -> list[bytes]:  # fmt: skip
    grams = [g for g, _ in src.datagrams_to_send()]
    for g in grams:
        dst.receive_datagram(g, addr, now)
    return grams


def test_version_negotiation_v11_and_v10() -> None:
    d, p = _pair()
    p.start(0.0)
    hello = _deliver(p, d, 0.0)
    assert m.open_datagram(hello[0], KEY, SESSION, m.ROLE_DESKTOP, None)[0] == m.Hello(
        0, p._nonce, minor=m.MINOR, shot_s=20
    )
    ack = _deliver(d, p, 0.0)
    assert m.open_datagram(ack[0], KEY, SESSION, m.ROLE_PHONE, None)[0].body()["minor"] == m.MINOR
    assert d.peer_minor == m.MINOR and p.desktop_minor == m.MINOR and d.phone_shot_s == 20

    d10, old = _pair(V10Phone)
    old.start(0.0)
    _deliver(old, d10, 0.0)
    ack = _deliver(d10, old, 0.0)
    body = ack[0][m.HEADER_LEN : -16]
    assert body == b'{"next":0,"nonce":%d}' % old._nonce  # the exact v1.0 bytes: no minor
    assert d10.peer_minor == 0
    d10.close("done", 1.0)  # no BYE to a v1.0 phone: it would drop it as type 0x0B
    assert d10.state == CLOSED and d10.datagrams_to_send() == []


def test_bye_ends_keepalives_and_a_capture_reopens() -> None:
    d, p = _pair()
    p.start(0.0)
    _deliver(p, d, 0.0)
    _deliver(d, p, 0.0)
    d.close("session finished", 1.0)
    assert d.state == CLOSING
    _deliver(d, p, 1.0)
    assert p.state == ENDED and ev.SessionEnded("session finished") in p.next_events()
    _deliver(p, d, 1.0)  # BYE_ACK
    assert d.state == CLOSED and ev.ByeAcked() in d.next_events()
    p.handle_timer(100.0)  # long silence: no keepalive, no DesktopLost after BYE
    assert p.get_timer() is None and p.datagrams_to_send() == [] and p.next_events() == []
    d2 = DesktopMachine(KEY, SESSION, 10**6, 0, "phone")  # the session is resumed
    d2.request_capture(0, 1, "again", 200.0)
    _deliver(d2, p, 200.0)
    assert p.state != ENDED and p.shooting is not None and p.get_timer() is not None


def test_bye_is_retransmitted_then_given_up() -> None:
    d, p = _pair()
    p.start(0.0)
    _deliver(p, d, 0.0)
    d.close("bye", 0.0)
    sent = 0
    while d.state == CLOSING:
        sent += len(d.datagrams_to_send())
        when = d.get_timer()
        assert when is not None
        d.handle_timer(when)
    assert d.state == CLOSED and sent >= 4


def test_hello_retransmission_keeps_its_nonce_and_stale_acks_are_ignored() -> None:
    d, p = _pair()
    p.start(0.0)
    first = _deliver(p, d, 0.0)  # the desktop answers HELLO(n) …
    stale_ack = [g for g, _ in d.datagrams_to_send()]
    p.handle_timer(p.get_timer() or 1.0)  # … but the answer is late: HELLO retransmitted
    again = [g for g, _ in p.datagrams_to_send()]
    nonce = lambda g: m.open_datagram(g, KEY, SESSION, m.ROLE_DESKTOP, None)[0].nonce  # noqa: E731
    assert nonce(again[0]) == nonce(first[0])  # same exchange, same nonce
    p.receive_datagram(stale_ack[0], "desktop", 0.5)  # matches the current nonce: connects
    assert p.state == READY
    # A keepalive HELLO starts a new exchange; a duplicate of the old ack is then stale.
    p.handle_timer(5.0)
    keep = [g for g, _ in p.datagrams_to_send()]
    assert nonce(keep[0]) != nonce(first[0])
    stale = p.stale
    d.receive_datagram(first[0], "phone", 5.0)  # a replay: dropped by the desktop
    p.receive_datagram(stale_ack[0], "desktop", 5.0)  # replay too (same seq): dropped
    late = m.Codec(KEY, SESSION, m.ROLE_DESKTOP, next_seq=10**9).seal(
        m.HelloAck(nonce(first[0]), 99)
    )
    p.receive_datagram(late, "desktop", 5.0)  # authentic, fresh seq, old nonce: stale
    assert p.stale == stale + 1 and p.persist.cursor == 0  # its stale `next` was not adopted


def test_resync_during_a_shot_wins_and_the_shot_does_not_move_the_cursor() -> None:
    p = PhoneMachine(KEY, SESSION, "d", 1, PhoneState(cursor=3))
    desk = m.Codec(KEY, SESSION, m.ROLE_DESKTOP, next_seq=1)
    p.receive_datagram(desk.seal(m.Capture(3, 1, "t")), "d", 0.0)
    assert p.shooting is not None
    p.receive_datagram(desk.seal(m.Resync(next=8)), "d", 0.1)
    out = [m.open_datagram(g, KEY, SESSION, m.ROLE_DESKTOP, None)[0] for g, _ in p.datagrams_to_send()]
    assert out[-1] == m.ResyncAck(next=8) and p.persist.cursor == 8
    p.photo_saved(3, 1, "a" * 64, 10, 0.5)
    assert p.persist.cursor == 8  # the RESYNC won: the finished shot does not move it back


def test_gap_echoes_the_refused_capture() -> None:
    p = PhoneMachine(KEY, SESSION, "d", 1, PhoneState(cursor=3))
    desk = m.Codec(KEY, SESSION, m.ROLE_DESKTOP, next_seq=1)
    p.receive_datagram(desk.seal(m.Capture(9, 4, "t")), "d", 0.0)
    (gap,) = [m.open_datagram(g, KEY, SESSION, m.ROLE_DESKTOP, None)[0] for g, _ in p.datagrams_to_send()]
    assert gap == m.Error(code=m.ERR_GAP, index=9, attempt=4, cursor=3)


def test_peer_address_moves_only_on_hello_or_resync_ack() -> None:
    d, p = _pair()
    p.start(0.0)
    _deliver(p, d, 0.0, addr=("phone", 1))
    assert d.peer == ("phone", 1)
    d.request_capture(0, 1, "t", 0.0)
    keyed = m.Codec(KEY, SESSION, m.ROLE_PHONE, next_seq=10**12)  # a key holder, seq far ahead
    d.receive_datagram(keyed.seal(m.CaptureAck(0, 1, 0)), ("evil", 9), 0.1)
    assert d.peer == ("phone", 1)  # authentic, newest, but not a HELLO: the peer stays
    d.receive_datagram(keyed.seal(m.Hello(0, 5)), ("moved", 2), 0.2)
    assert d.peer == ("moved", 2)  # a genuine phone restart on a new port moves it


def test_seq_far_ahead_is_dropped_and_counted() -> None:
    d, _ = _pair()
    d.codec.window = ReplayWindow(floor=1000)
    keyed = m.Codec(KEY, SESSION, m.ROLE_PHONE, next_seq=2**64 - 1)
    d.receive_datagram(keyed.seal(m.Hello(0, 1)), "evil", 0.0)
    assert d.rejected == {"ahead": 1} and d.peer is None
    ok = m.Codec(KEY, SESSION, m.ROLE_PHONE, next_seq=1000 + MAX_AHEAD)
    d.receive_datagram(ok.seal(m.Hello(0, 1)), "phone", 0.0)
    assert d.peer == "phone"


def test_desktop_sends_only_safe_tags_and_attempts_from_one() -> None:
    d = DesktopMachine(KEY, SESSION, 1, 0)
    for tag in ["../x", "a/b", ".hidden", "é", "x" * 129]:
        with pytest.raises(LocalProtocolError):
            d.request_capture(0, 1, tag, 0.0)
    with pytest.raises(LocalProtocolError, match="attempt 0"):
        d.request_capture(0, 0, "ok", 0.0)
    assert m.safe_tag("../../etc/passwd") == "_._.._etc_passwd"
    assert m.safe_tag("s1-000007-a2") == "s1-000007-a2" and m.safe_tag(".") == "_"
