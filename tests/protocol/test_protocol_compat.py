"""CheXpeditor compatibility: wire format, the app's rule, the robust driver over loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rig.errors import RemoteProtocolError
from rig.protocol import compat
from rig.protocol.chexpeditor import ChexpeditorDriver, ChexpeditorPhoneSim

PART = st.text(
    st.characters(min_codepoint=48, max_codepoint=122, exclude_characters="_|/\\"),
    min_size=1,
    max_size=12,
)


@given(
    seq=st.integers(0, 10**6),
    nonce=st.integers(0, 100),
    parts=st.lists(PART, min_size=1, max_size=5),
)
def test_protocol_compat_name_roundtrip(seq: int, nonce: int, parts: list[str]) -> None:
    name = compat.make_name(seq, nonce, tuple(parts))
    assert compat.parse_name(name) == (seq, nonce, tuple(parts))
    assert compat.parse_request(compat.encode_request(seq, name)) == (seq, name)


def test_protocol_compat_wire_format_matches_original() -> None:
    """The original client sends str(seq) + '|' + '__'.join([seq, nonce, *path.parts])."""
    name = compat.make_name(12, 7, ("item", "000012.png"))
    assert name == "12__7__item__000012.png"
    assert compat.encode_request(12, name) == b"12|12__7__item__000012.png"
    assert compat.parse_reply(b"OK|12__7__item__000012.png") == ("ok", name)
    assert compat.parse_reply(b"MISMATCH") == ("mismatch", "")
    for bad in (b"12", b"x|1__2__a", b"3|3__1", b"3|3__1__..", b"\xff|a"):
        with pytest.raises(RemoteProtocolError):
            compat.parse_request(bad)


def test_protocol_compat_app_counts_before_shooting() -> None:
    app = compat.PhoneAppState(expected=5)
    assert app.on_request(5) and app.expected == 6
    assert not app.on_request(5)  # a resend after a lost OK: MISMATCH, never a second shot
    assert not app.on_request(9) and app.expected == 6


def test_protocol_compat_driver_survives_lost_replies(tmp_path: Path) -> None:
    """Unmodified-app semantics, 40% of replies lost: every row ends with exactly one photo."""
    src = tmp_path / "src" / "item"
    src.mkdir(parents=True)
    n = 25
    for i in range(n):
        cv2.imwrite(str(src / f"{i:06d}.png"), np.full((20, 20), i * 9, np.uint8))
    store = tmp_path / "phone"
    store.mkdir()

    async def main() -> tuple[list[bool], ChexpeditorPhoneSim]:
        loop = asyncio.get_running_loop()
        sim = ChexpeditorPhoneSim(store, tmp_path / "src", row_start=0, loss=0.4, seed=2)
        transport, _ = await loop.create_datagram_endpoint(lambda: sim, local_addr=("127.0.0.1", 0))
        port = transport.get_extra_info("sockname")[1]
        confirmed = []
        try:
            async with ChexpeditorDriver(
                "127.0.0.1", port, timeout_s=0.05, max_resends=30, seed=1
            ) as drv:
                for i in range(n):
                    confirmed.append((await drv.capture(i, ("item", f"{i:06d}.png"))).confirmed)
        finally:
            transport.close()
        return confirmed, sim

    confirmed, sim = asyncio.run(main())
    files = sorted(p.name for p in store.iterdir())
    rows = sorted(compat.parse_name(f)[0] for f in files)
    assert rows == list(range(n)) and sim.shots == n  # one photo per row, none twice
    assert not all(confirmed) and confirmed[0]  # some OKs were lost and recovered
    for f in files:
        seq = compat.parse_name(f)[0]
        img = cv2.imread(str(store / f), cv2.IMREAD_GRAYSCALE)
        assert abs(float(img.mean()) - seq * 9) < 3  # the photo shows the row's image


def test_protocol_compat_wrong_start_row_is_an_error_not_a_skip(tmp_path: Path) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        sim = ChexpeditorPhoneSim(tmp_path, tmp_path, row_start=3)
        transport, _ = await loop.create_datagram_endpoint(lambda: sim, local_addr=("127.0.0.1", 0))
        try:
            async with ChexpeditorDriver("127.0.0.1", transport.get_extra_info("sockname")[1],
                                         timeout_s=0.2) as drv:  # fmt: skip
                await drv.capture(0, ("item", "a.png"))
        finally:
            transport.close()

    with pytest.raises(RemoteProtocolError, match="restart it at row 0"):
        asyncio.run(main())
