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
from rig.session.reconcile import Reconciliation
from rig.session.states import AWAITING_IMPORT, STOPPED_BY_OPERATOR, SessionState

EVENT_KINDS = [
    cls
    for cls in vars(ev).values()
    if isinstance(cls, type) and issubclass(cls, ev.SessionEvent) and cls is not ev.SessionEvent
]

text = st.text(string.ascii_letters + string.digits + " .,;:-()/é→", max_size=40)
counts = st.integers(0, 500)
reconciliation = st.builds(
    Reconciliation,
    items=counts, displayed=counts, captured=counts, verified=counts, stored=counts,
    retakes=counts, pending=counts,
    pending_import=st.lists(st.integers(0, 500), max_size=5),
    problems=st.dictionaries(
        st.sampled_from(["not_verified", "duplicates", "not_stored"]),
        st.lists(st.integers(0, 500), min_size=1, max_size=20),
    ),
    clean=st.booleans(),
)  # fmt: skip


def rec(items: int, verified: int, problems: dict[str, list[int]]) -> Reconciliation:
    return Reconciliation(items, items, verified, verified, verified, 0, items - verified,
                          problems=problems, clean=not problems)  # fmt: skip


def _event(cls: type) -> st.SearchStrategy[ev.SessionEvent]:
    """Any instance of an event class, built from its field types."""
    overrides = {
        "session_id": st.just("s0123456789"),
        "state": st.sampled_from(list(SessionState)),
        "reconciliation": reconciliation,
        "reason": st.one_of(
            st.none(), text, st.sampled_from([STOPPED_BY_OPERATOR, AWAITING_IMPORT])
        ),
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
    verified = narrate(ev.CaptureVerified("s1", idx=2, attempt=1, psnr_db=31.24, ssim=0.9123,
                                          reproj_err_px=0.412))  # fmt: skip
    assert verified == verified.__class__(
        "ok", "Item 2 verified: PSNR 31.2 dB, SSIM 0.912, marker error 0.41 px."
    )
    lost = narrate(ev.CameraLost("s1", idx=7, reason="no answer for 10 s."))
    assert lost.level == "error" and "item 7 (no answer for 10 s)" in lost.text
    progress = narrate(ev.Progressed("s1", verified=3, total=10, rate_per_h=1200.0, eta_s=21.0))
    assert progress.text == "3 of 10 items verified (1200 pairs/h, about 21 s left)."


def test_a_failed_or_stopped_session_names_its_resume_command() -> None:
    partial = rec(5, 3, {"not_verified": [3, 4]})
    line = narrate(ev.SessionFinished("s9f", "paused", STOPPED_BY_OPERATOR, partial))
    assert line.level == "warn"
    assert line.text.startswith("Session s9f paused (stopped by operator): ")
    assert "3 of 5 items verified; 2 items not verified (3, 4)" in line.text
    assert "'rig session resume s9f'" in line.text
    failed = narrate(ev.SessionFinished("s9f", "failed", partial.describe(), partial))
    assert failed.level == "error" and "rig session resume s9f" in failed.text
    assert failed.text.count("3 of 5") == 1  # a reason that only restates the counts: once
    lost = narrate(ev.SessionFinished("s9f", "failed", "camera lost for 600 s", partial))
    assert "failed (camera lost for 600 s): 3 of 5" in lost.text
    done = narrate(ev.SessionFinished("s9f", "finished", None, rec(5, 5, {})))
    assert done.level == "ok" and "resume" not in done.text
    waiting = narrate(ev.SessionFinished("s9f", "paused", AWAITING_IMPORT, partial))
    assert waiting.level == "warn" and "rig import-photos DIR --chexpeditor" in waiting.text


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
    assert "rig import-photos" in next_step("s1", "paused", AWAITING_IMPORT)
    assert "rig session resume s1" in next_step("s1", "paused", STOPPED_BY_OPERATOR)
    assert "rig session resume s1" in next_step("s1", "failed", "camera lost")
    assert next_step("s1", "aborted") == "start a new session"
    assert describe_problems({"duplicates": list(range(10))}) == (
        "10 items duplicates (0, 1, 2, 3, 4, 5, 6, 7, …)"
    )
    assert [format_duration(s) for s in (42, 300, 5400)] == ["42 s", "5 min", "1 h 30 min"]
    assert format_duration(float("inf")) == format_duration(float("nan")) == "an unknown time"


def test_the_phone_pairing_reads_with_its_address() -> None:
    assert narrate(ev.PhonePaired("s1", peer="192.0.2.7:47000")).text == (
        "The phone paired from 192.0.2.7:47000."
    )
