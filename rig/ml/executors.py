"""Where a sweep's jobs run: in order here, N processes here, or a Slurm job array.

Every executor takes the same ``Job`` list (``rig.ml.jobs``) and the same rules: jobs
already finished (``result.json`` in their run folder) are kept, a job starts once the
jobs it ``needs`` are finished, a failed job's dependants are skipped, and the other
jobs still run; the caller reads results from the run folders afterwards.

- ``local``: one job at a time in this process, in list order, with step-level
  progress; the first failure stops the sweep (what ``rig study`` always did).
- ``processes``: N spawned worker processes (``--workers``; default one per core),
  each limited to cores // N torch threads so they share the CPU instead of fighting
  over it, and on a GPU box given GPU (worker % GPUs) through CUDA_VISIBLE_DEVICES.
  A job starts the moment its needs are met.
- ``slurm``: submitit job arrays, one per wave of ready jobs (the classifiers' array is
  submitted when the restoration array has finished); each task reads its CPU share
  from SLURM_CPUS_PER_TASK. ``cluster = "local"`` / ``"debug"`` (rig.toml
  ``[executor.slurm]``) run the same submission code through submitit's emulations.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from rig.config import ExecutorConfig, SlurmConfig
from rig.errors import RigError, UsageError
from rig.ml.jobs import (
    Job,
    Outcome,
    blocked_jobs,
    check_jobs,
    is_finished,
    limit_threads,
    ready_jobs,
    run_job,
    thread_count,
    timed_execute,
    write_spec,
)

if TYPE_CHECKING:
    from rig.ml.trainer import EventSink

Status = Callable[[str], None]
RunsProgress = Callable[[int, int], None]  # (runs settled: finished or failed, all runs)


class Executor(Protocol):
    def run(self, jobs: Sequence[Job], on_status: Status, on_event: EventSink | None = None,
            on_runs: RunsProgress | None = None) -> Outcome:
        """Run every unfinished job (needs first); raise ``RigError`` if any failed."""
        ...


def _start(jobs: Sequence[Job], on_status: Status) -> tuple[Outcome, set[str]]:
    check_jobs(jobs)
    outcome = Outcome()
    for job in jobs:
        if is_finished(job):
            outcome.kept.append(job.key)
            on_status(f"{job.title}: done earlier, kept")
    return outcome, set(outcome.kept)


def _tally(outcome: Outcome, jobs: Sequence[Job], on_runs: RunsProgress | None) -> None:
    if on_runs is not None:
        on_runs(len(outcome.kept) + len(outcome.ran) + len(outcome.failed), len(jobs))


def _starting(job: Job, on_status: Status) -> Job:
    """A job about to run: its spec written into its run folder (made now, not before)."""
    write_spec(job)
    on_status(f"{job.title}: started")
    return job


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[-1] if text else type(exc).__name__)[:300]


def _finish(jobs: Sequence[Job], outcome: Outcome, on_status: Status) -> Outcome:
    outcome.skipped = sorted(blocked_jobs(jobs, outcome.failed))
    for key in outcome.skipped:
        on_status(f"{key}: skipped (a run it needs failed)")
    if outcome.failed:
        first = next(iter(outcome.failed.items()))
        raise RigError(f"{len(outcome.failed)} of {len(jobs)} runs failed (first: {first[0]}: {first[1]}); "
                       f"{len(outcome.ran) + len(outcome.kept)} finished runs are kept: fix the cause "
                       "and rerun the same command to run only the missing ones")
    return outcome


@dataclass(frozen=True)
class LocalExecutor:
    """One job after another in this process."""

    def run(self, jobs: Sequence[Job], on_status: Status, on_event: EventSink | None = None,
            on_runs: RunsProgress | None = None) -> Outcome:
        outcome, finished = _start(jobs, on_status)
        _tally(outcome, jobs, on_runs)
        while todo := ready_jobs(jobs, finished, set()):
            job = _starting(todo[0], on_status)
            outcome.seconds[job.key] = timed_execute(job, on_event)
            finished.add(job.key)
            outcome.ran.append(job.key)
            on_status(f"{job.title}: finished")
            _tally(outcome, jobs, on_runs)
        return outcome


def _init_worker(threads: int, gpus: int, counter: Any) -> None:
    """Runs first in every worker process: its CPU share, and its GPU on a GPU box."""
    with counter.get_lock():
        slot = counter.value
        counter.value += 1
    if gpus > 0:  # before CUDA is initialised in this process
        os.environ["CUDA_VISIBLE_DEVICES"] = str(slot % gpus)
    limit_threads(threads)


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


@dataclass(frozen=True)
class ProcessExecutor:
    """``workers`` jobs at once on this machine, each in its own spawned process."""

    workers: int

    def run(self, jobs: Sequence[Job], on_status: Status, on_event: EventSink | None = None,
            on_runs: RunsProgress | None = None) -> Outcome:
        outcome, finished = _start(jobs, on_status)
        _tally(outcome, jobs, on_runs)
        if all(j.key in finished for j in jobs):
            return outcome
        threads = thread_count(self.workers)
        # spawn, not fork: a forked child of a process whose torch/OpenMP pools already ran
        # can deadlock; spawned workers import rig afresh (once each: the pool keeps them).
        ctx = multiprocessing.get_context("spawn")
        counter = ctx.Value("i", 0)
        running: dict[Future[float], Job] = {}
        with ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_worker,
                                 initargs=(threads, _gpu_count(), counter)) as pool:
            try:
                while True:
                    taken = {j.key for j in running.values()} | set(outcome.failed)
                    blocked = blocked_jobs(jobs, outcome.failed)
                    for job in ready_jobs(jobs, finished, taken | blocked):
                        if len(running) >= self.workers:
                            break
                        running[pool.submit(run_job, _starting(job, on_status), threads)] = job
                    if not running:
                        break
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        job = running.pop(future)
                        self._collect(future, job, outcome, finished, on_status)
                        _tally(outcome, jobs, on_runs)
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
        return _finish(jobs, outcome, on_status)

    @staticmethod
    def _collect(future: Future[float], job: Job, outcome: Outcome, finished: set[str],
                 on_status: Status) -> None:
        exc = future.exception()
        if exc is None:
            outcome.seconds[job.key] = future.result()
            finished.add(job.key)
            outcome.ran.append(job.key)
            on_status(f"{job.title}: finished")
        else:
            outcome.failed[job.key] = _reason(exc)
            on_status(f"{job.title}: failed: {outcome.failed[job.key]}")


@dataclass(frozen=True)
class SubmititExecutor:
    """Waves of ready jobs, each submitted as one job array through submitit."""

    folder: Path  # submitit's scripts, pickles and logs
    settings: SlurmConfig

    def _executor(self) -> Any:
        import submitit

        ex = submitit.AutoExecutor(folder=self.folder / "%j", cluster=self.settings.cluster)
        s = self.settings
        params: dict[str, Any] = {"name": "rig-run", "timeout_min": s.timeout_min,
                                  "cpus_per_task": s.cpus_per_task, "mem_gb": s.mem_gb,
                                  "slurm_array_parallelism": s.array_parallelism}
        if s.gpus_per_node:
            params["gpus_per_node"] = s.gpus_per_node
        if s.partition:
            params["slurm_partition"] = s.partition
        if s.account:
            params["slurm_account"] = s.account
        ex.update_parameters(**params)
        return ex

    def run(self, jobs: Sequence[Job], on_status: Status, on_event: EventSink | None = None,
            on_runs: RunsProgress | None = None) -> Outcome:
        outcome, finished = _start(jobs, on_status)
        _tally(outcome, jobs, on_runs)
        executor = None
        while True:
            blocked = blocked_jobs(jobs, outcome.failed)
            wave = ready_jobs(jobs, finished, set(outcome.failed) | blocked)
            if not wave:
                break
            executor = executor or self._executor()
            with executor.batch():  # one sbatch --array for the whole wave
                submitted = [executor.submit(run_job, _starting(job, on_status), 0) for job in wave]
            ids = sorted({str(s.job_id).split("_")[0] for s in submitted})
            on_status(f"submitted {len(wave)} run(s) as job {', '.join(ids)} ({self.settings.cluster})")
            for job, sub in zip(wave, submitted, strict=True):
                try:
                    outcome.seconds[job.key] = float(sub.result())
                except Exception as exc:  # a failed task is reported, the others go on
                    outcome.failed[job.key] = _reason(exc)
                    on_status(f"{job.title}: failed: {outcome.failed[job.key]}")
                    _tally(outcome, jobs, on_runs)
                    continue
                finished.add(job.key)
                outcome.ran.append(job.key)
                on_status(f"{job.title}: finished")
                _tally(outcome, jobs, on_runs)
        return _finish(jobs, outcome, on_status)


def make_executor(config: ExecutorConfig, work_dir: Path) -> Executor:
    """The executor ``config`` names (``work_dir``: the sweep's folder, for Slurm's files)."""
    config.validate("executor")
    builders: dict[str, Callable[[], Executor]] = {
        "local": LocalExecutor,
        "processes": lambda: ProcessExecutor(config.workers or os.cpu_count() or 1),
        "slurm": lambda: SubmititExecutor(work_dir / "slurm", config.slurm),
    }
    if config.kind not in builders:
        raise UsageError(f"--executor {config.kind!r}: use local, processes or slurm")
    return builders[config.kind]()
