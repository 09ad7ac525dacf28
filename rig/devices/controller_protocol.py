"""The rig-controller line protocol, sans I/O (docs/rig-controller.md).

Theory of operation: every frame is one ASCII line ``#<seq> <VERB> [arg ...]*<CC>\\n``
where ``CC`` is the CRC-8 (poly 0x07, init 0) of the bytes between ``#`` and ``*``,
as two upper-case hex digits. The host numbers its requests (1..65535, wrapping);
the device answers each with ``OK`` or ``ERR <code> <text>`` carrying the same
sequence number, and may send unsolicited ``EVT`` lines with seq 0.

Rules:
- Nothing here reads the clock or touches a port: bytes in, frames/replies out.
  Timeouts and retries belong to the adapter (``serial_controller``).
- A line that fails framing or the CRC is dropped, never half-understood, so
  garbage on the wire can only cost a retry, never produce a false ``OK``.
  CRC-8 catches every error burst of up to 8 bits, so any single corrupted byte
  of a line is always detected.
- The host accepts a reply only for a sequence number it is waiting for; a late
  reply to a request that already timed out is dropped.
- ``DeviceModel`` is the device side (the command interpreter) shared by the
  simulators and mirrored by the reference firmware.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

PROTOCOL_VERSION: Final = 1
MAX_LINE_BYTES: Final = 160  # longer lines are garbage (also the firmware's buffer size)
MAX_SEQ: Final = 0xFFFF
FIRMWARE_NAME: Final = "rig-sim"

# Verbs (host -> device) and reply kinds (device -> host).
HELLO, SET, GET, READ, FIRE, PING = "HELLO", "SET", "GET", "READ", "FIRE", "PING"
OK, ERR, EVT = "OK", "ERR", "EVT"
VERBS: Final = (HELLO, SET, GET, READ, FIRE, PING)
REPLIES: Final = (OK, ERR, EVT)

# Error codes (docs/rig-controller.md §4).
E_CHECKSUM, E_SYNTAX, E_VERB, E_KEY, E_VALUE = "CRC", "SYNTAX", "VERB", "KEY", "VALUE"

# Output channels: light and ring are PWM 0..255 (with named levels), backlight is a relay.
PWM_CHANNELS: Final = ("light", "ring")
RELAY_CHANNELS: Final = ("backlight",)
CHANNELS: Final = PWM_CHANNELS + RELAY_CHANNELS
NAMED_LEVELS: Final = {"off": 0, "dim": 64, "half": 128, "on": 255}
MAX_FIRE_MS: Final = 2000

_TOKEN = re.compile(rb"[!-~]+")  # printable ASCII without space; '*' and '#' excluded below
_SEQ = re.compile(rb"0|[1-9][0-9]{0,4}")
_CRC = re.compile(rb"[0-9A-F]{2}")


def crc8(data: bytes) -> int:
    """CRC-8/SMBUS (poly 0x07, init 0, no reflection): 10 lines on a microcontroller."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


@dataclass(frozen=True)
class Frame:
    """One protocol line: a request (verb) or a reply (OK/ERR/EVT) and its arguments."""

    seq: int
    verb: str
    args: tuple[str, ...] = ()


def _valid_token(token: str) -> bool:
    raw = token.encode("ascii", "replace")
    return bool(_TOKEN.fullmatch(raw)) and b"*" not in raw and b"#" not in raw


def encode_frame(frame: Frame) -> bytes:
    """``Frame`` -> one line with its CRC; refuses anything that would not parse back."""
    if not 0 <= frame.seq <= MAX_SEQ:
        raise ValueError(f"seq {frame.seq} out of range 0..{MAX_SEQ}")
    if not all(_valid_token(t) for t in (frame.verb, *frame.args)):
        raise ValueError(f"frame tokens must be printable ASCII without '*', '#', space: {frame}")
    body = " ".join((str(frame.seq), frame.verb, *frame.args)).encode("ascii")
    line = b"#" + body + b"*" + f"{crc8(body):02X}".encode() + b"\n"
    if len(line) > MAX_LINE_BYTES:
        raise ValueError(f"frame longer than {MAX_LINE_BYTES} bytes")
    return line


def parse_line(line: bytes) -> Frame | None:
    """One line (without or with its ``\\n``/``\\r\\n``) -> ``Frame``, or None if invalid."""
    line = line.rstrip(b"\r\n")
    if len(line) > MAX_LINE_BYTES or not line.startswith(b"#"):
        return None
    body, star, crc = line[1:].rpartition(b"*")
    if not star or not _CRC.fullmatch(crc) or int(crc, 16) != crc8(body):
        return None
    parts = body.split(b" ")
    if len(parts) < 2 or not _SEQ.fullmatch(parts[0]) or int(parts[0]) > MAX_SEQ:
        return None
    if not all(_TOKEN.fullmatch(p) and b"*" not in p and b"#" not in p for p in parts[1:]):
        return None
    return Frame(int(parts[0]), parts[1].decode(), tuple(p.decode() for p in parts[2:]))


@dataclass
class LineSplitter:
    """Bytes in, complete lines out; overlong runs are discarded up to the next newline."""

    max_line_bytes: int = MAX_LINE_BYTES
    _buffer: bytearray = field(default_factory=bytearray)
    _discarding: bool = False

    def feed(self, data: bytes) -> list[bytes]:
        lines: list[bytes] = []
        for chunk in data.split(b"\n")[:-1] if b"\n" in data else []:
            lines.extend(self._finish(chunk))
        tail = data.rsplit(b"\n", 1)[-1]
        if not self._discarding:
            self._buffer += tail
            if len(self._buffer) > self.max_line_bytes:
                self._buffer.clear()
                self._discarding = True
        return lines

    def _finish(self, chunk: bytes) -> list[bytes]:
        self._buffer += chunk
        done = bytes(self._buffer)
        self._buffer.clear()
        was_discarding, self._discarding = self._discarding, False
        if was_discarding or len(done) > self.max_line_bytes:
            return []
        return [done]


def parse_pairs(args: tuple[str, ...]) -> dict[str, str]:
    """``("light=dim", "ring=40")`` -> ``{"light": "dim", "ring": "40"}``; bad tokens skipped."""
    out: dict[str, str] = {}
    for arg in args:
        key, eq, value = arg.partition("=")
        if eq and key and value:
            out[key] = value
    return out


@dataclass(frozen=True)
class Reply:
    """A device reply matched to the request that is waiting for it."""

    seq: int
    ok: bool
    args: tuple[str, ...]

    @property
    def values(self) -> dict[str, str]:
        return parse_pairs(self.args)

    @property
    def error(self) -> str:
        """``"CODE text"`` of an ERR reply (empty for OK)."""
        return "" if self.ok else " ".join(self.args)


@dataclass
class HostProtocol:
    """The host side: numbers requests, matches replies, counts what it dropped."""

    next_seq: int = 1
    pending: set[int] = field(default_factory=set)
    dropped_lines: int = 0
    events: list[Frame] = field(default_factory=list)
    _splitter: LineSplitter = field(default_factory=LineSplitter)

    def request(self, verb: str, *args: str) -> tuple[int, bytes]:
        """A new request: its sequence number and the bytes to send."""
        seq = self.next_seq
        self.next_seq = seq % MAX_SEQ + 1  # 1..65535; 0 is reserved for unsolicited events
        self.pending.add(seq)
        return seq, encode_frame(Frame(seq, verb, args))

    def forget(self, seq: int) -> None:
        """Stop waiting for ``seq`` (it timed out); a late reply to it will be dropped."""
        self.pending.discard(seq)

    def receive(self, data: bytes) -> list[Reply]:
        """Bytes from the device -> replies to pending requests (everything else dropped)."""
        replies = []
        for line in self._splitter.feed(data):
            frame = parse_line(line)
            if frame is not None and frame.verb == EVT and frame.seq == 0:
                self.events.append(frame)
            elif frame is None or frame.verb not in (OK, ERR) or frame.seq not in self.pending:
                self.dropped_lines += 1
            else:
                self.pending.discard(frame.seq)
                replies.append(Reply(frame.seq, frame.verb == OK, frame.args))
        return replies


def parse_level(channel: str, value: str) -> int | None:
    """A channel value -> its output level (PWM 0..255, relay 0/1); None if invalid."""
    if channel in RELAY_CHANNELS:
        return {"off": 0, "on": 1, "0": 0, "1": 1}.get(value)
    if value in NAMED_LEVELS:
        return NAMED_LEVELS[value]
    if value.isdigit() and len(value) <= 3 and int(value) <= 255:
        return int(value)
    return None


def level_name(channel: str, level: int) -> str:
    """The canonical spelling of a level, as the device reports it."""
    if channel in RELAY_CHANNELS:
        return "on" if level else "off"
    names = {v: k for k, v in NAMED_LEVELS.items()}
    return names.get(level, str(level))


@dataclass
class DeviceModel:
    """The device side: interprets request lines and keeps the output state.

    The ambient sensor is modelled as a fixed room level plus a contribution per
    channel, so a simulated sweep has a measurable effect.
    """

    firmware: str = f"{FIRMWARE_NAME}/1.0"
    levels: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHANNELS, 0))
    shutter_count: int = 0
    base_lux: float = 12.0
    _splitter: LineSplitter = field(default_factory=LineSplitter)

    def feed(self, data: bytes) -> bytes:
        """Bytes from the host -> the reply bytes to send back (possibly empty)."""
        return b"".join(self.handle_line(line) for line in self._splitter.feed(data))

    def handle_line(self, line: bytes) -> bytes:
        line = line.rstrip(b"\r")
        if not line.strip():
            return b""
        frame = parse_line(line)
        if frame is None:
            return self._reject(line)
        if frame.seq == 0 or frame.verb not in VERBS:
            return self._reply(frame.seq, ERR, E_VERB, "unknown-verb")
        ok, args = self._execute(frame)
        return self._reply(frame.seq, OK if ok else ERR, *args)

    def lux(self) -> float:
        lv = self.levels
        return round(self.base_lux + 380.0 * lv["light"] / 255 + 90.0 * lv["ring"] / 255
                     + 15.0 * lv["backlight"], 1)

    def state_args(self) -> tuple[str, ...]:
        return tuple(f"{c}={level_name(c, self.levels[c])}" for c in CHANNELS)

    def _execute(self, frame: Frame) -> tuple[bool, tuple[str, ...]]:
        if frame.verb == HELLO:
            return True, (f"fw={self.firmware}", f"proto={PROTOCOL_VERSION}",
                          f"channels={','.join(CHANNELS)}", "sensor=lux")
        if frame.verb == SET:
            return self._set(frame.args)
        if frame.verb == GET:
            return True, self.state_args()
        if frame.verb == READ:
            return True, (f"lux={self.lux():.1f}",)
        if frame.verb == FIRE:
            return self._fire(frame.args)
        return True, ()  # PING

    def _set(self, args: tuple[str, ...]) -> tuple[bool, tuple[str, ...]]:
        if not args:
            return False, (E_SYNTAX, "nothing-to-set")
        changes: dict[str, int] = {}
        for arg in args:
            key, eq, value = arg.partition("=")
            if not eq or key not in CHANNELS:
                return False, (E_KEY, f"unknown-channel:{key[:20]}")
            level = parse_level(key, value)
            if level is None:
                return False, (E_VALUE, f"bad-level:{key}")
            changes[key] = level
        self.levels.update(changes)  # all or nothing: a bad pair changes nothing
        return True, tuple(f"{k}={level_name(k, v)}" for k, v in changes.items())

    def _fire(self, args: tuple[str, ...]) -> tuple[bool, tuple[str, ...]]:
        pulse = parse_pairs(args).get("ms", "100")
        if not pulse.isdigit() or not 1 <= int(pulse) <= MAX_FIRE_MS:
            return False, (E_VALUE, f"ms-must-be-1..{MAX_FIRE_MS}")
        self.shutter_count += 1
        return True, (f"ms={int(pulse)}", f"count={self.shutter_count}")

    def _reject(self, line: bytes) -> bytes:
        # A damaged line still says which request it was, if its seq survived: the host
        # can retry at once instead of waiting for its timeout.
        # Lines that do not even start with '#' are line noise and get no answer.
        if not line.startswith(b"#"):
            return b""
        match = re.match(rb"#(0|[1-9][0-9]{0,4}) ", line)
        seq = int(match.group(1)) if match else 0
        return self._reply(seq if seq <= MAX_SEQ else 0, ERR, E_CHECKSUM, "bad-line")

    @staticmethod
    def _reply(seq: int, verb: str, *args: str) -> bytes:
        return encode_frame(Frame(seq, verb, args))
