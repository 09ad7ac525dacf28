"""torchrun DDP on CPU (gloo, 2 processes) trains like one process with the same global
batch: restoration and classification, tiny models, a few steps.

Tolerance: every weight within 1e-4 (absolute) of the single-process run after 6 Adam
steps, and the same per-epoch training losses within 1e-5. The two runs differ only in
float summation order (gradients all-reduced across ranks vs summed in one batch);
measured differences are ~1e-7. Models without BatchNorm: with it, CPU DDP normalises
each rank's half-batch by its own statistics (documented in rig.ml.trainer)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from mlfolders import write_folder, write_labelled_folder

from rig.ml import checkpoint as ckpt

WORKER = Path(__file__).with_name("ddp_worker.py")
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env.update(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return env


def _run(args: list[str]) -> None:
    done = subprocess.run(args, env=_env(), capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.parametrize("kind", ["restore", "classify"])
def test_two_gloo_processes_match_one_process(kind: str, tmp_path: Path) -> None:
    data = (write_folder(tmp_path / "data") if kind == "restore"
            else write_labelled_folder(tmp_path / "data", n=24, size=48))
    _run([sys.executable, str(WORKER), kind, str(data), str(tmp_path / "one"), "4"])
    _run([sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
          "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
          str(WORKER), kind, str(data), str(tmp_path / "two"), "2"])
    one = ckpt.load_checkpoint(tmp_path / "one" / ckpt.LAST)
    two = ckpt.load_checkpoint(tmp_path / "two" / ckpt.LAST)
    assert one["run"]["steps_done"] == two["run"]["steps_done"] == 6
    for key, tensor in one["model"].items():
        diff = float((tensor.float() - two["model"][key].float()).abs().max())
        assert diff <= 1e-4, (key, diff)
    losses_one = [h["train_loss"] for h in one["run"]["history"]]
    losses_two = [h["train_loss"] for h in two["run"]["history"]]
    assert losses_one == pytest.approx(losses_two, abs=1e-5)
    # The runs really moved: the weights are not the initial ones.
    assert one["run"]["history"][-1]["train_loss"] != one["run"]["history"][0]["train_loss"]
