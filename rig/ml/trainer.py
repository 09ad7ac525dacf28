"""One training loop for every rig model (restoration, classification, image quality).

A model family plugs in as a ``Task`` (what to build, the samples of an epoch, the
loss, the validation score); this module owns everything else, the same way for all:

- **Work is planned in optimiser steps.** ``epochs × steps_per_epoch`` steps of
  ``batch`` samples per process. Sample i of epoch e is a pure function of
  ``(seed, e, i)`` (the task's dataset guarantees it), the model is initialised from
  ``seed``, the learning rate is a pure function of the step (linear warm-up over epoch
  0, then cosine to 1 % at the last planned step), torch's RNG is reseeded per epoch.
  So a fixed-step run is the same run on every machine, however busy (benchmarks use
  this), and ``resume`` continues bit-identically from the last epoch's checkpoint.
- **An optional time budget** (``budget_min``) re-plans the steps after every epoch from
  the mean cost so far; the cosine stretches to it and the last epoch is cut to the steps
  that fit. The answer then depends on the machine: for quick looks, not for evidence.
- **Early stopping** watches the task's validation score (higher is better) with
  ``patience`` epochs; the untrained model is validated first and is the first
  candidate for ``best.pt``.
- **Devices:** CPU; CUDA with float16 autocast and gradient scaling; bfloat16 autocast
  on CPUs that have it (``cpu_bf16``). Under ``torchrun`` (WORLD_SIZE > 1) the model is
  wrapped in DistributedDataParallel (gloo on CPU, nccl on CUDA; BatchNorm becomes
  SyncBatchNorm on CUDA), each rank trains on a disjoint share of every global batch
  (``DistributedSampler`` without shuffling: rank r takes samples r, r+W, …), rank 0
  validates and writes checkpoints, and decisions (budget, early stop) are rank 0's.
  The loss is normalised by the *global* weight (all-reduced), so W processes with batch
  B follow the same gradients as one process with batch W·B (up to float summation
  order, and BatchNorm statistics, which on CPU are per rank).
- **Checkpoints** (``rig.ml.checkpoint``, format 2): model, optimiser and scaler
  state, the task's config, the data fingerprint and the ``RunState``.
- Progress goes to ``on_event``; this module prints nothing.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from rig.errors import InputError, UsageError
from rig.ml import checkpoint as ckpt


@dataclass(frozen=True)
class LoopConfig:
    """The training-loop settings every model family shares."""

    epochs: int = 20
    steps_per_epoch: int = 100
    batch: int = 4  # per process
    lr: float = 1e-3
    clip_grad: float = 0.0  # max gradient norm; 0: no clipping
    weight_decay: float = 0.0
    seed: int = 0
    budget_min: float | None = None  # None: exactly epochs x steps_per_epoch steps
    patience: int = 5  # epochs without a validation gain before stopping
    min_gain: float = 0.01  # in the task's score units
    device: str = "auto"
    cpu_bf16: bool = False
    num_workers: int = 0
    channels_last: bool = True

    def check(self) -> None:
        for name in ("epochs", "steps_per_epoch", "batch"):
            if getattr(self, name) < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be >= 1")
        if self.budget_min is not None and self.budget_min <= 0:
            raise UsageError("--budget-min must be > 0")
        if self.lr < 0:
            raise UsageError("--lr must be >= 0")


@dataclass
class RunState:
    """Where a run stands; saved in every checkpoint (``run``)."""

    epoch: int = -1  # last finished epoch
    steps_done: int = 0
    planned_steps: int = 0
    train_s: float = 0.0  # seconds spent in optimiser steps
    elapsed_s: float = 0.0  # seconds in all (validation and checkpoints included)
    best_score: float = -math.inf
    best: dict[str, float] = field(default_factory=dict)  # validation metrics of best.pt
    init: dict[str, float] = field(default_factory=dict)  # validation metrics before training
    since_best: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)  # one record per epoch
    done: bool = False
    stop_reason: str = ""
    # Streamed data (rig.ml.shards): {"world", "workers", "places": [[pass, slot, offset]
    # per rank x worker]}, where every stream continues; {} for map-style data.
    data_position: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunState:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class ModelBuild:
    model: nn.Module
    name: str
    config: dict[str, Any]


@dataclass(frozen=True)
class LossOut:
    per_sample: torch.Tensor  # (B,) loss of each sample
    weight: torch.Tensor  # (B,) its weight in the batch mean (e.g. labels not masked)
    logs: dict[str, float] = field(default_factory=dict)  # per-batch values averaged per epoch


class EpochData(Protocol):
    """A map-style dataset whose sample i depends only on (seed, epoch, i)."""

    def set_epoch(self, epoch: int) -> None: ...

    def __len__(self) -> int: ...

    def __getitem__(self, i: int) -> tuple[torch.Tensor, ...]: ...


class Task(Protocol):
    """A model family, as the loop sees it."""

    kind: str  # "restore", "classify", ...: stored in checkpoints
    closed_form: bool  # fitted by ``prepare`` alone (no optimiser steps)
    fingerprint: str  # of the training data; a resumed run refuses other data

    def build(self) -> ModelBuild: ...

    def prepare(self, model: nn.Module) -> None: ...

    def train_data(self, samples: int) -> EpochData: ...

    def forward(self, net: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor: ...

    def loss(self, out: torch.Tensor, batch: tuple[torch.Tensor, ...]) -> LossOut: ...

    def epoch_log(self, means: dict[str, float]) -> dict[str, Any]: ...

    def validate(self, model: nn.Module, device: torch.device, cpu_bf16: bool) -> dict[str, float]:
        """Validation metrics (``val_*``) and ``score`` (higher is better)."""
        ...

    def describe(self) -> dict[str, Any]:
        """The task's config as JSON-able data (``train_config`` in checkpoints)."""
        ...


@dataclass(frozen=True)
class StepDone:
    epoch: int
    step: int
    steps: int
    loss: float


@dataclass(frozen=True)
class EpochDone:
    epoch: int
    planned_epochs: int
    record: dict[str, Any]


Event = StepDone | EpochDone
EventSink = Callable[[Event], None]


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    epochs_done: int
    steps_done: int
    stop_reason: str
    train_time_s: float  # all seconds of the run (the sum over resumed sessions)
    best: dict[str, float]
    step_time_s: float = 0.0  # of which in optimiser steps (no validation, no checkpoints)

    @property
    def best_val_psnr(self) -> float:
        return float(self.best.get("val_psnr", math.nan))

    @property
    def best_val_ssim(self) -> float:
        return float(self.best.get("val_ssim", math.nan))

    def to_json(self) -> dict[str, Any]:
        return {"run_dir": str(self.run_dir), "epochs_done": self.epochs_done,
                "steps_done": self.steps_done, "stop_reason": self.stop_reason,
                "train_time_s": round(self.train_time_s, 3), "step_time_s": round(self.step_time_s, 3),
                "best": self.best,
                "best_val_psnr": self.best_val_psnr, "best_val_ssim": self.best_val_ssim}


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise UsageError("--device cuda: no CUDA device here; use --device cpu or auto")
        return torch.device("cuda", local_rank)
    if name != "cpu":
        raise UsageError(f"--device '{name}': use auto, cpu or cuda")
    return torch.device("cpu")


def cpu_has_bf16() -> bool:
    """Whether this CPU runs bfloat16 convolutions natively (AVX512-BF16 / AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def lr_at(cfg: LoopConfig, epoch: int, step: int, planned_steps: int) -> float:
    """Linear warm-up over epoch 0, then cosine to 1 % at step ``planned_steps``."""
    spe = cfg.steps_per_epoch
    if epoch == 0:
        return cfg.lr * (0.1 + 0.9 * (step + 1) / spe)
    span = max(spe, planned_steps - spe)
    t = min(1.0, (epoch * spe + step - spe) / span)
    return cfg.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t)))


def replan_steps(cfg: LoopConfig, steps_done: int, epochs_done: int, train_s: float,
                 spent_s: float, budget_s: float) -> int:
    """Total optimiser steps that fit the budget, from the costs measured so far.

    A step costs ``train_s / steps_done``; every epoch adds a fixed cost (validation,
    checkpoint), which a cut last epoch pays in full, so it is counted per epoch, and the
    epoch just trained has yet to pay its own.
    """
    per_step = train_s / max(steps_done, 1)
    per_epoch = max(0.0, spent_s - train_s) / max(epochs_done, 1)
    left = (budget_s - spent_s) * 0.97 - per_epoch
    spe = cfg.steps_per_epoch
    epochs_left = math.ceil(max(0.0, left) / max(spe * per_step + per_epoch, 1e-9))
    fit = int(max(0.0, left - epochs_left * per_epoch) / max(per_step, 1e-9))
    return max(steps_done, min(cfg.epochs * spe, steps_done + fit))


def planned_epochs(cfg: LoopConfig, planned_steps: int) -> int:
    return -(-planned_steps // cfg.steps_per_epoch)


def distributed() -> tuple[int, int, int]:
    """(world size, rank, local rank) from torchrun's environment."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return world, int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))


def _from_rank0(value: float, world: int, device: torch.device) -> float:
    """Rank 0's value on every rank, so that all ranks take the same decisions."""
    if world == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.broadcast(t, src=0)
    return float(t.item())


def _any_rank(flag: bool, world: int, device: torch.device) -> bool:
    if world == 1:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def _global_sum(t: torch.Tensor, world: int) -> torch.Tensor:
    if world == 1:
        return t
    t = t.detach().clone()
    dist.all_reduce(t)
    return t


@contextmanager
def _process_group(world: int, device: torch.device) -> Iterator[bool]:
    own = world > 1 and not dist.is_initialized()
    if own:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield own
    finally:
        if own:
            dist.destroy_process_group()


@dataclass
class _Loop:
    """One run's moving parts (built once, used by every epoch)."""

    task: Task
    cfg: LoopConfig
    run_dir: Path
    model: nn.Module
    build: ModelBuild
    net: nn.Module
    optimizer: torch.optim.Optimizer | None  # None for closed-form models
    scaler: torch.amp.GradScaler
    device: torch.device
    world: int
    rank: int
    on_event: EventSink
    clock: Callable[[], float]

    def state_dict(self, run: RunState, slim: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": ckpt.FORMAT, "task": self.task.kind, "model": self.model.state_dict(),
            "model_name": self.build.name, "model_config": self.build.config,
            "train_config": {**self.task.describe(), "loop": asdict(self.cfg)},
            "data_fingerprint": self.task.fingerprint, "run": asdict(run)}
        if not slim and self.optimizer is not None:
            out["optimizer"] = self.optimizer.state_dict()
            out["scaler"] = self.scaler.state_dict()
        return out

    def save(self, run: RunState, best: bool) -> None:
        if self.rank != 0:
            return
        ckpt.save_checkpoint(self.run_dir / ckpt.LAST, self.state_dict(run))
        if best:
            ckpt.save_checkpoint(self.run_dir / ckpt.BEST, self.state_dict(run, slim=True))
        ckpt.write_metrics(self.run_dir, run.history)


def fit(task: Task, run_dir: Path, cfg: LoopConfig, *, resume: bool = False,
        on_event: EventSink | None = None, clock: Callable[[], float] | None = None) -> TrainResult:
    """Train ``task``'s model into ``run_dir`` (created), or continue it with ``resume``."""
    import time

    cfg.check()
    sink: EventSink = on_event or (lambda _e: None)
    tick = clock or time.monotonic
    run_dir.mkdir(parents=True, exist_ok=True)
    if (run_dir / ckpt.LAST).is_file() and not resume:
        raise UsageError(f"{run_dir}: already holds a run; pass --resume or choose a new -o folder")
    world, rank, local_rank = distributed()
    device = pick_device(cfg.device, local_rank)
    with _process_group(world, device):
        torch.manual_seed(cfg.seed)
        build = task.build()
        model = build.model
        task.prepare(model)  # overwritten by the checkpoint on resume
        model.to(device)
        if cfg.channels_last:
            # oneDNN's (and cuDNN's) fast conv layout: 1.2x per DnCNN step on a 2-core EPYC.
            model.to(memory_format=torch.channels_last)
        optimizer = (None if task.closed_form else
                     torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay))
        scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda")
        run = RunState(planned_steps=cfg.epochs * cfg.steps_per_epoch)
        loop = _Loop(task, cfg, run_dir, model, build, model, optimizer, scaler, device, world,
                     rank, sink, tick)
        if resume and (run_dir / ckpt.LAST).is_file():
            run = _restore(loop, run)
            if run.done:
                return _result(run_dir, run)
        if task.closed_form:
            return _closed_form(loop)
        if world > 1:
            if device.type == "cuda":
                model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
            loop.net = nn.parallel.DistributedDataParallel(
                model, device_ids=[local_rank] if device.type == "cuda" else None)
        run = _train_epochs(loop, run)
        if world > 1:
            dist.barrier()
    return _result(run_dir, run)


def _result(run_dir: Path, run: RunState) -> TrainResult:
    return TrainResult(run_dir, run.epoch + 1, run.steps_done, run.stop_reason, run.elapsed_s,
                       dict(run.best), run.train_s)


def _restore(loop: _Loop, fresh: RunState) -> RunState:
    state = ckpt.load_checkpoint(loop.run_dir / ckpt.LAST)
    if state["task"] != loop.task.kind:
        raise UsageError(f"{loop.run_dir}: holds a '{state['task']}' run, not '{loop.task.kind}'")
    if state["model_name"] != loop.build.name:
        raise UsageError(f"{loop.run_dir}: holds a '{state['model_name']}' run, not "
                         f"'{loop.build.name}'")
    if state["data_fingerprint"] != loop.task.fingerprint:
        raise InputError(f"{loop.run_dir}: the data changed since this run started "
                         "(fingerprint differs); train into a new -o folder")
    loop.model.load_state_dict(state["model"])
    if "optimizer" in state and loop.optimizer is not None:
        loop.optimizer.load_state_dict(state["optimizer"])
        loop.scaler.load_state_dict(state["scaler"])
    run = RunState.from_dict(state["run"])
    if loop.cfg.budget_min is None:  # without a budget the plan is --epochs (it may have been raised)
        run.planned_steps = fresh.planned_steps
    return run


def _closed_form(loop: _Loop) -> TrainResult:
    start = loop.clock()
    metrics = loop.task.validate(loop.model, loop.device, False)
    run = RunState(epoch=0, elapsed_s=loop.clock() - start, best_score=metrics["score"],
                   best=_val(metrics), init=_val(metrics), done=True,
                   stop_reason="closed-form fit")
    record = {"epoch": 0, "steps": 0, "train_loss": None, **_val(metrics), "lr": 0.0,
              "elapsed_s": run.elapsed_s}
    run.history = [record]
    loop.save(run, best=True)
    loop.on_event(EpochDone(0, 1, record))
    return _result(loop.run_dir, run)


def _val(metrics: dict[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if k != "score"}


def _loader(loop: _Loop, data: Dataset[Any]) -> DataLoader[Any]:
    if getattr(data, "streaming", False):  # an IterableDataset that splits itself by rank and worker
        return DataLoader(data, batch_size=loop.cfg.batch, num_workers=loop.cfg.num_workers,
                          pin_memory=loop.device.type == "cuda")
    sampler: DistributedSampler[Any] | None = (
        DistributedSampler(data, loop.world, loop.rank, shuffle=False) if loop.world > 1 else None)
    return DataLoader(data, batch_size=loop.cfg.batch, sampler=sampler, shuffle=False,
                      num_workers=loop.cfg.num_workers, pin_memory=loop.device.type == "cuda")


def _train_epochs(loop: _Loop, run: RunState) -> RunState:
    cfg, device, world = loop.cfg, loop.device, loop.world
    data = loop.task.train_data(cfg.steps_per_epoch * cfg.batch * world)
    places = _Places.of(loop, data, run)
    loader = _loader(loop, data)  # type: ignore[arg-type]
    session_start, elapsed_before = loop.clock(), run.elapsed_s
    budget_s = cfg.budget_min * 60.0 if cfg.budget_min is not None else math.inf

    def spent() -> float:
        return elapsed_before + loop.clock() - session_start

    if run.epoch < 0 and loop.rank == 0:
        init = loop.task.validate(loop.model, device, cfg.cpu_bf16)
        run.best_score, run.best, run.init = init["score"], _val(init), _val(init)
        ckpt.save_checkpoint(loop.run_dir / ckpt.BEST, loop.state_dict(run, slim=True))
    run.best_score = _from_rank0(run.best_score, world, device)
    reason = "epochs"
    for epoch in range(run.epoch + 1, cfg.epochs):
        torch.manual_seed(cfg.seed * 100_003 + epoch)
        data.set_epoch(epoch)
        if places is not None:
            places.seek(data)
        epoch_start = loop.clock()
        steps, logs, over_budget = _train_one_epoch(loop, loader, epoch, run, budget_s, spent, places)
        if places is not None:
            run.data_position = places.gather(loop)
        run.steps_done += steps
        run.train_s += loop.clock() - epoch_start
        if cfg.budget_min is not None:
            # Re-plan every epoch from the mean costs so far (load on a shared machine
            # varies); the cosine schedule stretches to the steps that still fit.
            planned = replan_steps(cfg, run.steps_done, epoch + 1, run.train_s, spent(), budget_s)
            run.planned_steps = int(_from_rank0(planned, world, device))
        _end_epoch(loop, run, epoch, steps, logs, spent())
        if over_budget or _any_rank(spent() > budget_s, world, device):
            reason = "time budget"
        elif run.since_best >= cfg.patience:
            reason = "early stopping"
        elif (epoch + 1) * cfg.steps_per_epoch >= run.planned_steps:
            reason = ("planned epochs" if run.planned_steps < cfg.epochs * cfg.steps_per_epoch
                      else "epochs")
        else:
            continue
        break
    if not run.done:
        run.done, run.stop_reason = True, reason
        if loop.rank == 0:
            ckpt.save_checkpoint(loop.run_dir / ckpt.LAST, loop.state_dict(run))
    return run


def _train_one_epoch(loop: _Loop, loader: DataLoader[Any], epoch: int, run: RunState,
                     budget_s: float, spent: Callable[[], float], places: _Places | None = None,
                     ) -> tuple[int, dict[str, list[float]], bool]:
    cfg, device, world = loop.cfg, loop.device, loop.world
    optimizer = loop.optimizer
    assert optimizer is not None  # only closed-form tasks have none, and they take no steps
    # CUDA: float16 autocast with loss scaling; CPU: optional bfloat16 (no scaling needed).
    use_amp = device.type == "cuda" or cfg.cpu_bf16
    amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    loop.net.train()
    logs: dict[str, list[float]] = {"loss": []}
    steps = 0
    for step, batch in enumerate(loader):
        if epoch * cfg.steps_per_epoch + step >= run.planned_steps:
            break  # the last epoch, cut to the steps the budget holds
        for group in optimizer.param_groups:
            group["lr"] = lr_at(cfg, epoch, step, run.planned_steps)
        if places is not None:
            batch = places.consume(batch)
        batch = tuple(t.to(device, non_blocking=True) for t in batch)
        if cfg.channels_last and batch[0].dim() == 4:
            batch = (batch[0].contiguous(memory_format=torch.channels_last), *batch[1:])
        with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=use_amp):
            out = loop.task.forward(loop.net, batch)
        lo = loop.task.loss(out, batch)
        local_sum = (lo.per_sample.float() * lo.weight).sum()
        total_w = _global_sum(lo.weight.sum(), world).clamp(min=1e-12)
        # DDP averages gradients over ranks: scale so the result is the global-batch mean.
        loss = local_sum / total_w * world
        optimizer.zero_grad(set_to_none=True)
        loop.scaler.scale(loss).backward()
        if cfg.clip_grad > 0:
            loop.scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
            nn.utils.clip_grad_norm_(loop.model.parameters(), cfg.clip_grad)
        loop.scaler.step(optimizer)
        loop.scaler.update()
        steps += 1
        logs["loss"].append(float(_global_sum(local_sum.detach(), world) / total_w))
        for key, value in lo.logs.items():
            logs.setdefault(key, []).append(value)
        if loop.rank == 0:
            loop.on_event(StepDone(epoch, step, cfg.steps_per_epoch, logs["loss"][-1]))
        if _any_rank(spent() > budget_s, world, device):
            return steps, logs, True
    return steps, logs, False


@dataclass
class _Places:
    """Where this process's data streams are: worker -> [pass, slot, offset] (next sample)."""

    workers: int
    mine: dict[int, list[int]]

    @classmethod
    def of(cls, loop: _Loop, data: Any, run: RunState) -> _Places | None:
        if not getattr(data, "streaming", False):
            return None
        workers = max(1, loop.cfg.num_workers)
        data.place(loop.world, loop.rank, workers)
        saved = run.data_position
        if not saved:
            return cls(workers, {})
        if (saved["world"], saved["workers"]) != (loop.world, workers):
            raise UsageError(f"{loop.run_dir}: this run streamed its data with {saved['world']} process(es) x "
                             f"{saved['workers']} worker(s); resume it with the same to keep its order")
        rows = saved["places"][loop.rank * workers : (loop.rank + 1) * workers]
        return cls(workers, {w: list(p) for w, p in enumerate(rows)})

    def seek(self, data: Any) -> None:
        data.seek(self.mine)

    def consume(self, batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        """Strip the batch's places (last tensor, (B, 4): worker, pass, slot, offset)."""
        *tensors, where = batch
        for worker, pass_, slot, offset in where.tolist():
            self.mine[int(worker)] = [int(pass_), int(slot), int(offset) + 1]
        return tuple(tensors)

    def gather(self, loop: _Loop) -> dict[str, Any]:
        """Every rank's places, rank-major (rank 0 saves them)."""
        rows = [self.mine.get(w, [0, 0, 0]) for w in range(self.workers)]
        if loop.world > 1:
            every: list[Any] = [None] * loop.world
            dist.all_gather_object(every, rows)
            rows = [r for part in every for r in part]
        return {"world": loop.world, "workers": self.workers, "places": rows}


def _end_epoch(loop: _Loop, run: RunState, epoch: int, steps: int,
               logs: dict[str, list[float]], elapsed_s: float) -> None:
    """Validate, log, checkpoint (rank 0); updates ``run`` the same way on every rank."""
    cfg = loop.cfg
    metrics = (loop.task.validate(loop.model, loop.device, cfg.cpu_bf16) if loop.rank == 0
               else {"score": math.nan})
    score = _from_rank0(metrics["score"], loop.world, loop.device)
    improved = score > run.best_score + cfg.min_gain
    means = {k: float(np.mean(v)) for k, v in logs.items() if v}
    record = {"epoch": epoch, "steps": steps, "train_loss": means.get("loss"),
              **loop.task.epoch_log(means), **_val(metrics), "score": score,
              "lr": lr_at(cfg, epoch, max(0, steps - 1), run.planned_steps),
              "elapsed_s": elapsed_s}
    run.epoch, run.elapsed_s = epoch, elapsed_s
    run.history = [*run.history, record]
    if improved:
        run.best_score, run.best, run.since_best = score, _val(metrics), 0
    else:
        run.since_best += 1
    loop.save(run, best=improved)
    if loop.rank == 0:
        loop.on_event(EpochDone(epoch, planned_epochs(cfg, run.planned_steps), record))



def epoch_line(event: EpochDone) -> str:
    """One line per finished epoch: its validation figures (for progress output)."""
    r = event.record
    names = {"val_psnr": "val PSNR {:.2f} dB", "val_ssim": "SSIM {:.3f}", "val_auroc": "val AUROC {:.3f}",
             "val_loss": "val loss {:.4f}"}
    figures = ", ".join(fmt.format(r[k]) for k, fmt in names.items() if isinstance(r.get(k), int | float))
    return f"epoch {r.get('epoch', 0) + 1}/{event.planned_epochs}: {figures} ({r.get('elapsed_s', 0.0):.0f} s)"
