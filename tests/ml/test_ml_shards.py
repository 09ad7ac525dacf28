"""Training streamed from WebDataset shards (rig.ml.shards): shards written from a folder
hold its bytes; the streams of every (rank, worker) read disjoint shards that together
cover all of them on every pass; a run killed after an epoch and resumed ends with the
same weights as the uninterrupted run — in one process with 2 DataLoader workers, and in
2 gloo processes under torchrun (sharded across ranks)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from mlfolders import write_folder
from shard_worker import config
from test_ml_ddp import _env, _free_port

from rig.cli import main
from rig.errors import UsageError
from rig.ml import checkpoint as ckpt
from rig.ml.data import read_manifest
from rig.ml.shards import StreamPlan, expand_shards, iter_shard, worker_batches
from rig.ml.train import EpochDone, Event, train_from_shards

WORKER = Path(__file__).with_name("shard_worker.py")


@given(st.integers(1, 40), st.integers(1, 4), st.integers(1, 3), st.integers(0, 5), st.integers(0, 99))
def test_streams_read_disjoint_shards_covering_all(n: int, world: int, workers: int, pass_: int,
                                                    seed: int) -> None:
    if n < world * workers:
        return
    seen = [s for r in range(world) for w in range(workers)
            for s in StreamPlan(n, seed, world, r, workers).shards(pass_, w)]
    assert sorted(seen) == list(range(n))
    assert sum(worker_batches(7, w, workers) for w in range(workers)) == 7


@pytest.fixture
def shards(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    data = write_folder(tmp_path / "data", n=12, size=64, splits=("train",) * 12)
    assert main(["shards", str(data), "-o", str(tmp_path / "shards"), "--shard-size", "2", "--json"]) == 0
    capsys.readouterr()
    return str(tmp_path / "shards" / "train-{000000..000005}.tar")


def test_shards_hold_the_folders_bytes(shards: str, tmp_path: Path) -> None:
    records = {r.pair_id: r for r in read_manifest(tmp_path / "data").records}
    urls = expand_shards(shards)
    assert len(urls) == 6
    got = [s for u in urls for s in iter_shard(u)]
    assert [s["__key__"] for s in got] == sorted(records)
    for s in got:
        rec = records[s["__key__"]]
        assert s["gt.png"] == rec.ground_truth.read_bytes() and s["aligned.png"] == rec.aligned.read_bytes()
        assert s["mask.png"] == rec.mask.read_bytes()


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return dict(ckpt.load_checkpoint(run / ckpt.LAST)["model"])


def test_a_killed_streamed_run_resumes_to_the_same_weights(shards: str, tmp_path: Path) -> None:
    straight, killed, other = tmp_path / "straight", tmp_path / "killed", tmp_path / "other"

    def snapshot(event: Event) -> None:
        if isinstance(event, EpochDone) and event.epoch == 0:
            shutil.copytree(straight, killed)
            shutil.copytree(straight, other)

    train_from_shards(shards, straight, config(2), on_event=snapshot)
    state = ckpt.load_checkpoint(killed / ckpt.LAST)["run"]
    assert state["epoch"] == 0 and state["data_position"]["workers"] == 2
    train_from_shards(shards, killed, config(2), resume=True)
    one, two = _weights(straight), _weights(killed)
    assert all(torch.equal(one[k], two[k]) for k in one)
    with pytest.raises(UsageError, match=r"1 process\(es\) x 2 worker"):
        train_from_shards(shards, other, config(0), resume=True)  # another worker count


def _torchrun(args: list[str]) -> None:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
           "--master_addr", "127.0.0.1", "--master_port", str(_free_port()), str(WORKER), *args]
    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]


def test_two_gloo_processes_read_disjoint_shards_and_resume_exactly(shards: str, tmp_path: Path) -> None:
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    _torchrun([shards, str(straight), str(killed), "fresh", "0"])
    position = ckpt.load_checkpoint(straight / ckpt.LAST)["run"]["data_position"]
    assert position["world"] == 2 and len(position["places"]) == 2
    # Each rank read its own shards: pass 0 deals ranks disjoint halves of the 6.
    halves = [set(StreamPlan(6, 0, 2, r, 1).shards(0, 0)) for r in (0, 1)]
    assert not halves[0] & halves[1] and len(halves[0] | halves[1]) == 6
    assert ckpt.load_checkpoint(killed / ckpt.LAST)["run"]["epoch"] == 0
    _torchrun([shards, str(killed), "", "resume", "0"])
    one, two = _weights(straight), _weights(killed)
    assert all(torch.equal(one[k], two[k]) for k in one)
    history = ckpt.load_checkpoint(straight / ckpt.LAST)["run"]["history"]
    assert history[-1]["train_loss"] != history[0]["train_loss"]
