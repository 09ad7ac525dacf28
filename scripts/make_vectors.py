#!/usr/bin/env python3
"""Write tests/vectors/datagrams.json: golden capture-protocol datagrams (docs/protocol.md §4).

Every entry has the key and session (hex), the sender role, seq, message type and fields, the
exact datagram bytes (hex), and what a receiver must do with it: ``accept`` or ``reject`` with
the reason. Forged, replayed, truncated, oversize and malformed datagrams are included and
marked. Python and the Java companion app both check against this file.

Usage: .venv/bin/python scripts/make_vectors.py [OUT.json]
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from rig.protocol import messages as m
from rig.protocol.auth import datagram_tag

KEY = bytes(range(32))
SESSION = bytes.fromhex("0123456789abcdef")
SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

VALID: list[m.Message] = [
    m.Hello(cursor=-1, nonce=1),
    m.Hello(cursor=42, nonce=4294967295),
    m.HelloAck(nonce=1, next=0),
    m.Capture(index=7, attempt=0, tag="s1-000007"),
    m.Capture(index=2147483647, attempt=3, tag=""),
    m.CaptureAck(index=7, attempt=0, state=m.ST_SHOOTING),
    m.PhotoReady(index=7, attempt=0, sha256=SHA, size=123456),
    m.CameraFailedMsg(index=7, attempt=1, reason="focus failed \u00e9"),
    m.Stored(index=7, attempt=0, sha256=SHA),
    m.Error(code=m.ERR_GAP, index=9, attempt=0, cursor=8),
    m.Resync(next=9),
    m.ResyncAck(next=9),
]


def _entry(name: str, data: bytes, role: int, expect: str, **extra: object) -> dict[str, object]:
    return {
        "name": name,
        "key_hex": KEY.hex(),
        "session_hex": SESSION.hex(),
        "receiver_role": "desktop" if role == m.ROLE_DESKTOP else "phone",
        "datagram_hex": data.hex(),
        "expect": expect,
        **extra,
    }


def _reseal(body_or_header: bytes) -> bytes:
    return body_or_header + datagram_tag(KEY, body_or_header)


def make() -> dict[str, object]:
    vectors = []
    seq = 1
    for msg in VALID:
        data = m.encode(msg, KEY, SESSION, seq)
        receiver = m.ROLE_DESKTOP if msg.SENDER == m.ROLE_PHONE else m.ROLE_PHONE
        vectors.append(
            _entry(
                f"valid-{type(msg).__name__}-{seq}",
                data,
                receiver,
                "accept",
                seq=seq,
                type=msg.TYPE,
                message=type(msg).__name__,
                fields=asdict(msg),
            )
        )
        seq += 1
    cap = m.encode(m.Capture(index=7, attempt=0, tag="s1-000007"), KEY, SESSION, 100)
    body = cap[m.HEADER_LEN : -16]
    header = bytearray(cap[: m.HEADER_LEN])
    bad: list[tuple[str, bytes, str]] = [
        ("forged-tag", cap[:-1] + bytes([cap[-1] ^ 1]), "mac"),
        ("forged-wrong-key", m.encode(m.Capture(7, 0, "x"), bytes(32), SESSION, 101), "mac"),
        ("other-session", m.encode(m.Capture(7, 0, "x"), KEY, bytes(8), 102), "session"),
        ("truncated", cap[:30], "short"),
        ("length-mismatch", cap + b"\x00", "malformed"),
        ("oversize", cap + bytes(1200), "oversize"),
        ("bad-magic", b"XX" + cap[2:], "magic"),
        ("bad-version", cap[:2] + b"\x02" + cap[3:], "version"),
        ("reflected-role", _reseal(bytes(header[:4]) + b"\x01" + bytes(header[5:]) + body), "role"),
        ("unknown-type", _reseal(bytes(header[:3]) + b"\x7f" + bytes(header[4:]) + body), "type"),
        ("empty-datagram", b"", "short"),
    ]
    for name, data, reason in bad:
        vectors.append(_entry(name, data, m.ROLE_PHONE, "reject", reason=reason))
    bad_bodies = [
        ("body-not-json", b"{not json"),
        ("body-array", b"[1,2]"),
        ("body-missing-field", b'{"attempt":0,"index":7}'),
        ("body-bool-as-int", b'{"attempt":false,"index":7,"tag":"x"}'),
        ("body-negative-index", b'{"attempt":0,"index":-1,"tag":"x"}'),
        ("body-tag-control-char", b'{"attempt":0,"index":7,"tag":"a\\n"}'),
    ]
    for i, (name, raw) in enumerate(bad_bodies):
        hdr = m.HEADER.pack(m.MAGIC, m.VERSION, m.Capture.TYPE, 0, 0, len(raw), SESSION, 200 + i)
        vectors.append(_entry(name, _reseal(hdr + raw), m.ROLE_PHONE, "reject", reason="malformed"))
    # A replay sequence: fed in order to one fresh receiver, with the expected outcome each.
    seqs = [5, 6, 6, 4, 70, 5, 6, 7, 71]
    stream = []
    for s in seqs:
        stream.append(m.encode(m.Capture(index=s, attempt=0, tag=""), KEY, SESSION, s).hex())
    outcomes = [
        "accept",
        "accept",
        "replay",
        "accept",
        "accept",
        "replay",  # 5: 65 below the top (70), outside the 64-wide window
        "replay",  # 6: 64 below the top, just outside
        "accept",  # 7: 63 below the top, inside and never seen
        "accept",
    ]
    return {
        "protocol": "rig capture protocol v1 (docs/protocol.md)",
        "tag_len": 16,
        "vectors": vectors,
        "replay_sequence": {
            "key_hex": KEY.hex(),
            "session_hex": SESSION.hex(),
            "receiver_role": "phone",
            "window_bits": 64,
            "datagrams_hex": stream,
            "expect": outcomes,
        },
    }


def main() -> None:
    out = (
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else Path(__file__).resolve().parents[1] / "tests/vectors/datagrams.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(make(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
