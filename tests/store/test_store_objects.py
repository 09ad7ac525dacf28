"""Content-addressed objects and atomic writes."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rig.atomic import write_bytes_atomic
from rig.errors import StoreError
from rig.store.objects import ObjectStore


@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=4096))
def test_put_get_roundtrip(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    store = ObjectStore(tmp_path_factory.mktemp("objects"))
    sha = store.put(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert store.get(sha) == data
    assert store.put(data) == sha  # idempotent


def test_corrupted_object_is_detected(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path)
    sha = store.put(b"ground truth")
    store.path_for(sha).write_bytes(b"ground trutH")
    with pytest.raises(StoreError, match="does not match its hash"):
        store.get(sha)


def test_bad_object_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        ObjectStore(tmp_path).path_for("../../etc/passwd")


def test_atomic_write_survives_a_killed_writer(tmp_path: Path) -> None:
    """A process killed mid-write leaves the old content, never a torn file."""
    target = tmp_path / "state.bin"
    write_bytes_atomic(target, b"old" * 1000)
    code = (
        "import os, sys\n"
        "from rig.atomic import atomic_open\n"
        f"with atomic_open({str(target)!r}) as f:\n"
        "    f.write(b'new' * 500)\n"
        "    f.flush()\n"
        "    os.kill(os.getpid(), 9)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], check=False)
    assert proc.returncode == -9
    assert target.read_bytes() == b"old" * 1000
    leftovers = [p for p in os.listdir(tmp_path) if p != "state.bin"]
    assert all(p.endswith(".tmp") for p in leftovers)
