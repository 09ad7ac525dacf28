"""CheXpeditor (Stanford CheXphoto rig) wire format and both sides' decisions, sans I/O.

Wire format, as in the original client (docs/protocol.md §10): the desktop sends the UDP
datagram ``"<seq>|<name>"`` to the phone app (port 4445), ``name = "<seq>__<nonce>__<parts>"``
with a nonce in 0..100 (Android caches photos by file name) and the CSV path parts joined by
``__``; the app answers ``"OK|<name>"`` after saving the JPEG under ``name``, or ``"MISMATCH"``
when ``seq`` is not the one it expects. The app increments its expected seq *before* shooting.
No authentication: use only with ``--insecure-chexpeditor``.

Name parts must not carry patient identifiers: rig passes pseudonymous item names.
"""

from __future__ import annotations

from dataclasses import dataclass

from rig.errors import RemoteProtocolError

DEFAULT_PORT = 4445
MAX_NONCE = 100
REPLY_OK = "OK"
REPLY_MISMATCH = "MISMATCH"
SEP = "__"


def make_name(seq: int, nonce: int, parts: tuple[str, ...]) -> str:
    if not 0 <= nonce <= MAX_NONCE or seq < 0:
        raise ValueError("seq must be >= 0 and nonce in 0..100")
    if any(SEP in p or "|" in p or "/" in p or not p for p in parts):
        raise ValueError("name parts must be non-empty and free of '__', '|' and '/'")
    return SEP.join([str(seq), str(nonce), *parts])


def parse_name(name: str) -> tuple[int, int, tuple[str, ...]]:
    """(seq, nonce, path parts) of a CheXpeditor file name."""
    fields = name.split(SEP)
    if len(fields) < 3 or not fields[0].isdigit() or not fields[1].isdigit():
        raise RemoteProtocolError(f"chexpeditor: malformed name '{name[:60]}'")
    if any(not p or p in (".", "..") for p in fields[2:]):
        raise RemoteProtocolError("chexpeditor: name has an empty or relative path part")
    return int(fields[0]), int(fields[1]), tuple(fields[2:])


def encode_request(seq: int, name: str) -> bytes:
    return f"{seq}|{name}".encode()


def parse_request(data: bytes) -> tuple[int, str]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise RemoteProtocolError("chexpeditor: request is not UTF-8") from None
    seq_text, sep, name = text.partition("|")
    if not sep or not seq_text.isdigit() or "|" in name or "/" in name or "\x00" in name:
        raise RemoteProtocolError("chexpeditor: request is not '<seq>|<name>'")
    parse_name(name)
    return int(seq_text), name


def encode_ok(name: str) -> bytes:
    return f"{REPLY_OK}|{name}".encode()


def parse_reply(data: bytes) -> tuple[str, str]:
    """('ok', name) | ('mismatch', '') | ('other', text)."""
    text = data.decode("utf-8", "replace")
    if text.startswith(REPLY_OK + "|"):
        return "ok", text.split("|", 1)[1]
    if text == REPLY_MISMATCH:
        return "mismatch", ""
    return "other", text[:80]


@dataclass
class PhoneAppState:
    """The original app's rule: shoot only the expected seq, and count it before shooting."""

    expected: int

    def on_request(self, seq: int) -> bool:
        """True = shoot now (and the expected seq has moved on); False = answer MISMATCH."""
        if seq != self.expected:
            return False
        self.expected += 1
        return True


@dataclass
class DriverState:
    """The desktop driver's decision for one item, made more robust than the original client.

    A timeout resends the very same datagram. A MISMATCH after a resend means the app already
    counted (and shot) this seq and its OK was lost: the photo exists under ``name``, so the item
    is done (the original client skipped it and aborted on a second one). A MISMATCH on a first
    send means the app expects another row: only the operator can fix that (restart the app at
    the right row), so it is an error, never a silent skip.
    """

    resent: bool = False

    def on_timeout(self) -> str:
        self.resent = True
        return "resend"

    def on_reply(self, kind: str) -> str:
        if kind == "ok":
            return "done"
        if kind == "mismatch" and self.resent:
            return "done_unconfirmed"
        return "error"
