"""Authentication for the capture protocol: HMAC tags and the anti-replay window.

docs/protocol.md §4.1 (datagram tag), §4.6 (sequence numbers and replay), §5 (upload auth).
Pure functions and one small class; no I/O, no clock.
"""

from __future__ import annotations

import hashlib
import hmac

TAG_LEN = 16  # bytes of HMAC-SHA256 kept in a datagram (128-bit security against forgery)
KEY_LEN = 32
WINDOW_BITS = 64
MAX_AHEAD = 2**40  # µs ≈ 12.7 days: how far ahead of the window an authentic seq may jump


def datagram_tag(key: bytes, signed: bytes) -> bytes:
    """The truncated HMAC-SHA256 tag over header + body (§4.1)."""
    return hmac.new(key, signed, hashlib.sha256).digest()[:TAG_LEN]


def tags_equal(a: bytes, b: bytes) -> bool:
    """Constant-time comparison, so timing does not leak how much of a forged tag matched."""
    return hmac.compare_digest(a, b)


def upload_auth(
    key: bytes, session: bytes, index: int, attempt: int, sha256: str, size: int
) -> str:
    """Hex HMAC binding an upload to (session, index, attempt, sha256, size) (§5)."""
    text = f"rig1-upload\n{session.hex()}\n{index}\n{attempt}\n{sha256}\n{size}"
    return hmac.new(key, text.encode("ascii"), hashlib.sha256).hexdigest()


def tap_auth(key: bytes, session: bytes, index: int, attempt: int) -> str:
    """Hex HMAC authorising a simulation screen-tap request (§5)."""
    text = f"rig1-tap\n{session.hex()}\n{index}\n{attempt}"
    return hmac.new(key, text.encode("ascii"), hashlib.sha256).hexdigest()


def hex_equal(a: str, b: str) -> bool:
    """Constant-time comparison of two hex strings (case-sensitive, lowercase expected)."""
    return hmac.compare_digest(a.encode("ascii", "replace"), b.encode("ascii", "replace"))


class ReplayWindow:
    """Sliding window over a peer's sequence numbers (§4.6), as in IPsec / DTLS.

    ``verdict`` says whether a seq would be fresh (None) or why not (``replay`` / ``ahead``);
    ``accept`` records it. Callers accept only after every receive check passed, so neither
    forged nor malformed datagrams ever move the window.

    ``floor`` is the receiver's own time-based seq (Unix µs) when it has a clock, else 0: a seq
    more than ``MAX_AHEAD`` above ``max(highest, floor)`` is dropped as ``ahead``, so one keyed
    datagram with seq 2^64-1 cannot lock the real peer out (v1.1).
    """

    def __init__(self, highest: int = 0, bitmap: int = 0, floor: int = 0) -> None:
        self.highest = highest  # highest accepted seq (0 = none yet)
        self.bitmap = bitmap  # bit k set = seq (highest - k) was accepted, k in [0, 64)
        self.floor = floor

    @classmethod
    def restored(cls, highest: int, floor: int = 0) -> ReplayWindow:
        """The window after a restart from a persisted ``highest`` (§4.6).

        Every seq up to ``highest`` counts as seen (the bitmap was not persisted). A persisted
        value more than ``MAX_AHEAD`` above ``floor`` cannot come from an honest peer (whose
        seqs follow its clock): it is re-based to an empty window.
        """
        if highest <= 0 or (floor and highest > floor + MAX_AHEAD):
            return cls(0, 0, floor)
        return cls(highest, (1 << WINDOW_BITS) - 1, floor)

    def verdict(self, seq: int) -> str | None:
        """None if ``seq`` is fresh; ``'replay'`` or ``'ahead'`` otherwise."""
        if seq <= 0:
            return "replay"
        if seq > self.highest:
            return "ahead" if seq - max(self.highest, self.floor) > MAX_AHEAD else None
        offset = self.highest - seq
        if offset >= WINDOW_BITS or (self.bitmap >> offset) & 1:
            return "replay"
        return None

    def check(self, seq: int) -> bool:
        return self.verdict(seq) is None

    def accept(self, seq: int) -> None:
        if seq > self.highest:
            shift = seq - self.highest
            # Never shift by a huge amount: seqs jump by ~10^15 when a peer starts (time-based).
            kept = (self.bitmap << shift) if shift < WINDOW_BITS else 0
            self.bitmap = (kept | 1) & ((1 << WINDOW_BITS) - 1)
            self.highest = seq
        else:
            self.bitmap |= 1 << (self.highest - seq)
