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

    ``check`` says whether a seq would be fresh; ``accept`` records it. Callers check before
    verifying nothing else and accept only after the tag verified, so forged datagrams can
    never advance the window.
    """

    def __init__(self, highest: int = 0, bitmap: int = 0) -> None:
        self.highest = highest  # highest accepted seq (0 = none yet)
        self.bitmap = bitmap  # bit k set = seq (highest - k) was accepted, k in [0, 64)

    def check(self, seq: int) -> bool:
        if seq <= 0:
            return False
        if seq > self.highest:
            return True
        offset = self.highest - seq
        if offset >= WINDOW_BITS:
            return False
        return not (self.bitmap >> offset) & 1

    def accept(self, seq: int) -> None:
        if seq > self.highest:
            shift = seq - self.highest
            # Never shift by a huge amount: seqs jump by ~10^15 when a peer starts (time-based).
            kept = (self.bitmap << shift) if shift < WINDOW_BITS else 0
            self.bitmap = (kept | 1) & ((1 << WINDOW_BITS) - 1)
            self.highest = seq
        else:
            self.bitmap |= 1 << (self.highest - seq)
