"""Runs of a sweep as self-contained, resumable jobs, and the order they may run in.

A sweep (the screen-photo study: a restoration per split, classifiers per split x
repeat) is a list of ``Job`` specs: small frozen dataclasses that hold everything a run
needs (data folder, run folder, config), so any process on any machine can execute one
from the spec alone (``run_job``: pickled by ``rig.ml.executors`` for process pools and
Slurm arrays; also written as ``job.json`` beside the run for people).

A job is **finished when its run folder holds ``result.json``**, which ``execute``
writes atomically as its last act; a killed job resumes from its run's last checkpoint
(``rig.ml.trainer``). So a sweep never needs a record of its own: rerunning it executes
exactly the jobs without a result, whichever executor ran the others.

Dependencies are keys (``needs``): a job is ready once every job it needs is finished.
``ready_jobs`` and ``blocked_jobs`` are the pure scheduling rules every executor shares.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rig.atomic import write_text_atomic

if TYPE_CHECKING:  # torch stays unimported until a job runs (spawned workers start fast)
    from rig.ml.trainer import EventSink

RESULT = "result.json"
SPEC = "job.json"


class Job(Protocol):
    """One run of a sweep, as every executor sees it."""

    @property
    def key(self) -> str:
        """Unique within the sweep (``split-00/repeat-1``); other jobs name it in ``needs``."""
        ...

    @property
    def needs(self) -> tuple[str, ...]: ...

    @property
    def title(self) -> str:
        """For status lines: ``split 0, repeat 1``."""
        ...

    @property
    def run_dir(self) -> Path: ...

    def execute(self, on_event: EventSink | None = None) -> dict[str, Any]:
        """Train (or resume) and evaluate; write ``run_dir/result.json`` last; return it."""
        ...


def is_finished(job: Job) -> bool:
    return (job.run_dir / RESULT).is_file()


def read_result(job: Job) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((job.run_dir / RESULT).read_text())
    return data


def write_result(run_dir: Path, payload: dict[str, Any]) -> None:
    """The job's last act: its result, atomically (a killed job leaves none)."""
    write_text_atomic(run_dir / RESULT, json.dumps(payload, indent=1, sort_keys=True) + "\n")


def write_spec(job: Job) -> None:
    """``job.json``: the spec as data, so a run folder says what ran in it."""
    job.run_dir.mkdir(parents=True, exist_ok=True)
    spec = {"kind": type(job).__name__, "key": job.key, "needs": list(job.needs),
            **asdict(job)}  # type: ignore[call-overload]
    write_text_atomic(job.run_dir / SPEC, json.dumps(spec, indent=2, sort_keys=True, default=str) + "\n")


def ready_jobs(jobs: Sequence[Job], finished: set[str], taken: set[str]) -> list[Job]:
    """Jobs not finished nor taken (running or failed) whose needs are all finished, in order."""
    return [j for j in jobs if j.key not in finished and j.key not in taken
            and all(n in finished for n in j.needs)]


def blocked_jobs(jobs: Sequence[Job], failed: Iterable[str]) -> set[str]:
    """Keys of the jobs that can never run because something they need (transitively) failed."""
    out = set(failed)
    grew = True
    while grew:
        more = {j.key for j in jobs if j.key not in out and any(n in out for n in j.needs)}
        grew = bool(more)
        out |= more
    return out - set(failed)


def check_jobs(jobs: Sequence[Job]) -> None:
    """Keys unique and every need names a job of the sweep (a bug otherwise)."""
    keys = [j.key for j in jobs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate job keys in {keys}")
    unknown = {n for j in jobs for n in j.needs} - set(keys)
    if unknown:
        raise ValueError(f"jobs need unknown keys {sorted(unknown)}")


@dataclass
class Outcome:
    """What an executor did with a sweep."""

    kept: list[str] = field(default_factory=list)  # finished before this call
    ran: list[str] = field(default_factory=list)  # finished now
    failed: dict[str, str] = field(default_factory=dict)  # key -> one-line reason
    seconds: dict[str, float] = field(default_factory=dict)  # key -> wall time of its execution
    skipped: list[str] = field(default_factory=list)  # needed a failed job

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def thread_count(workers: int, cores: int | None = None) -> int:
    """Torch threads per process so ``workers`` processes share the machine's cores."""
    return max(1, (cores or os.cpu_count() or 1) // max(1, workers))


def limit_threads(threads: int) -> None:
    """Use ``threads`` CPU threads in this process (0: the Slurm allocation, else leave as is).

    Set in the environment too, which torch (OpenMP) and OpenCV read when first imported,
    so a worker that has not imported them yet is limited as well.
    """
    if threads <= 0:
        threads = int(os.environ.get("SLURM_CPUS_PER_TASK", "0") or 0)
    if threads <= 0:
        return
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENCV_FOR_THREADS_NUM"):
        os.environ[name] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    if "cv2" in sys.modules:
        sys.modules["cv2"].setNumThreads(threads)


def timed_execute(job: Job, on_event: EventSink | None = None) -> float:
    """Execute ``job``; its wall time in seconds."""
    start = time.perf_counter()
    job.execute(on_event)
    return time.perf_counter() - start


def run_job(job: Job, threads: int = 0) -> float:
    """Execute one job in this process (the entry point of worker processes and Slurm
    tasks); its wall time in seconds."""
    limit_threads(threads)
    return timed_execute(job)
