"""Condition sweep planning and ``--sweep`` parsing."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rig.devices.sweeps import changes, parse_sweep, parse_sweeps, sweep_schedule
from rig.errors import UsageError

values = st.lists(st.sampled_from(["off", "on", "dim", "half", "0", "255"]), min_size=1,
                  max_size=4, unique=True)
sweeps = st.dictionaries(st.sampled_from(["light", "ring", "backlight"]), values, max_size=3)


def test_the_documented_example() -> None:
    plan = sweep_schedule(9, {"light": ["off", "on", "dim"]}, every=3)
    assert [c["light"] for c in plan] == ["off"] * 3 + ["on"] * 3 + ["dim"] * 3
    assert sweep_schedule(4, {"light": ["off", "on"]}, every=1) == [
        {"light": "off"}, {"light": "on"}, {"light": "off"}, {"light": "on"}]


@given(st.integers(0, 200), sweeps, st.integers(1, 20))
def test_blocks_are_constant_and_change_only_at_block_edges(
        n: int, plan_sweeps: dict[str, list[str]], every: int) -> None:
    plan = sweep_schedule(n, plan_sweeps, every)
    assert len(plan) == n
    for i, conditions in enumerate(plan):
        assert set(conditions) == set(plan_sweeps)
        assert all(conditions[k] in plan_sweeps[k] for k in conditions)
        if i % every:
            assert conditions == plan[i - 1]
    assert all(index % every == 0 for index, _ in changes(plan))


@given(sweeps, st.integers(1, 5))
def test_a_full_cycle_covers_every_combination_once(plan_sweeps: dict[str, list[str]],
                                                    every: int) -> None:
    combos = 1
    for v in plan_sweeps.values():
        combos *= len(v)
    plan = sweep_schedule(combos * every, plan_sweeps, every)
    seen = [tuple(plan[b * every][k] for k in plan_sweeps) for b in range(combos)]
    assert sorted(seen) == sorted(itertools.product(*plan_sweeps.values()))


def test_parse_sweep_resolves_aliases() -> None:
    assert parse_sweep("lights=off,on,dim") == ("light", ["off", "on", "dim"])
    assert parse_sweeps(["lights=off,on", "backlight=on,off"]) == {
        "light": ["off", "on"], "backlight": ["on", "off"]}


@pytest.mark.parametrize("bad", ["lights", "=on", "lights=", "lights=on,,off", "Lights=on",
                                 "light=on;rm"])
def test_parse_sweep_rejects_malformed_options(bad: str) -> None:
    with pytest.raises(UsageError, match="--sweep"):
        parse_sweep(bad)


def test_repeated_sweep_and_bad_block_size_are_errors() -> None:
    with pytest.raises(UsageError, match="swept twice"):
        parse_sweeps(["lights=on", "light=off"])
    with pytest.raises(UsageError, match="sweep-every"):
        sweep_schedule(3, {"light": ["on"]}, every=0)
