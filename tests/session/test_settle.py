"""The adaptive settle (rig.session.settle), driven by a panel latency model."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from rig.session.settle import PHYSICAL_MIN_MS, SettleBounds, SettleController, is_stale

BOUNDS = SettleBounds(initial_ms=33, min_ms=33, max_ms=500)


def run_items(ctl: SettleController, response_ms: float, jitter_ms: float, n: int, seed: int):
    """Shoot ``n`` items on a panel whose new frame is visible ``response ± jitter`` after
    presentation; a stale shot is retaken (never a pair). Returns the stale item numbers."""
    rng = random.Random(seed)
    stale_at = []
    for item in range(n):
        while True:
            used = ctl.settle_ms
            stale = used < response_ms + rng.uniform(-jitter_ms, jitter_ms)
            ctl.record(used, stale)
            if not stale:
                break  # the pair: its photo shows its own frame
            stale_at.append(item)
    return stale_at


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 2000), st.booleans()), max_size=300),
    st.floats(0, 200),
    st.floats(200, 2000),
)
def test_never_below_min_or_above_max(verdicts, lo, hi) -> None:
    ctl = SettleController(SettleBounds(lo, lo, hi))
    for used, stale in verdicts:
        assert lo <= ctl.record(used, stale) <= hi
        assert lo <= ctl.settle_ms <= hi


@settings(max_examples=40, deadline=None)
@given(st.floats(0, 450), st.integers(0, 10_000))
def test_converges_within_20_items_with_a_fixed_response(response_ms, seed) -> None:
    ctl = SettleController(BOUNDS)
    stale_at = run_items(ctl, response_ms, 0.0, 200, seed)
    first_probe = ctl.forget_after  # good shots before a too-short value may be tried again
    assert len(stale_at) <= 6 + 200 // first_probe  # doubling from 33 ms, then rare probes
    # from item 20 on, at most one shrinking probe finds the edge, then one per forgetting
    assert len([i for i in stale_at if i >= 20]) <= 1 + 200 // first_probe


@settings(max_examples=40, deadline=None)
@given(st.floats(0, 300), st.floats(0, 8), st.integers(0, 10_000))
def test_a_jittery_panel_costs_few_retakes(response_ms, jitter_ms, seed) -> None:
    ctl = SettleController(BOUNDS)
    stale_at = run_items(ctl, response_ms, jitter_ms, 200, seed)
    assert len([i for i in stale_at if i >= 20]) <= 4  # ≤ 2 % of the items after item 20


def test_starts_at_the_physical_minimum_and_shrinks_after_good_runs() -> None:
    ctl = SettleController(SettleBounds(120, PHYSICAL_MIN_MS, 500))
    assert ctl.settle_ms == 120
    for _ in range(ctl.shrink_after):
        ctl.record(120, False)
    assert ctl.settle_ms < 120


def test_a_stale_shot_raises_and_the_too_short_value_is_not_revisited() -> None:
    ctl = SettleController(BOUNDS)
    assert ctl.record(33, True) >= 66
    for _ in range(50):
        ctl.record(ctl.settle_ms, False)
    assert ctl.settle_ms > 33


def test_fixed_settle_never_moves() -> None:
    ctl = SettleController(SettleBounds(120, 33, 500, adaptive=False), start_ms=40)
    assert ctl.record(120, True) == 120 == ctl.settle_ms


def test_a_learnt_start_is_clamped_to_the_bounds() -> None:
    assert SettleController(BOUNDS, start_ms=9999).settle_ms == 500


def test_stale_means_another_frame_of_this_session() -> None:
    expected = {"session": 7, "index": 3, "attempt": 1, "frame_hash": 5}
    previous = {"session": 7, "index": 2, "attempt": 1, "frame_hash": 9}
    assert is_stale(previous, expected, "photo shows item 2, expected item 3")
    assert not is_stale({**previous, "session": 8}, expected, "photo shows session 8")
    assert not is_stale(None, expected, "frame code unreadable (glare or blur over all copies?)")
    assert is_stale(None, expected, "the frame-code copies disagree: the screen changed during "
                    "the exposure")  # fmt: skip
