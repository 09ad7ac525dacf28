"""The session, item and capture transition tables (rig.session.states)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rig.errors import TransitionError
from rig.session import events as ev
from rig.session.states import (
    CAPTURE_EVENT_KINDS,
    ITEM_TRANSITIONS,
    SESSION_EVENT_KINDS,
    SESSION_TRANSITIONS,
    SessionState,
    next_session_state,
)

SESSION_EVENTS = sorted({event for _, event in SESSION_TRANSITIONS})


@given(st.lists(st.sampled_from(SESSION_EVENTS), max_size=30))
def test_a_walk_only_takes_listed_steps_and_aborted_is_final(events: list[str]) -> None:
    state = SessionState.PLANNED
    for event in events:
        allowed = (state, event) in SESSION_TRANSITIONS
        try:
            new = next_session_state(state, event)
        except TransitionError:
            assert not allowed
            continue
        assert allowed and new == SESSION_TRANSITIONS[(state, event)]
        assert state != SessionState.ABORTED
        state = new


def test_every_state_is_reachable_and_every_event_has_a_row_kind() -> None:
    reached = {SessionState.PLANNED, *SESSION_TRANSITIONS.values()}
    assert reached == set(SessionState)
    assert set(SESSION_EVENTS) == set(SESSION_EVENT_KINDS)
    assert not any(state == SessionState.ABORTED for state, _ in SESSION_TRANSITIONS)
    assert {new for new in ITEM_TRANSITIONS.values()} == {"shown", "verified", "failed"}


def test_capture_rows_and_bus_events_share_their_names() -> None:
    """A view of a live session (bus) and of a recorded one (event rows) read the same words."""
    bus_kinds = {cls.__name__ for cls in vars(ev).values()
                 if isinstance(cls, type) and issubclass(cls, ev.SessionEvent)}  # fmt: skip
    assert set(CAPTURE_EVENT_KINDS.values()) | {"ItemShown", "ItemFailed"} <= bus_kinds
    assert {"SessionStarted", "SessionPaused", "SessionResumed"} <= bus_kinds
