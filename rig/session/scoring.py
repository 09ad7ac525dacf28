"""Background scoring of captured photos by learned models, off the capture's critical path.

One mechanism serves the no-reference quality model (``--quality-gate RUN``: P(bad) of
every verified photo) and the diagnosis classifier (``--classifier RUN``: P(label)).

- **Core (no threads, no I/O):** ``Scorer`` is a model behind one call, image in,
  named numbers out; ``score_job`` runs every scorer on one job and turns a failure into
  a result with its error (a broken model never breaks a session).
- **Adapter:** ``BackgroundScorer`` owns one worker thread and a *bounded* queue.
  ``submit`` never blocks: when the queue is full the job is dropped and counted (the
  capture goes on; scores are a help, not a product). Results go to ``deliver`` on the
  worker thread; the runner hands them to its event loop (``call_soon_threadsafe``),
  which stores them (``capture_scores``) and emits ``CaptureScored``. The constructor is
  inert; models load lazily on the worker thread, the first time they score.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from rig.quality.learned_gate import QUALITY as QUALITY  # re-exported: the kinds live here
from rig.quality.learned_gate import QualityScorer, learned_gate_acts

CLASSIFY = "classify"
DEFAULT_QUEUE = 8


class Scorer(Protocol):
    @property
    def kind(self) -> str: ...  # "quality" | "classify": one stored row per capture and kind

    @property
    def run(self) -> str: ...  # the run folder it loaded

    def score(self, gray: np.ndarray) -> dict[str, float]: ...


@dataclass(frozen=True)
class ScoreJob:
    capture_id: int
    idx: int
    attempt: int
    load: Callable[[], np.ndarray]  # the photo to score, (H, W) uint8 grey


@dataclass(frozen=True)
class ScoreResult:
    capture_id: int
    idx: int
    attempt: int
    kind: str
    run: str
    scores: dict[str, float] = field(default_factory=dict)
    error: str | None = None


def score_job(job: ScoreJob, scorers: Sequence[Scorer]) -> list[ScoreResult]:
    """Every scorer's result for one job; an error is a result, never an exception."""
    try:
        image = job.load()
    except Exception as exc:  # an unreadable object: every scorer reports it
        return [ScoreResult(job.capture_id, job.idx, job.attempt, s.kind, s.run,
                            error=f"cannot read the photo: {exc}") for s in scorers]
    out = []
    for scorer in scorers:
        try:
            scores = scorer.score(image)
            out.append(ScoreResult(job.capture_id, job.idx, job.attempt, scorer.kind, scorer.run,
                                   scores))
        except Exception as exc:  # the model's problem, reported with the capture
            out.append(ScoreResult(job.capture_id, job.idx, job.attempt, scorer.kind,
                                   scorer.run, error=f"{type(exc).__name__}: {exc}"))
    return out


_STOP = object()


class BackgroundScorer:
    """One worker thread scoring jobs from a bounded queue (see the module docstring)."""

    def __init__(self, scorers: Sequence[Scorer], deliver: Callable[[ScoreResult], None],
                 max_queue: int = DEFAULT_QUEUE) -> None:
        self.scorers, self.deliver, self.max_queue = list(scorers), deliver, max_queue
        self.dropped = 0
        self._queue: queue.Queue[object] | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._queue = queue.Queue(self.max_queue)
        self._thread = threading.Thread(target=self._work, name="rig-scoring", daemon=True)
        self._thread.start()

    def submit(self, job: ScoreJob) -> bool:
        """Queue ``job`` without waiting; False (and counted) when the queue is full."""
        assert self._queue is not None, "start() first"
        try:
            self._queue.put_nowait(job)
            return True
        except queue.Full:
            self.dropped += 1
            return False

    def stop(self) -> None:
        """Score what is queued, then end the worker."""
        if self._queue is None or self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join()
        self._queue = self._thread = None

    def _work(self) -> None:
        assert self._queue is not None
        while True:
            job = self._queue.get()
            if job is _STOP:
                return
            assert isinstance(job, ScoreJob)
            for result in score_job(job, self.scorers):
                self.deliver(result)


@dataclass
class ClassifierScorer:
    """P(label) per label from a ``rig train classify`` run (``rig.ml.diagnose``)."""

    run_path: Path
    kind: str = CLASSIFY
    _diagnoser: object = None

    @property
    def run(self) -> str:
        return str(self.run_path)

    def score(self, gray: np.ndarray) -> dict[str, float]:
        from rig.ml.diagnose import Diagnoser

        if self._diagnoser is None:
            self._diagnoser = Diagnoser(self.run_path)
        return self._diagnoser.probabilities(gray)  # type: ignore[attr-defined]


def scorers_for(quality_gate: str | None, classifier: str | None) -> list[Scorer]:
    """The scorers a plan asks for (none: no background worker at all)."""
    out: list[Scorer] = []
    if quality_gate:
        out.append(QualityScorer(Path(quality_gate)))
    if classifier:
        out.append(ClassifierScorer(Path(classifier)))
    return out


def learned_gate_for(quality_gate: str | None, camera: str) -> QualityScorer | None:
    """The learned model acting as the gate: ``--quality-gate`` on a camera whose photos the
    frame code cannot verify live (``rig.quality.learned_gate``); else None (scored only)."""
    return QualityScorer(Path(quality_gate)) if quality_gate and learned_gate_acts(camera) else None
