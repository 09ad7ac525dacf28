"""Sweeps as jobs (rig.ml.jobs) on every executor (rig.ml.executors).

- The scheduling rules: a job runs after its needs, a failed job's dependants never run.
- The process executor on cheap jobs that check their own order: two at once, needs
  first, a failure keeps the independent jobs going, a rerun runs only the missing ones.
- The screen-photo study with --executor processes --workers 2 gives every run the same
  result as --executor local (fixed seeds; tiny models), and a partial study (one run's
  result removed) reruns that run only.
- --executor slurm through submitit's local emulation (subprocesses running the pickled
  jobs, the same submission code as on a cluster), chosen by the project's rig.toml.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from echojobs import EchoJob
from hypothesis import given
from hypothesis import strategies as st

from rig.cli import main
from rig.config import ExecutorConfig, SlurmConfig, dump_config
from rig.errors import RigError
from rig.ml.executors import ProcessExecutor, make_executor
from rig.ml.jobs import RESULT, blocked_jobs, ready_jobs
from rig.ml.study import StudyConfig, run_study
from rig.ml.studybench import makespan, max_difference
from rig.project import init_project


def _chain(root: Path) -> list[EchoJob]:
    # Two independent roots, each with two dependants; c1 also needs b.
    return [EchoJob("a", root), EchoJob("b", root), EchoJob("a1", root, ("a",)),
            EchoJob("a2", root, ("a",)), EchoJob("b1", root, ("b",)), EchoJob("c1", root, ("a1", "b"))]


@given(st.sets(st.sampled_from(["a", "b", "a1", "a2", "b1", "c1"])))
def test_ready_jobs_need_finished_needs_and_failures_block_dependants(finished: set[str]) -> None:
    jobs = _chain(Path("/nonexistent"))
    by_key = {j.key: j for j in jobs}
    for job in ready_jobs(jobs, finished, set()):
        assert job.key not in finished and set(job.needs) <= finished
    assert blocked_jobs(jobs, {"a"}) == {"a1", "a2", "c1"}
    assert blocked_jobs(jobs, {"b"}) == {"b1", "c1"}
    assert blocked_jobs(jobs, {"b1"}) == set()
    assert all(set(by_key[k].needs) <= finished for k in (j.key for j in ready_jobs(jobs, finished, set())))


def test_makespan_schedules_restorations_before_their_classifiers() -> None:
    assert makespan([10, 20], [[1, 2], [3, 4]], 1) == 40
    # Unbounded slots: the longest chain (a restoration, then one of its classifiers).
    assert makespan([10, 20], [[1, 2], [3, 4]], 8) == 24
    assert makespan([10, 10], [[5, 5], [5, 5]], 2) == 20


def test_max_difference_finds_the_largest_number_apart() -> None:
    assert max_difference({"a": [1.0, 2.0], "b": "x"}, {"a": [1.0, 2.5], "b": "x"}) == 0.5
    assert max_difference({"a": 1}, {"a": 1}) == 0.0
    assert max_difference({"a": [1]}, {"a": [1, 2]}) == float("inf")


def test_processes_run_two_at_once_needs_first_and_failures_spare_the_rest(tmp_path: Path) -> None:
    jobs = _chain(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "fail").touch()
    said: list[str] = []
    with pytest.raises(RigError, match=r"1 of 6 runs failed .*a: a was told to fail"):
        ProcessExecutor(2).run(jobs, said.append)
    done = {p.parent.name for p in tmp_path.glob(f"*/{RESULT}")}
    assert done == {"b", "b1"}  # a failed; a1, a2, c1 need it; b and b1 ran
    assert "a1: skipped (a run it needs failed)" in said
    # A spec is written when its job starts: the skipped ones have none.
    assert {p.parent.name for p in tmp_path.glob("*/job.json")} == {"a", "b", "b1"}
    pids = {json.loads((tmp_path / k / RESULT).read_text())["pid"] for k in done}
    assert os.getpid() not in pids
    # Fixed: only the missing runs execute, in two processes at once where they can.
    (tmp_path / "a" / "fail").unlink()
    stamp = (tmp_path / "b" / RESULT).stat().st_mtime_ns
    ticks: list[tuple[int, int]] = []
    outcome = ProcessExecutor(2).run(jobs, said.append, on_runs=lambda d, t: ticks.append((d, t)))
    assert sorted(outcome.kept) == ["b", "b1"] and sorted(outcome.ran) == ["a", "a1", "a2", "c1"]
    assert ticks == [(2, 6), (3, 6), (4, 6), (5, 6), (6, 6)]  # progress: kept first, then each run
    assert (tmp_path / "b" / RESULT).stat().st_mtime_ns == stamp


CONFIG = StudyConfig(splits=2, repeats=2, model="tinycnn", input_size=48, epochs=1, steps_per_epoch=2,
                     restore_model="tonecurve", device="cpu")


def _results(study: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted((study / "runs").glob(f"*/*/{RESULT}")):
        data = json.loads(path.read_text())
        out[f"{path.parent.parent.name}/{path.parent.name}"] = {
            k: v for k, v in data.items() if k not in ("run_dir", "data_dir") and not k.endswith("time_s")}
    return out


def test_processes_give_every_run_the_result_local_gives_and_resume_only_the_missing(
        generated: Path, tmp_path: Path) -> None:
    local = run_study(generated, tmp_path / "local", CONFIG)
    parallel = run_study(generated, tmp_path / "processes", CONFIG,
                         executor=make_executor(ExecutorConfig(kind="processes", workers=2), tmp_path))
    assert sorted(parallel["execution"]["ran"]) == sorted(local["execution"]["ran"])
    assert len(local["execution"]["ran"]) == 6  # 2 restorations + 2 x 2 classifiers
    by_run = _results(tmp_path / "local")
    assert set(by_run) == {"split-00/restore", "split-01/restore", "split-00/repeat-0", "split-00/repeat-1",
                           "split-01/repeat-0", "split-01/repeat-1"}
    assert _results(tmp_path / "processes") == by_run
    assert parallel["runs"] == local["runs"] and parallel["table"] == local["table"]
    # A partial study: one run's result (and its checkpoints) gone; only it runs again.
    victim = tmp_path / "processes" / "runs" / "split-01" / "repeat-0"
    shutil.rmtree(victim)
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "processes" / "runs").glob(f"*/*/{RESULT}")}
    said: list[str] = []
    again = run_study(generated, tmp_path / "processes", CONFIG, on_status=said.append,
                      executor=make_executor(ExecutorConfig(kind="processes", workers=2), tmp_path))
    assert again["execution"]["ran"] == ["split-01/repeat-0"]
    assert "split 1, repeat 0: started" in said and "split 0, repeat 0: started" not in said
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())
    assert _results(tmp_path / "processes") == by_run


def test_slurm_executor_through_submitit_local_emulation_from_rig_toml(
        generated: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = init_project(tmp_path / "proj")
    slurm = SlurmConfig(cluster="local", cpus_per_task=1, timeout_min=10)
    (project.root / "rig.toml").write_text(dump_config(replace(
        project.config, executor=ExecutorConfig(kind="slurm", slurm=slurm))))
    out = tmp_path / "study"
    args = ["study", "screen-photo", "--data", str(generated), "-o", str(out), "--project", str(project.root),
            "--splits", "2", "--repeats", "1", "--model", "tinycnn", "--input-size", "48", "--epochs", "1",
            "--steps", "2", "--restore-model", "tonecurve", "--device", "cpu", "--json"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert sorted(summary["execution"]["ran"]) == ["split-00/repeat-0", "split-00/restore",
                                                   "split-01/repeat-0", "split-01/restore"]
    # submitit's files: one folder per submitted job, the pickled job and its output.
    assert len(list((out / "slurm").glob("*/*_submitted.pkl"))) == 4
    local = run_study(generated, tmp_path / "local", StudyConfig(
        splits=2, repeats=1, model="tinycnn", input_size=48, epochs=1, steps_per_epoch=2,
        restore_model="tonecurve", device="cpu"))
    assert local["runs"] == summary["runs"]


def test_bad_executor_settings_are_one_line_usage_errors(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    base = ["study", "screen-photo", "--data", str(tmp_path / "none"), "-o", str(tmp_path / "s")]
    assert main([*base, "--executor", "cloud"]) == 2
    assert "kind must be one of local, processes, slurm" in capsys.readouterr().err
    assert main([*base, "--executor", "processes", "--workers", "-1"]) == 2


@pytest.mark.parametrize(("text", "match"), [
    ('[executor]\nkind = "cloud"\n', r"\[executor\]: kind must be one of local, processes, slurm"),
    ("[executor]\nworkers = -2\n", "workers must be >= 0"),
    ('[executor.slurm]\ncluster = "pbs"\n', "cluster must be slurm, local or debug"),
    ("[executor.slurm]\ncpus_per_task = 0\n", "cpus_per_task"),
])
def test_bad_executor_settings_in_rig_toml_name_the_field(tmp_path: Path, text: str, match: str) -> None:
    from rig.config import load_config

    path = tmp_path / "rig.toml"
    path.write_text(text)
    with pytest.raises(RigError, match=match):
        load_config(path)
