"""Every session event reads as one sentence with a level; failures say what to do next."""

from __future__ import annotations

import string
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rig.session import events as ev
from rig.session.narration import (
    LEVELS,
    describe_problems,
    format_duration,
    narrate,
    next_step,
)

EVENT_KINDS = [
    cls
    for cls in vars(ev).values()
    if isinstance(cls, type) and issubclass(cls, ev.SessionEvent) and cls is not ev.SessionEvent
]

text = st.text(string.ascii_letters + string.digits + " .,;:-()/é→", max_size=40)
reconciliation = st.fixed_dictionaries(
    {
        "items": st.integers(0, 500),
        "verified": st.integers(0, 500),
        "clean": st.booleans(),
        "problems": st.dictionaries(
            st.sampled_from(["not_verified", "duplicates", "not_stored"]),
            st.lists(st.integers(0, 500), min_size=1, max_size=20),
        ),
    }
)


def _event(cls: type) -> st.SearchStrategy[ev.SessionEvent]:
    """Any instance of an event class, built from its field types."""
    overrides = {
        "session_id": st.just("s0123456789"),
        "state": st.sampled_from(["finished", "stopped", "failed", "awaiting-import"]),
        "reconciliation": reconciliation,
        "reason": text,
        "name": text,
    }
    return st.builds(cls, **{k: v for k, v in overrides.items() if k in cls.__dataclass_fields__})


@pytest.mark.parametrize("cls", EVENT_KINDS, ids=lambda c: c.__name__)
@given(data=st.data())
@settings(max_examples=25, deadline=None)
def test_every_event_kind_is_one_sentence(cls: type, data: st.DataObject) -> None:
    event = data.draw(_event(cls))
    line = narrate(event)
    assert line.level in LEVELS
    assert line.text.endswith((".", "…")) and "\n" not in line.text.strip()
    for raw in ("{'", "':", "kind=", cls.__name__ + " ", "sha256"):
        assert raw not in line.text, line.text  # never a dump of the event


def test_sentences_carry_the_facts() -> None:
    assert narrate(ev.SessionStarted("s1", items=3, resumed_at=0)).text == (
        "Session s1 started with 3 items."
    )
    verified = narrate(ev.PhotoVerified("s1", idx=2, attempt=1, psnr_db=31.24, ssim=0.9123,
                                        reproj_err_px=0.412))  # fmt: skip
    assert verified == verified.__class__(
        "ok", "Item 2 verified: PSNR 31.2 dB, SSIM 0.912, marker error 0.41 px."
    )
    lost = narrate(ev.PhoneLost("s1", idx=7, reason="no answer for 10 s."))
    assert lost.level == "error" and "item 7 (no answer for 10 s)" in lost.text
    progress = narrate(ev.Progressed("s1", verified=3, total=10, rate_per_h=1200.0, eta_s=21.0))
    assert progress.text == "3 of 10 items verified (1200 pairs/h, about 21 s left)."


def test_a_failed_or_stopped_session_names_its_resume_command() -> None:
    rec = {"items": 5, "verified": 3, "clean": False, "problems": {"not_verified": [3, 4]}}
    line = narrate(ev.SessionFinished("s9f", state="stopped", reconciliation=rec))
    assert line.level == "warn"
    assert "3 of 5 items verified; 2 items not verified (3, 4)" in line.text
    assert "'rig session resume s9f'" in line.text
    failed = narrate(ev.SessionFinished("s9f", state="failed", reconciliation=rec))
    assert failed.level == "error" and "rig session resume s9f" in failed.text
    clean = {"items": 5, "verified": 5, "clean": True, "problems": {}}
    done = narrate(ev.SessionFinished("s9f", state="finished", reconciliation=clean))
    assert done.level == "ok" and "resume" not in done.text


def test_an_unknown_kind_still_reads_as_a_sentence() -> None:
    @dataclass(frozen=True)
    class PhoneReconnected(ev.SessionEvent):
        peer: str
        after_s: float
        tally: dict  # type: ignore[type-arg]

    line = narrate(PhoneReconnected("s1", peer="10.0.0.7", after_s=2.5, tally={"lost_s": 1.25}))
    assert line == line.__class__(
        "info", "Phone reconnected (peer 10.0.0.7; after s 2.5; tally lost s 1.25)."
    )


def test_next_steps_and_small_formats() -> None:
    assert "rig export s1" in next_step("s1", "finished")
    assert "rig import-photos" in next_step("s1", "awaiting-import")
    assert "rig session resume s1" in next_step("s1", "paused")
    assert describe_problems({"duplicates": list(range(10))}) == (
        "10 items duplicates (0, 1, 2, 3, 4, 5, 6, 7, …)"
    )
    assert [format_duration(s) for s in (42, 300, 5400)] == ["42 s", "5 min", "1 h 30 min"]
    assert format_duration(float("inf")) == format_duration(float("nan")) == "an unknown time"


def test_capture_and_camera_names_read_like_photo_and_phone_names() -> None:
    @dataclass(frozen=True)
    class CameraLost(ev.SessionEvent):
        idx: int
        reason: str

    @dataclass(frozen=True)
    class CaptureVerified(ev.SessionEvent):
        idx: int
        attempt: int
        psnr_db: float | None
        ssim: float | None
        reproj_err_px: float | None

    assert narrate(CameraLost("s1", idx=7, reason="gone")) == narrate(
        ev.PhoneLost("s1", idx=7, reason="gone")
    )
    assert narrate(CaptureVerified("s1", 2, 1, 30.0, None, None)) == narrate(
        ev.PhotoVerified("s1", 2, 1, 30.0, None, None)
    )
