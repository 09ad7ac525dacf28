"""Datagram encoding, golden vectors, replay window and fuzzing (docs/protocol.md §4)."""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rig.protocol import messages as m
from rig.protocol.auth import ReplayWindow
from rig.protocol.desktop import DesktopMachine
from rig.protocol.phone import PhoneMachine, PhoneState

ROOT = Path(__file__).resolve().parents[2]
VECTORS = json.loads((ROOT / "tests/vectors/datagrams.json").read_text())
PAIRING = json.loads((ROOT / "tests/vectors/pairing.json").read_text())
UPLOAD = json.loads((ROOT / "tests/vectors/upload.json").read_text())
KEY = bytes(range(32))
SESSION = bytes.fromhex("0123456789abcdef")
ROLE = {"desktop": m.ROLE_DESKTOP, "phone": m.ROLE_PHONE}


def test_protocol_vectors_files_match_generator() -> None:
    spec = importlib.util.spec_from_file_location("make_vectors", ROOT / "scripts/make_vectors.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert json.loads(json.dumps(mod.make())) == VECTORS
    assert json.loads(json.dumps(mod.make_pairing())) == PAIRING
    assert json.loads(json.dumps(mod.make_upload())) == UPLOAD


@pytest.mark.parametrize("vec", VECTORS["vectors"], ids=lambda v: v["name"])
def test_protocol_golden_vector(vec: dict[str, Any]) -> None:
    data = bytes.fromhex(vec["datagram_hex"])
    key, session = bytes.fromhex(vec["key_hex"]), bytes.fromhex(vec["session_hex"])
    role = ROLE[vec["receiver_role"]]
    if vec["expect"] == "accept":
        msg, seq = m.open_datagram(data, key, session, role, ReplayWindow())
        assert seq == vec["seq"] and vec["type"] == msg.TYPE
        assert type(msg).__name__ == vec["message"]
        assert msg.body() == vec["fields"]
        # Independent layout check (not via our encoder): header fields and HMAC tag.
        assert data[:3] == b"RG\x01" and data[3] == vec["type"]
        assert int.from_bytes(data[16:24], "big") == seq
        assert data[-16:] == hmac.new(key, data[:-16], hashlib.sha256).digest()[:16]
        if vec["canonical"]:
            # Re-encode from the listed fields: byte-exact (canonical body, same tag).
            again = m.encode(m.MESSAGE_TYPES[vec["type"]](**vec["fields"]), key, session, seq)
            assert again == data
            assert json.loads(data[24:-16]) == vec["fields"]
    else:
        with pytest.raises(m.Rejected) as info:
            m.open_datagram(data, key, session, role, ReplayWindow())
        assert info.value.reason == vec["reason"]


def test_protocol_worked_example_bytes() -> None:
    """The hex of docs/protocol.md §9, typed from the spec, not produced by our encoder."""
    expected_prefix = (
        bytes.fromhex("52470103000000290123456789abcdef0000000000000001")
        + b'{"attempt":1,"index":7,"tag":"s1-000007"}'
    )
    data = m.encode(m.Capture(7, 1, "s1-000007"), KEY, SESSION, 1)
    assert data[:-16] == expected_prefix and len(data) == 40 + 41
    assert data[-16:] == bytes.fromhex("8e559dd705036de3acfe9312e2836c67")


def test_protocol_replay_sequence() -> None:
    rs = VECTORS["replay_sequence"]
    codec = m.Codec(bytes.fromhex(rs["key_hex"]), bytes.fromhex(rs["session_hex"]), m.ROLE_PHONE)
    for hexdata, expect in zip(rs["datagrams_hex"], rs["expect"], strict=True):
        msg = codec.open(bytes.fromhex(hexdata))
        assert (msg is not None) == (expect == "accept")
    assert codec.rejected == {"replay": rs["expect"].count("replay")}


@pytest.mark.parametrize("seqv", VECTORS["sequences"], ids=lambda v: v["name"])
def test_protocol_sequence_vectors(seqv: dict[str, Any]) -> None:
    """Streams fed to one receiver: the window bound (ahead), a restored and a re-based window,
    and an authentic malformed body that does not use up its seq (§4.6)."""
    window = ReplayWindow.restored(seqv["restored_highest"], seqv["floor"])
    codec = m.Codec(bytes.fromhex(seqv["key_hex"]), bytes.fromhex(seqv["session_hex"]),
                    ROLE[seqv["receiver_role"]], window=window)  # fmt: skip
    for k, (hexdata, expect) in enumerate(zip(seqv["datagrams_hex"], seqv["expect"], strict=True)):
        before = dict(codec.rejected or {})
        msg = codec.open(bytes.fromhex(hexdata))
        got = "accept" if msg is not None else next(
            r for r, n in (codec.rejected or {}).items() if n != before.get(r, 0)
        )
        assert got == expect, f"datagram {k}"


@pytest.mark.parametrize("vec", PAIRING["accept"], ids=lambda v: v["name"])
def test_protocol_pairing_vector_accepted(vec: dict[str, Any]) -> None:
    from rig.protocol.pairing import parse_pairing

    p, e = parse_pairing(vec["uri"]), vec["expect"]
    assert (p.host, p.udp_port, p.http_port, p.session.hex(), p.key.hex(), p.version) == (
        e["host"], e["udp_port"], e["http_port"], e["session_hex"], e["key_hex"], e["version"]
    )  # fmt: skip


@pytest.mark.parametrize("vec", PAIRING["reject"], ids=lambda v: v["name"])
def test_protocol_pairing_vector_rejected_naming_the_field(vec: dict[str, Any]) -> None:
    from rig.errors import InputError
    from rig.protocol.pairing import parse_pairing

    with pytest.raises(InputError, match=f"'{vec['field']}'"):
        parse_pairing(vec["uri"])


def test_protocol_upload_auth_vectors() -> None:
    """The §5 HMACs, recomputed from the spec's text with hmac, not with rig's helpers."""
    key, sid = bytes.fromhex(UPLOAD["key_hex"]), UPLOAD["session_hex"]
    for v in UPLOAD["upload_auth"]:
        text = f"rig1-upload\n{sid}\n{v['index']}\n{v['attempt']}\n{v['sha256']}\n{v['size']}"
        assert hmac.new(key, text.encode(), hashlib.sha256).hexdigest() == v["auth"]
    for v in UPLOAD["tap_auth"]:
        text = f"rig1-tap\n{sid}\n{v['index']}\n{v['attempt']}"
        assert hmac.new(key, text.encode(), hashlib.sha256).hexdigest() == v["auth"]


_ints = st.integers(0, m.MAX_INDEX)
_sha = st.text("0123456789abcdef", min_size=64, max_size=64)
_optional = st.one_of(st.none(), st.integers(0, 255))
MESSAGES = st.one_of(
    st.builds(
        m.Hello,
        cursor=st.integers(-1, m.MAX_INDEX),
        nonce=st.integers(0, 2**32 - 1),
        minor=_optional,
        shot_s=st.one_of(st.none(), st.integers(1, 3600)),
    ),
    st.builds(
        m.HelloAck,
        nonce=st.integers(0, 2**32 - 1),
        next=st.integers(-1, m.MAX_INDEX),
        minor=_optional,
    ),
    st.builds(m.Bye, reason=st.text(st.characters(exclude_categories=["Cs"]), max_size=60)),
    st.just(m.ByeAck()),
    st.builds(
        m.Capture,
        index=_ints,
        attempt=_ints,
        tag=st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=128),
    ),
    st.builds(m.CaptureAck, index=_ints, attempt=_ints, state=st.integers(0, 255)),
    st.builds(
        m.PhotoReady, index=_ints, attempt=_ints, sha256=_sha, size=st.integers(1, m.MAX_INDEX)
    ),
    st.builds(
        m.CameraFailedMsg,
        index=_ints,
        attempt=_ints,
        reason=st.text(st.characters(exclude_categories=["Cs"]), max_size=80),
    ),
    st.builds(m.Stored, index=_ints, attempt=_ints, sha256=_sha),
    st.builds(
        m.Error,
        code=st.integers(0, 255),
        index=_ints,
        attempt=_ints,
        cursor=st.integers(-1, m.MAX_INDEX),
    ),
    st.builds(m.Resync, next=st.integers(-1, m.MAX_INDEX)),
    st.builds(m.ResyncAck, next=st.integers(-1, m.MAX_INDEX)),
)


@settings(max_examples=300)
@given(msg=MESSAGES, seq=st.integers(1, 2**64 - 1))
def test_protocol_roundtrip_every_message(msg: m.Message, seq: int) -> None:
    data = m.encode(msg, KEY, SESSION, seq)
    assert len(data) <= m.MAX_DATAGRAM
    receiver = m.ROLE_DESKTOP if msg.SENDER == m.ROLE_PHONE else m.ROLE_PHONE
    got, got_seq = m.open_datagram(data, KEY, SESSION, receiver, ReplayWindow(floor=seq))
    assert got == msg and got_seq == seq


@settings(max_examples=300)
@given(
    msg=MESSAGES,
    flips=st.lists(st.tuples(st.integers(0, 2000), st.integers(1, 255)), min_size=1, max_size=4),
)
def test_protocol_mutated_datagrams_never_accepted(
    msg: m.Message, flips: list[tuple[int, int]]
) -> None:
    data = bytearray(m.encode(msg, KEY, SESSION, 5))
    original = bytes(data)
    for pos, xor in flips:
        data[pos % len(data)] ^= xor
    assume(bytes(data) != original)  # two flips of one byte may cancel out
    receiver = m.ROLE_DESKTOP if msg.SENDER == m.ROLE_PHONE else m.ROLE_PHONE
    with pytest.raises(m.Rejected):
        m.open_datagram(bytes(data), KEY, SESSION, receiver, ReplayWindow())


def _machines() -> tuple[DesktopMachine, PhoneMachine]:
    d = DesktopMachine(KEY, SESSION, initial_seq=1, next_index=0)
    p = PhoneMachine(KEY, SESSION, "d", initial_seq=1, state=PhoneState(cursor=0))
    d.request_capture(0, 1, "t", now=0.0)
    p.start(0.0)
    return d, p


@settings(max_examples=200)
@given(blobs=st.lists(st.binary(max_size=1400), max_size=20))
def test_protocol_fuzz_random_bytes_change_nothing(blobs: list[bytes]) -> None:
    d, p = _machines()
    d_state, p_state = (d.state, d.current), (p.state, p.snapshot())
    for blob in blobs:
        d.receive_datagram(blob, ("x", 1), 1.0)
        p.receive_datagram(blob, ("x", 1), 1.0)
    assert (d.state, d.current) == d_state and (p.state, p.snapshot()) == p_state
    assert d.peer is None and not d.next_events() and not p.next_events()
    assert sum(d.rejected.values()) == len(blobs) == sum(p.rejected.values())


def test_protocol_fuzz_valid_messages_under_wrong_key_and_replays() -> None:
    """Well-formed datagrams made with another key, or replayed, are counted and ignored."""
    rng = random.Random(7)
    d, _p = _machines()
    evil = m.Codec(bytes(32), SESSION, m.ROLE_PHONE)
    for _ in range(200):
        d.receive_datagram(evil.seal(m.PhotoReady(0, 1, "0" * 64, rng.randint(1, 99))), "e", 1.0)
    good = m.Codec(KEY, SESSION, m.ROLE_PHONE, next_seq=10)
    d.receive_datagram(good.seal(m.Hello(0, 1)), "phone", 1.0)
    ack = good.seal(m.CaptureAck(0, 1, m.ST_SHOOTING))
    d.receive_datagram(ack, "phone", 1.0)
    for _ in range(5):
        d.receive_datagram(ack, "attacker", 1.0)
    assert d.rejected == {"mac": 200, "replay": 5}
    assert d.peer == "phone" and d.state == "WAIT_PHOTO"


def test_protocol_desktop_refuses_bad_requests_locally() -> None:
    """Our own mistakes raise LocalProtocolError at once instead of retransmitting forever."""
    from rig.errors import LocalProtocolError

    d = DesktopMachine(KEY, SESSION, initial_seq=1)
    for index, attempt, tag in [(-1, 1, ""), (0, 2**31, ""), (0, 1, "é"), (0, 1, "x" * 129)]:
        with pytest.raises(LocalProtocolError):
            d.request_capture(index, attempt, tag, 0.0)
    d.request_capture(0, 1, "ok", 0.0)
    with pytest.raises(LocalProtocolError, match="illegal in state WAIT_ACK"):
        d.request_capture(1, 1, "", 0.0)


def test_camera_failure_reason_always_fits_a_datagram() -> None:
    """A long non-ASCII reason would escape past 1160 body bytes; it is made printable first."""
    from rig.protocol import messages as m
    from rig.protocol.phone import printable_reason

    raw = "\u00e9" * 400  # 200 of these escape to 1200 bytes
    with pytest.raises(ValueError):
        m.encode(m.CameraFailedMsg(index=1, attempt=0, reason=raw[:200]), bytes(32), bytes(8), 1)
    reason = printable_reason(raw)
    assert len(reason) == 200 and reason.isascii()
    datagram = m.encode(m.CameraFailedMsg(index=1, attempt=0, reason=reason), bytes(32), bytes(8), 1)
    assert len(datagram) <= 1200
