"""The rig-controller line protocol: round trips, CRC, garbage, request matching."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rig.devices import controller_protocol as proto

token = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E,
                              blacklist_characters="*#"), min_size=1, max_size=12)
frames = st.builds(proto.Frame, seq=st.integers(0, proto.MAX_SEQ),
                   verb=st.sampled_from(proto.VERBS + proto.REPLIES),
                   args=st.lists(token, max_size=5).map(tuple))


def test_crc8_matches_the_published_check_value() -> None:
    # CRC-8/SMBUS catalogue check value: crc("123456789") = 0xF4.
    assert proto.crc8(b"123456789") == 0xF4


def test_encoding_follows_the_documented_example() -> None:
    line = proto.encode_frame(proto.Frame(12, "SET", ("light=dim",)))
    assert line.startswith(b"#12 SET light=dim*") and line.endswith(b"\n")
    assert int(line[-3:-1], 16) == proto.crc8(b"12 SET light=dim")


@given(frames)
def test_frames_round_trip(frame: proto.Frame) -> None:
    assert proto.parse_line(proto.encode_frame(frame)) == frame


@given(frames, st.data())
def test_any_single_corrupted_byte_is_rejected(frame: proto.Frame, data: st.DataObject) -> None:
    line = proto.encode_frame(frame)[:-1]
    i = data.draw(st.integers(0, len(line) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != line[i]))
    damaged = line[:i] + bytes([new]) + line[i + 1:]
    host = proto.HostProtocol()
    host.pending.add(frame.seq)
    assert proto.parse_line(damaged) is None
    assert host.receive(damaged + b"\n") == []


@given(st.binary(max_size=600))
def test_garbage_never_crashes_and_never_answers(garbage: bytes) -> None:
    host = proto.HostProtocol()
    for _ in range(3):
        host.request(proto.SET, "light=on")
    assert host.receive(garbage.replace(b"#", b"")) == []
    proto.DeviceModel().feed(garbage)  # the interpreter survives anything


@given(st.binary(max_size=300), st.binary(max_size=300))
@settings(max_examples=200)
def test_a_real_reply_survives_surrounding_garbage(before: bytes, after: bytes) -> None:
    host, device = proto.HostProtocol(), proto.DeviceModel()
    seq, request = host.request(proto.SET, "light=dim")
    reply = device.feed(request)
    # Noise ends with a newline before the reply (else it is part of the reply's line
    # and the reply is lost, which only costs a retry).
    replies = host.receive(before + b"\n" + reply + after)
    assert [(r.seq, r.ok, r.values) for r in replies] == [(seq, True, {"light": "dim"})]


def test_late_replies_to_forgotten_requests_are_dropped() -> None:
    host, device = proto.HostProtocol(), proto.DeviceModel()
    seq, request = host.request(proto.PING)
    host.forget(seq)  # timed out
    assert host.receive(device.feed(request)) == []
    assert host.dropped_lines == 1


def test_sequence_numbers_wrap_and_skip_zero() -> None:
    host = proto.HostProtocol(next_seq=proto.MAX_SEQ)
    assert [host.request(proto.PING)[0] for _ in range(3)] == [proto.MAX_SEQ, 1, 2]


def test_splitter_discards_overlong_lines_and_resynchronises() -> None:
    splitter = proto.LineSplitter(max_line_bytes=10)
    assert splitter.feed(b"x" * 25) == []
    assert splitter.feed(b"yy\nok\n") == [b"ok"]
    assert splitter.feed(b"par") == [] and splitter.feed(b"tial\n") == [b"partial"]


def _ask(device: proto.DeviceModel, verb: str, *args: str) -> proto.Frame:
    reply = proto.parse_line(device.feed(proto.encode_frame(proto.Frame(7, verb, args))))
    assert reply is not None and reply.seq == 7
    return reply


def test_device_sets_levels_all_or_nothing() -> None:
    device = proto.DeviceModel()
    assert _ask(device, "SET", "light=dim", "backlight=on").args == ("light=dim", "backlight=on")
    assert device.levels == {"light": 64, "ring": 0, "backlight": 1}
    refused = _ask(device, "SET", "ring=40", "light=300")
    assert refused.verb == "ERR" and refused.args[0] == proto.E_VALUE
    assert device.levels["ring"] == 0  # the good half of a bad request is not applied
    assert _ask(device, "SET", "fan=on").args[0] == proto.E_KEY


@pytest.mark.parametrize(("light", "ring"), [(0, 0), (64, 0), (255, 0), (0, 255), (255, 255)])
def test_sensor_reading_grows_with_the_lights(light: int, ring: int) -> None:
    device = proto.DeviceModel()
    dark = float(_ask(device, "READ").args[0].split("=")[1])
    _ask(device, "SET", f"light={light}", f"ring={ring}")
    lit = float(_ask(device, "READ").args[0].split("=")[1])
    assert (lit > dark) == (light + ring > 0)


def test_device_reports_damaged_lines_with_their_seq() -> None:
    reply = proto.parse_line(proto.DeviceModel().feed(b"#42 SET light=on*00\n"))
    assert reply == proto.Frame(42, "ERR", (proto.E_CHECKSUM, "bad-line"))


def test_fire_counts_pulses_and_bounds_the_width() -> None:
    device = proto.DeviceModel()
    assert _ask(device, "FIRE", "ms=50").args == ("ms=50", "count=1")
    assert _ask(device, "FIRE", "ms=99999").verb == "ERR"
    assert device.shutter_count == 1


def test_the_documented_example_lines_are_valid() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "rig-controller.md").read_text()
    lines = re.findall(r"(?:host → device|device → host)\s+(#\S+ [^\n]*)", doc)
    assert len(lines) == 2
    request, reply = (proto.parse_line(line.encode()) for line in lines)
    assert request == proto.Frame(12, "SET", ("light=dim",))
    assert reply == proto.Frame(12, "OK", ("light=dim",))
