"""Both machines back to back in memory over the full fault matrix (fake clock, seeded)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rig.protocol.faults import FaultSpec, parse_faults
from rig.protocol.memnet import MemConfig, MemResult, MemRun
from rig.protocol.timers import Timers

NET = "loss=0.2,dup=0.05,reorder=0.1,delay_ms=20,jitter_ms=10"

MATRIX = {
    "clean": (MemConfig(n=40), ""),
    "loss": (MemConfig(n=40), "loss=0.3"),
    "dup": (MemConfig(n=40), "dup=0.5"),
    "reorder": (MemConfig(n=40), "reorder=0.5,reorder_ms=80"),
    "delay": (MemConfig(n=40), "delay_ms=150,jitter_ms=100"),
    "all-network": (MemConfig(n=60), NET),
    "camera-failure": (MemConfig(n=40), "camera_fail=0.2"),
    "slow-camera": (MemConfig(n=30), "slow_camera=0.3,slow_ms=4000"),
    "upload-failure": (MemConfig(n=40), "upload_fail=0.3"),
    "phone-restart-after-save": (MemConfig(n=40, phone_restarts={7: "after_save"}), NET),
    "phone-restart-before-save": (MemConfig(n=40, phone_restarts={9: "before_save"}), NET),
    "phone-restart-twice": (
        MemConfig(n=40, phone_restarts={3: "after_save", 4: "before_save"}),
        NET,
    ),
    "desktop-restart": (MemConfig(n=40, desktop_restarts=(5, 20)), NET),
    "both-restart": (
        MemConfig(n=40, desktop_restarts=(12,), phone_restarts={12: "after_save"}),
        NET + ",camera_fail=0.05",
    ),
    "fresh-phone": (MemConfig(n=20, phone_cursor=-1), NET),
}


def check_exactly_once(res: MemResult, n: int) -> None:
    """Every index ends with exactly one stored photo; none was shot (saved) twice."""
    assert res.lost == [] and res.failed == []
    assert sorted(set(res.completed)) == list(range(n))
    assert sorted(res.stored) == list(range(n))
    for index, photos in res.stored.items():
        assert len(photos) == 1, f"index {index} stored {photos}"
        attempt, sha = photos[0]
        assert res.phone_sha[(index, attempt)] == sha  # the stored photo is the phone's photo
    assert max(res.saved.values()) == 1, res.saved.most_common(3)


@pytest.mark.parametrize("name", sorted(MATRIX))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_protocol_fault_matrix(name: str, seed: int) -> None:
    cfg, spec = MATRIX[name]
    cfg = MemConfig(**{**cfg.__dict__, "seed": seed, "faults": parse_faults(spec)})
    res = MemRun(cfg).run()
    check_exactly_once(res, cfg.n)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    loss=st.floats(0, 0.4),
    dup=st.floats(0, 0.3),
    reorder=st.floats(0, 0.3),
    camera_fail=st.floats(0, 0.15),
    restart=st.one_of(
        st.none(), st.tuples(st.integers(0, 24), st.sampled_from(["after_save", "before_save"]))
    ),
    desktop_restart=st.one_of(st.none(), st.integers(0, 24)),
)
def test_protocol_random_faults_exactly_once(
    seed: int,
    loss: float,
    dup: float,
    reorder: float,
    camera_fail: float,
    restart: tuple[int, str] | None,
    desktop_restart: int | None,
) -> None:
    faults = FaultSpec(
        loss=loss, dup=dup, reorder=reorder, delay_ms=10, jitter_ms=20, camera_fail=camera_fail
    )
    cfg = MemConfig(
        n=25,
        seed=seed,
        faults=faults,
        camera_retries=10,
        phone_restarts=dict([restart]) if restart else {},
        desktop_restarts=(desktop_restart,) if desktop_restart is not None else (),
    )
    check_exactly_once(MemRun(cfg).run(), cfg.n)


def test_protocol_dead_phone_is_reported_not_hung() -> None:
    """A phone that never comes back gives PhoneLost within the bounded timeout."""
    timers = Timers(phone_timeout_s=3.0)
    cfg = MemConfig(
        n=5, phone_restarts={2: "before_save"}, down_s=1e9, timers=timers, time_limit_s=60
    )
    res = MemRun(cfg).run()
    assert res.completed == [0, 1]
    assert res.lost and res.lost[0] == 2
    assert res.end_s < 60


def test_protocol_camera_that_never_fires_is_reported() -> None:
    """A camera that hangs is failed by the phone's watchdog; the retry attempt succeeds."""
    timers = Timers(camera_timeout_s=2.0)
    cfg = MemConfig(
        n=4,
        timers=timers,
        faults=parse_faults("slow_camera=1,slow_ms=600000"),
        camera_retries=1,
        time_limit_s=120,
    )
    res = MemRun(cfg).run()
    assert res.failed == [0, 1, 2, 3]  # every attempt hangs: all reported, none hangs the run
    assert res.saved.total() == 0
    assert res.end_s < 120
