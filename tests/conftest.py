"""Suite-wide checks.

Issue 14: no session is ever left ``running`` — a failure ends it ``failed`` (or,
interrupted, ``paused``). Every test that uses ``tmp_path`` has the project databases
it created checked for ``running`` sessions when it ends, whatever path it took.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from hypothesis import settings

# Property tests check behaviour, not speed (speed lives in `rig bench`): no per-example
# deadline, which a loaded CI machine would turn into flaky failures.
settings.register_profile("rig", deadline=None)
settings.load_profile("rig")


def running_sessions(db_path: str) -> list[str]:
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30) as conn:
            rows = conn.execute("SELECT id FROM sessions WHERE state = 'running'").fetchall()
    except sqlite3.DatabaseError:  # not a rig database, or no sessions table yet
        return []
    return [r[0] for r in rows]


@pytest.fixture(autouse=True)
def _no_project_leaks_between_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    # `rig -p P cmd` run in-process sets $RIG_PROJECT for the process (rig.cli); without this
    # a later test on the same worker silently works on an earlier test's project.
    monkeypatch.setenv("RIG_PROJECT", "")  # records the original, so teardown restores it
    monkeypatch.delenv("RIG_PROJECT")


@pytest.fixture(autouse=True)
def _no_session_left_running(request: pytest.FixtureRequest) -> Iterator[None]:
    # Asked for before the test runs, so tmp_path is torn down after this check.
    root = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    if root is None:
        return
    left = {str(db): ids for db in root.rglob("rig.db") if (ids := running_sessions(str(db)))}
    assert not left, f"sessions left running: {left}"
