#!/usr/bin/env python3
"""Write tests/vectors/: golden capture-protocol data (docs/protocol.md v1.1).

``datagrams.json``: every entry has the key and session (hex), the receiver role, seq, message
type and fields, the exact datagram bytes (hex), and what a receiver must do with it: ``accept``
or ``reject`` with the reason. Forged, replayed, truncated, oversize and malformed datagrams are
included and marked; ``canonical: false`` marks accepted bodies a receiver must take although
an encoder never writes them. ``sequences`` are datagram streams fed to one receiver in order.
``pairing.json``: pairing URIs and what a phone makes of them (§3). ``upload.json``: the HMACs
of §5 and the documented HTTP answers. Python and the Java companion app check all three.

Usage: .venv/bin/python scripts/make_vectors.py [OUT_DIR]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rig.protocol import messages as m
from rig.protocol.auth import MAX_AHEAD, datagram_tag, tap_auth, upload_auth
from rig.protocol.pairing import Pairing

KEY = bytes(range(32))
SESSION = bytes.fromhex("0123456789abcdef")
SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

# Attempts start at 1 (§6); 0 stays valid on the wire for v1.0 desktops.
VALID: list[m.Message] = [
    m.Hello(cursor=-1, nonce=1),
    m.Hello(cursor=42, nonce=4294967295),
    m.HelloAck(nonce=1, next=0),
    m.Capture(index=7, attempt=1, tag="s1-000007"),
    m.Capture(index=2147483647, attempt=3, tag=""),
    m.CaptureAck(index=7, attempt=1, state=m.ST_SHOOTING),
    m.PhotoReady(index=7, attempt=1, sha256=SHA, size=123456),
    m.CameraFailedMsg(index=7, attempt=2, reason="focus failed \u00e9"),
    m.Stored(index=7, attempt=1, sha256=SHA),
    m.Error(code=m.ERR_GAP, index=9, attempt=1, cursor=8),
    m.Resync(next=9),
    m.ResyncAck(next=9),
    # v1.1
    m.Hello(cursor=3, nonce=77, minor=1, shot_s=40),
    m.HelloAck(nonce=77, next=3, minor=1),
    m.Bye(reason="session finished"),
    m.ByeAck(),
    m.CameraFailedMsg(index=7, attempt=3, reason="lens\x7fcap \"a\\b\"/\n\t"),  # DEL is \u007f
    m.CameraFailedMsg(index=7, attempt=4, reason="x" * 190 + "\U0001f4f7" * 10),  # 200 code points
    m.Capture(index=0, attempt=0, tag="../v1.0 tag/ok"),  # a v1.0 desktop's tag: accepted
]

# Bodies an encoder never writes that a receiver must still accept (RFC 8259 JSON, §4.2).
NONCANONICAL: list[tuple[str, int, bytes, dict[str, object]]] = [
    ("whitespace", m.Capture.TYPE, b' { "attempt" : 1 ,\n"index":7, "tag":"t" } ',
     {"attempt": 1, "index": 7, "tag": "t"}),
    ("minus-zero", m.Capture.TYPE, b'{"attempt":1,"index":-0,"tag":"t"}',
     {"attempt": 1, "index": 0, "tag": "t"}),
    ("escaped-slash-and-unicode", m.Capture.TYPE, b'{"attempt":1,"index":7,"tag":"a\\/\\u0062"}',
     {"attempt": 1, "index": 7, "tag": "a/b"}),
    ("unknown-fields", m.Resync.TYPE, b'{"next":4,"z":[1,{"y":null}],"a":1.5e300}', {"next": 4}),
    ("key-order", m.Resync.TYPE, b'{"zz":0,"next":4}', {"next": 4}),
]  # fmt: skip

BAD_BODIES: list[tuple[str, int, bytes]] = [
    ("body-not-json", m.Capture.TYPE, b"{not json"),
    ("body-array", m.Capture.TYPE, b"[1,2]"),
    ("body-missing-field", m.Capture.TYPE, b'{"attempt":0,"index":7}'),
    ("body-bool-as-int", m.Capture.TYPE, b'{"attempt":false,"index":7,"tag":"x"}'),
    ("body-negative-index", m.Capture.TYPE, b'{"attempt":0,"index":-1,"tag":"x"}'),
    ("body-tag-control-char", m.Capture.TYPE, b'{"attempt":0,"index":7,"tag":"a\\n"}'),
    # v1.1: what v1.0 left open (§4.2)
    ("body-fraction", m.Capture.TYPE, b'{"attempt":1,"index":7.0,"tag":"x"}'),
    ("body-exponent", m.Capture.TYPE, b'{"attempt":1,"index":1e0,"tag":"x"}'),
    ("body-duplicate-key", m.Capture.TYPE, b'{"attempt":1,"index":7,"index":7,"tag":"x"}'),
    ("body-duplicate-unknown-key", m.Resync.TYPE, b'{"next":1,"z":1,"z":2}'),
    ("body-nan", m.Resync.TYPE, b'{"next":1,"z":NaN}'),
    ("body-infinity", m.Resync.TYPE, b'{"next":1,"z":-Infinity}'),
    ("body-not-utf8", m.CameraFailedMsg.TYPE, b'{"attempt":1,"index":7,"reason":"\xff"}'),
    ("body-utf8-bom", m.Resync.TYPE, b"\xef\xbb\xbf{\"next\":1}"),
    ("body-lone-surrogate", m.CameraFailedMsg.TYPE, b'{"attempt":1,"index":7,"reason":"\\ud83d"}'),
    ("body-reason-201-code-points", m.CameraFailedMsg.TYPE,
     b'{"attempt":1,"index":7,"reason":"' + b"x" * 191 + b"\\ud83d\\udcf7" * 10 + b'"}'),
    ("body-tag-129-chars", m.Capture.TYPE, b'{"attempt":1,"index":7,"tag":"' + b"t" * 129 + b'"}'),
    ("body-tag-non-ascii", m.Capture.TYPE, b'{"attempt":1,"index":7,"tag":"\\u00e9"}'),
    ("body-index-2^31", m.Capture.TYPE, b'{"attempt":1,"index":2147483648,"tag":"x"}'),
    ("body-minor-256", m.Hello.TYPE, b'{"cursor":1,"minor":256,"nonce":1}'),
    ("body-shot-s-0", m.Hello.TYPE, b'{"cursor":1,"nonce":1,"shot_s":0}'),
    ("body-bye-no-reason", m.Bye.TYPE, b"{}"),
    ("body-string-as-int", m.Resync.TYPE, b'{"next":"1"}'),
    ("body-trailing-data", m.Resync.TYPE, b'{"next":1}{}'),
]  # fmt: skip


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


def _fields(msg: m.Message) -> dict[str, object]:
    return msg.body()  # the fields a receiver sees (v1.1 optional fields only when present)


def _raw(mtype: int, body: bytes, seq: int) -> bytes:
    flags = 0 if m.MESSAGE_TYPES[mtype].SENDER == m.ROLE_DESKTOP else m.FLAG_ROLE
    hdr = m.HEADER.pack(m.MAGIC, m.VERSION, mtype, flags, 0, len(body), SESSION, seq)
    return _reseal(hdr + body)


def _receiver(mtype: int) -> int:
    return m.ROLE_PHONE if m.MESSAGE_TYPES[mtype].SENDER == m.ROLE_DESKTOP else m.ROLE_DESKTOP


def _valid_vectors() -> list[dict[str, object]]:
    vectors = []
    for seq, msg in enumerate(VALID, start=1):
        data = m.encode(msg, KEY, SESSION, seq)
        vectors.append(
            _entry(f"valid-{type(msg).__name__}-{seq}", data, _receiver(msg.TYPE), "accept",
                   seq=seq, type=msg.TYPE, message=type(msg).__name__, fields=_fields(msg),
                   canonical=True)
        )  # fmt: skip
    for k, (name, mtype, body, fields) in enumerate(NONCANONICAL):
        seq = 300 + k
        vectors.append(
            _entry(f"noncanonical-{name}", _raw(mtype, body, seq), _receiver(mtype), "accept",
                   seq=seq, type=mtype, message=m.MESSAGE_TYPES[mtype].__name__, fields=fields,
                   canonical=False)
        )  # fmt: skip
    return vectors


def _bad_header_vectors() -> list[dict[str, object]]:
    cap = m.encode(m.Capture(index=7, attempt=1, tag="s1-000007"), KEY, SESSION, 100)
    body = cap[m.HEADER_LEN : -16]
    header = bytearray(cap[: m.HEADER_LEN])
    reflected = bytes(header[:4]) + b"\x01" + bytes(header[5:])
    bad: list[tuple[str, bytes, str]] = [
        ("forged-tag", cap[:-1] + bytes([cap[-1] ^ 1]), "mac"),
        ("forged-wrong-key", m.encode(m.Capture(7, 1, "x"), bytes(32), SESSION, 101), "mac"),
        ("other-session", m.encode(m.Capture(7, 1, "x"), KEY, bytes(8), 102), "session"),
        ("truncated", cap[:30], "short"),
        ("length-mismatch", cap + b"\x00", "malformed"),
        ("oversize", cap + bytes(1200), "oversize"),
        ("bad-magic", b"XX" + cap[2:], "magic"),
        ("bad-version", cap[:2] + b"\x02" + cap[3:], "version"),
        ("reflected-role", _reseal(reflected + body), "role"),
        ("unknown-type", _reseal(bytes(header[:3]) + b"\x7f" + bytes(header[4:]) + body), "type"),
        # §4.4 step 6: the role bit is checked before the type
        ("reflected-unknown-type", _reseal(reflected[:3] + b"\x7f" + reflected[4:] + body), "role"),
        ("type-of-other-role", _reseal(bytes(header[:3]) + b"\x01" + bytes(header[4:]) + body),
         "role"),
        ("reserved-byte-set", _reseal(bytes(header[:5]) + b"\x01" + bytes(header[6:]) + body),
         "malformed"),
        ("undefined-flag-bit", _reseal(bytes(header[:4]) + b"\x02" + bytes(header[5:]) + body),
         "malformed"),
        ("seq-zero", m.HEADER.pack(m.MAGIC, 1, 3, 0, 0, len(body), SESSION, 0) + body, "replay"),
        ("empty-datagram", b"", "short"),
    ]  # fmt: skip
    out = []
    for name, data, reason in bad:
        if name == "seq-zero":
            data = _reseal(data)
        out.append(_entry(name, data, m.ROLE_PHONE, "reject", reason=reason))
    return out


def _bad_body_vectors() -> list[dict[str, object]]:
    return [
        _entry(name, _raw(mtype, raw, 200 + i), _receiver(mtype), "reject", reason="malformed")
        for i, (name, mtype, raw) in enumerate(BAD_BODIES)
    ]


def _stream(name: str, items: list[tuple[int, object]], **extra: object) -> dict[str, object]:
    """One receiver (the phone) fed these datagrams in order; expect 'accept' or the reason."""
    grams, expect = [], []
    for seq, what in items:
        if isinstance(what, bytes):  # an authentic datagram with this (bad) body
            grams.append(_raw(m.Resync.TYPE, what, seq).hex())
            expect.append("malformed")
            continue
        grams.append(m.encode(m.Resync(next=seq % 1000), KEY, SESSION, seq).hex())
        expect.append(str(what))
    return {"name": name, "key_hex": KEY.hex(), "session_hex": SESSION.hex(),
            "receiver_role": "phone", "floor": 0, "restored_highest": 0, **extra,
            "datagrams_hex": grams, "expect": expect}  # fmt: skip


FLOOR = 1_700_000_000_000_000  # a receiver's clock in Unix µs (Nov 2023)


def _sequences() -> list[dict[str, object]]:
    top = 2**64 - 1
    return [
        _stream("ahead-of-window", [
            (5, "accept"), (5 + MAX_AHEAD + 1, "ahead"), (6, "accept"), (top, "ahead"),
            (4, "accept"), (4, "replay"), (6 + MAX_AHEAD, "accept"), (7, "replay"),
        ]),
        _stream("floor-bounds-first-seq", [
            (FLOOR + MAX_AHEAD + 1, "ahead"), (top, "ahead"), (FLOOR - 10**12, "accept"),
            (FLOOR + MAX_AHEAD - 5, "accept"),
        ], floor=FLOOR),
        _stream("malformed-body-keeps-its-seq", [
            (10, b'{"next":1.0}'), (10, "accept"), (10, "replay"), (9, "accept"),
        ]),
        _stream("restored-window", [
            (1000, "replay"), (990, "replay"), (937, "replay"), (1001, "accept"), (999, "replay"),
        ], restored_highest=1000),
        _stream("restored-window-rebased", [
            (FLOOR + 7, "accept"), (FLOOR + 7, "replay"),
        ], floor=FLOOR, restored_highest=top),
    ]  # fmt: skip


def _replay_sequence() -> dict[str, object]:
    seqs = [5, 6, 6, 4, 70, 5, 6, 7, 71]
    stream = [m.encode(m.Capture(index=s, attempt=1, tag=""), KEY, SESSION, s).hex() for s in seqs]
    outcomes = [
        "accept",
        "accept",
        "replay",
        "accept",
        "accept",
        "replay",  # 5: 65 below the top (70), outside the window (70 and the 63 below it)
        "replay",  # 6: 64 below the top, just outside
        "accept",  # 7: 63 below the top, inside and never seen
        "accept",
    ]
    return {
        "key_hex": KEY.hex(),
        "session_hex": SESSION.hex(),
        "receiver_role": "phone",
        "window_bits": 64,
        "datagrams_hex": stream,
        "expect": outcomes,
    }


def make() -> dict[str, object]:
    return {
        "protocol": "rig capture protocol v1.1 (docs/protocol.md)",
        "tag_len": 16,
        "max_ahead": MAX_AHEAD,
        "vectors": _valid_vectors() + _bad_header_vectors() + _bad_body_vectors(),
        "replay_sequence": _replay_sequence(),
        "sequences": _sequences(),
    }


def make_pairing() -> dict[str, object]:
    """Pairing URIs (§3) and what a phone makes of them."""
    p = Pairing("192.0.2.7", 47000, 47001, bytes(range(8)), bytes(range(32)))
    uri = p.to_uri()
    key = uri.split("key=")[1]
    ok = {"host": "192.0.2.7", "udp_port": 47000, "http_port": 47001,
          "session_hex": "0001020304050607", "key_hex": bytes(range(32)).hex(), "version": 1}
    good = [
        ("canonical", uri, ok),
        ("unknown-fields-ignored", uri + "&minor=1&color=blue", ok),
        ("field-order", f"rig1://192.0.2.7:47000/?key={key}&http=47001&sid=0001020304050607&v=1",
         ok),
        ("no-v-means-1", uri.replace("v=1&", ""), ok),
        ("ipv6", uri.replace("192.0.2.7", "[2001:db8::7]"), {**ok, "host": "2001:db8::7"}),
        ("hostname", uri.replace("192.0.2.7", "rig-desk.lab"), {**ok, "host": "rig-desk.lab"}),
        ("surrounding-whitespace", f"  {uri}\n", ok),
    ]  # fmt: skip
    bad = [
        ("other-scheme", uri.replace("rig1://", "rig2://"), "scheme"),
        ("major-2", uri.replace("v=1", "v=2"), "v"),
        ("v-not-integer", uri.replace("v=1", "v=1.1"), "v"),
        ("missing-http", uri.replace("&http=47001", ""), "http"),
        ("missing-key", uri.replace(f"&key={key}", ""), "key"),
        ("short-key", uri[:-3], "key"),
        ("sid-not-hex", uri.replace("0001020304050607", "000102030405060z"), "sid"),
        ("sid-short", uri.replace("0001020304050607", "00010203"), "sid"),
        ("missing-port", uri.replace(":47000", ""), "port"),
        ("http-port-range", uri.replace("http=47001", "http=70000"), "http"),
    ]
    return {
        "protocol": "rig capture protocol v1.1 (docs/protocol.md §3)",
        "accept": [{"name": n, "uri": u, "expect": e} for n, u, e in good],
        "reject": [{"name": n, "uri": u, "field": f} for n, u, f in bad],
    }


def make_upload() -> dict[str, object]:
    """The HMACs of §5 over fixed inputs, and the documented answers a client must handle."""
    sha = SHA
    return {
        "protocol": "rig capture protocol v1.1 (docs/protocol.md §5)",
        "key_hex": KEY.hex(),
        "session_hex": SESSION.hex(),
        "upload_auth": [
            {"index": i, "attempt": a, "sha256": sha, "size": n,
             "auth": upload_auth(KEY, SESSION, i, a, sha, n)}
            for i, a, n in [(7, 1, 123456), (0, 1, 1), (2147483647, 2147483647, 67108864)]
        ],  # fmt: skip
        "tap_auth": [
            {"index": i, "attempt": a, "auth": tap_auth(KEY, SESSION, i, a)}
            for i, a in [(7, 1), (0, 0)]
        ],
        "answers": [
            {"status": s, "error": e, "client": c} for s, e, c in UPLOAD_ANSWERS
        ],
    }


# (status, "error" value of the JSON body or None, what a client does) — §5.3
UPLOAD_ANSWERS = [
    (200, None, "done if complete, else continue at received"),
    (400, "malformed", "give up: a bug in the client"),
    (401, "auth", "give up: re-pair"),
    (403, "session", "give up: re-pair"),
    (404, "not_requested", "retry later: the desktop has not asked for this attempt (yet)"),
    (409, "offset", "continue at received"),
    (412, "conflict", "give up: the desktop holds another photo for this attempt"),
    (413, "too_large", "give up: the photo exceeds max_bytes"),
    (422, "sha256", "retry from offset 0: the bytes did not match sha256"),
    (503, "busy", "retry later"),
]


FILES = {"datagrams.json": make, "pairing.json": make_pairing, "upload.json": make_upload}


def main() -> None:
    out = (
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else Path(__file__).resolve().parents[1] / "tests/vectors"
    )
    out.mkdir(parents=True, exist_ok=True)
    for name, make_file in FILES.items():
        text = json.dumps(make_file(), indent=1, sort_keys=True, ensure_ascii=True) + "\n"
        (out / name).write_text(text, encoding="utf-8")
        print(f"wrote {out / name}")


if __name__ == "__main__":
    main()
