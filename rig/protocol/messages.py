"""Capture-protocol datagrams: typed messages, canonical encoding, checked decoding.

Byte layout, field types and the order of receive checks are specified in docs/protocol.md
§4 (version 1.1); this module is its executable form and ``tests/vectors/`` its golden output.
Decoding never raises anything but ``Rejected`` (carrying the drop reason), whatever the input;
encoding refuses (``ValueError``) anything a receiver would reject.
"""

from __future__ import annotations

import json
import re
import struct
from collections import Counter
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

from rig.protocol.auth import TAG_LEN, ReplayWindow, datagram_tag, tags_equal

MAGIC = b"RG"
VERSION = 1  # the major version: the header byte and the pairing URI's v
MINOR = 2  # this implementation's minor version, negotiated in HELLO / HELLO_ACK (§7.4)
PIPELINE_MINOR = 2  # from this minor on the desktop may pipeline captures (§6.4)
HEADER = struct.Struct(
    ">2sBBBBH8sQ"
)  # magic, version, type, flags, reserved, body_len, session, seq
HEADER_LEN = HEADER.size  # 24
MAX_DATAGRAM = 1200
MAX_BODY = MAX_DATAGRAM - HEADER_LEN - TAG_LEN  # 1160
SESSION_LEN = 8
ROLE_DESKTOP = 0
ROLE_PHONE = 1
FLAG_ROLE = 0x01
MAX_INDEX = 2**31 - 1
MAX_SEQ = 2**64 - 1

ERR_GAP = 1
ERR_BUSY = 2
ERR_BAD_REQUEST = 3
ST_SHOOTING, ST_SAVED, ST_FAILED = 0, 1, 2

REASONS = (
    "short", "oversize", "magic", "version", "malformed", "session", "mac", "role", "type",
    "replay", "ahead",
)  # fmt: skip

_SHA_RE = re.compile(r"[0-9a-f]{64}")
_SAFE_TAG_RE = re.compile(r"(?:[A-Za-z0-9_-][A-Za-z0-9._-]{0,127})?")
MAX_TAG = 128
MAX_REASON = 200


class Rejected(Exception):
    """A datagram was dropped; ``reason`` is one of ``REASONS`` (docs/protocol.md §4.4)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Field kinds: name -> (min, max) for ints, or a validator tag for strings.
_INT_RANGES: dict[str, tuple[int, int]] = {
    "index": (0, MAX_INDEX),
    "attempt": (0, MAX_INDEX),
    "next": (-1, MAX_INDEX),
    "cursor": (-1, MAX_INDEX),
    "nonce": (0, 2**32 - 1),
    "size": (1, MAX_INDEX),
    "code": (0, 255),
    "state": (0, 255),
    "minor": (0, 255),
    "shot_s": (1, 3600),
}


def _valid_str(name: str, value: str) -> bool:
    if name == "sha256":
        return _SHA_RE.fullmatch(value) is not None
    if name == "tag":
        return len(value) <= MAX_TAG and all(32 <= ord(c) < 127 for c in value)
    if name == "reason":  # code points, any Unicode scalar value (no lone surrogates)
        return len(value) <= MAX_REASON and not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    return False


def valid_tag(tag: str) -> bool:
    """Whether a v1.1 desktop may send ``tag`` in a CAPTURE (§4.2): empty, or up to 128
    characters of ``A-Z a-z 0-9 . _ -`` not starting with ``.``, so it is a safe file name."""
    return _SAFE_TAG_RE.fullmatch(tag) is not None


def safe_tag(tag: str) -> str:
    """A file-name-safe form of any received tag (§4.3): v1.0 desktops may send ``/`` or ``..``.

    Every character outside ``A-Z a-z 0-9 . _ -`` becomes ``_``, and so does a leading ``.``;
    an already safe tag is returned unchanged.
    """
    out = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in tag)
    return ("_" + out[1:] if out.startswith(".") else out)[:MAX_TAG]


@dataclass(frozen=True)
class Message:
    """Base of all message types; subclasses set TYPE and SENDER.

    Fields named in OPTIONAL were added in v1.1: None means absent (a v1.0 body), and they are
    left out of the encoded body then, so a v1.0 peer sees exactly the v1.0 bytes.
    """

    TYPE: ClassVar[int] = 0
    SENDER: ClassVar[int] = ROLE_DESKTOP
    OPTIONAL: ClassVar[frozenset[str]] = frozenset()

    def body(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class Hello(Message):
    TYPE: ClassVar[int] = 0x01
    SENDER: ClassVar[int] = ROLE_PHONE
    OPTIONAL: ClassVar[frozenset[str]] = frozenset({"minor", "shot_s"})
    cursor: int
    nonce: int
    minor: int | None = None  # v1.1: the phone's minor version
    shot_s: int | None = None  # v1.1: the phone's camera timeout, s (the desktop waits longer)


@dataclass(frozen=True)
class HelloAck(Message):
    TYPE: ClassVar[int] = 0x02
    SENDER: ClassVar[int] = ROLE_DESKTOP
    OPTIONAL: ClassVar[frozenset[str]] = frozenset({"minor"})
    nonce: int
    next: int
    minor: int | None = None  # v1.1: the agreed minor version (only to a HELLO that had one)


@dataclass(frozen=True)
class Capture(Message):
    TYPE: ClassVar[int] = 0x03
    SENDER: ClassVar[int] = ROLE_DESKTOP
    index: int
    attempt: int
    tag: str


@dataclass(frozen=True)
class CaptureAck(Message):
    TYPE: ClassVar[int] = 0x04
    SENDER: ClassVar[int] = ROLE_PHONE
    index: int
    attempt: int
    state: int


@dataclass(frozen=True)
class PhotoReady(Message):
    TYPE: ClassVar[int] = 0x05
    SENDER: ClassVar[int] = ROLE_PHONE
    index: int
    attempt: int
    sha256: str
    size: int


@dataclass(frozen=True)
class CameraFailedMsg(Message):
    TYPE: ClassVar[int] = 0x06
    SENDER: ClassVar[int] = ROLE_PHONE
    index: int
    attempt: int
    reason: str


@dataclass(frozen=True)
class Stored(Message):
    TYPE: ClassVar[int] = 0x07
    SENDER: ClassVar[int] = ROLE_DESKTOP
    index: int
    attempt: int
    sha256: str


@dataclass(frozen=True)
class Error(Message):
    TYPE: ClassVar[int] = 0x08
    SENDER: ClassVar[int] = ROLE_PHONE
    code: int
    index: int
    attempt: int
    cursor: int


@dataclass(frozen=True)
class Resync(Message):
    TYPE: ClassVar[int] = 0x09
    SENDER: ClassVar[int] = ROLE_DESKTOP
    next: int


@dataclass(frozen=True)
class ResyncAck(Message):
    TYPE: ClassVar[int] = 0x0A
    SENDER: ClassVar[int] = ROLE_PHONE
    next: int


@dataclass(frozen=True)
class Bye(Message):
    """v1.1: the session is over (for now); the phone stops its keepalives (§7.5)."""

    TYPE: ClassVar[int] = 0x0B
    SENDER: ClassVar[int] = ROLE_DESKTOP
    reason: str


@dataclass(frozen=True)
class ByeAck(Message):
    """v1.1: the phone's answer to every BYE (empty body)."""

    TYPE: ClassVar[int] = 0x0C
    SENDER: ClassVar[int] = ROLE_PHONE


MESSAGE_TYPES: dict[int, type[Message]] = {
    cls.TYPE: cls
    for cls in (
        Hello,
        HelloAck,
        Capture,
        CaptureAck,
        PhotoReady,
        CameraFailedMsg,
        Stored,
        Error,
        Resync,
        ResyncAck,
        Bye,
        ByeAck,
    )
}
V11_TYPES = frozenset({Bye.TYPE, ByeAck.TYPE})  # never sent to a peer that did not say minor >= 1


def canonical_json(obj: dict[str, Any]) -> bytes:
    """The canonical body encoding of docs/protocol.md §4.2."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _check_fields(msg: Message) -> None:
    """Refuse to send what a receiver must reject (an encoder never emits a malformed body)."""
    for name, value in msg.body().items():
        ok = (
            type(value) is int and _INT_RANGES[name][0] <= value <= _INT_RANGES[name][1]
            if name in _INT_RANGES
            else type(value) is str and _valid_str(name, value)
        )
        if not ok:
            raise ValueError(f"{type(msg).__name__}: field '{name}' is invalid: {value!r:.40}")


def encode(msg: Message, key: bytes, session: bytes, seq: int) -> bytes:
    """Serialise and authenticate ``msg`` as one datagram (§4.1)."""
    _check_fields(msg)
    body = canonical_json(msg.body())
    if len(body) > MAX_BODY:
        raise ValueError(f"body of {type(msg).__name__} is {len(body)} bytes > {MAX_BODY}")
    if len(session) != SESSION_LEN or not 1 <= seq <= MAX_SEQ:
        raise ValueError("session must be 8 bytes and seq in [1, 2^64-1]")
    flags = FLAG_ROLE if msg.SENDER == ROLE_PHONE else 0
    header = HEADER.pack(MAGIC, VERSION, msg.TYPE, flags, 0, len(body), session, seq)
    signed = header + body
    return signed + datagram_tag(key, signed)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate key")  # §4.2: a repeated key is malformed (v1.1)
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN / Infinity: Python-only extensions


def _no_lone_surrogate(value: Any) -> bool:
    """Every string (keys too) is valid Unicode: no unpaired ``\\udXXX`` escapes."""
    if isinstance(value, str):
        return not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, dict):
        return all(_no_lone_surrogate(k) and _no_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_no_lone_surrogate(v) for v in value)
    return True


def parse_body(body: bytes) -> dict[str, Any]:
    """The strict RFC 8259 object of §4.2 (v1.1): UTF-8, no duplicate keys, no NaN/Infinity,
    no lone surrogates; ``Rejected('malformed')`` otherwise."""
    try:
        obj = json.loads(
            body.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_no_constant
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Rejected("malformed") from None
    if not isinstance(obj, dict) or not _no_lone_surrogate(obj):
        raise Rejected("malformed")
    return obj


def decode_body(cls: type[Message], body: bytes) -> Message:
    """Parse and validate a body for message class ``cls``; ``Rejected('malformed')`` if bad."""
    try:
        obj = parse_body(body)
    except RecursionError:
        raise Rejected("malformed") from None
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        value = obj.get(f.name)
        if value is None and f.name in cls.OPTIONAL and f.name not in obj:
            kwargs[f.name] = None
            continue
        if f.name in _INT_RANGES:
            lo, hi = _INT_RANGES[f.name]
            if type(value) is not int or not lo <= value <= hi:
                raise Rejected("malformed")
        elif type(value) is not str or not _valid_str(f.name, value):
            raise Rejected("malformed")
        kwargs[f.name] = value
    return cls(**kwargs)


@dataclass
class Codec:
    """One side's datagram codec: seals outgoing, opens and counts incoming (§4.4).

    ``role`` is our own role; ``next_seq`` must start above every seq ever sent under this key
    (the adapter passes ``max(persisted mark, unix time in µs)``, §4.6).
    """

    key: bytes
    session: bytes
    role: int
    next_seq: int = 1
    window: ReplayWindow | None = None
    rejected: Counter[str] | None = None
    last_was_newest: bool = False  # the last opened datagram had the highest seq so far
    last_seq: int = 0  # seq of the last opened datagram

    def __post_init__(self) -> None:
        self.window = self.window or ReplayWindow()
        self.rejected = self.rejected if self.rejected is not None else Counter()

    def seal(self, msg: Message) -> bytes:
        if self.role != msg.SENDER:
            raise ValueError(f"{type(msg).__name__} is not sent by this role")
        data = encode(msg, self.key, self.session, self.next_seq)
        self.next_seq += 1
        return data

    def open(self, data: bytes) -> Message | None:
        """The authenticated message in ``data``, or None (reason counted in ``rejected``)."""
        assert self.window is not None and self.rejected is not None
        try:
            msg, seq = open_datagram(data, self.key, self.session, self.role, self.window)
        except Rejected as exc:
            self.rejected[exc.reason] += 1
            return None
        self.last_was_newest = seq > self.window.highest
        self.last_seq = seq
        self.window.accept(seq)
        return msg


def open_datagram(
    data: bytes, key: bytes, session: bytes, own_role: int, window: ReplayWindow | None
) -> tuple[Message, int]:
    """Run the receive checks of §4.4 in order; returns (message, seq) or raises Rejected."""
    n = len(data)
    if n < HEADER_LEN + TAG_LEN:
        raise Rejected("short")
    if n > MAX_DATAGRAM:
        raise Rejected("oversize")
    magic, version, mtype, flags, reserved, body_len, sess, seq = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise Rejected("magic")
    if version != VERSION:
        raise Rejected("version")
    if HEADER_LEN + body_len + TAG_LEN != n or reserved != 0 or flags & ~FLAG_ROLE:
        raise Rejected("malformed")
    if sess != session:
        raise Rejected("session")
    signed, tag = data[:-TAG_LEN], data[-TAG_LEN:]
    if not tags_equal(datagram_tag(key, signed), tag):
        raise Rejected("mac")
    sender = ROLE_PHONE if flags & FLAG_ROLE else ROLE_DESKTOP
    if sender == own_role:
        raise Rejected("role")
    cls = MESSAGE_TYPES.get(mtype)
    if cls is None:
        raise Rejected("type")
    if sender != cls.SENDER:
        raise Rejected("role")
    verdict = window.verdict(seq) if window is not None else None
    if verdict is not None:
        raise Rejected(verdict)  # replay, or too far ahead (§4.6)
    return decode_body(cls, data[HEADER_LEN : HEADER_LEN + body_len]), seq
