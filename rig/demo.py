"""``rig demo``: the main job on the embedded default, with no hardware and no downloads.

1. create a project and import generated sample radiographs with labels (rig bundles
   no patient images; the samples carry fictitious identifiers);
2. run a headless capture session with the simulated phone over real loopback
   sockets (protocol, uploads, the virtual camera's ``paper-lcd-iphone`` preset);
3. register and verify every photo (inside the session), export the verified pairs;
4. train DnCNN on them (a small CPU budget), evaluate before/after on the held-out
   patients, and write the report with its plots.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rig.devices.display import OffscreenDisplay
from rig.library.importer import import_paths
from rig.library.samples import write_samples
from rig.project import Project, init_project
from rig.session import events as ev
from rig.session import service
from rig.session.plan import CapturePlan, PlanOverrides

Say = Callable[[str], None]


@dataclass(frozen=True)
class DemoConfig:
    images: int = 24
    seed: int = 0
    preset: str = "paper-lcd-iphone"
    train_budget_min: float = 8.0
    model: str = "dncnn"
    placement: str | None = None  # None: rig.toml [display], else auto

    @classmethod
    def quick(cls) -> DemoConfig:
        return cls(images=8, train_budget_min=0.75)


@dataclass
class DemoResult:
    project: Path
    steps: list[tuple[str, str]] = field(default_factory=list)  # (step, outcome)
    figures: dict[str, Any] = field(default_factory=dict)
    table: str = ""
    report: Path | None = None


def choose_project_dir(option: Path | None, env: str | None) -> Path:
    """``--project`` / ``$RIG_PROJECT`` if given, else a new folder (its path is printed)."""
    if option is not None:
        return option
    if env:
        return Path(env)
    return Path(tempfile.mkdtemp(prefix="rig-demo-"))


def run_demo(root: Path, config: DemoConfig, say: Say = lambda _s: None) -> DemoResult:
    plan = demo_plan(config)  # a bad --placement is a usage error before anything is made
    project = init_project(root)
    result = DemoResult(project=project.root)
    _import_samples(project, config, result, say)
    session_id = _capture(project, plan, config, result, say)
    data_dir = _export(project, session_id, result, say)
    run_dir = _train(
        data_dir, project.root / "runs" / f"{config.model}-{session_id}", config, result, say
    )
    _evaluate(run_dir, data_dir, result, say)
    return result


def _import_samples(project: Project, config: DemoConfig, result: DemoResult, say: Say) -> None:
    # Generated outside the project, so that only de-identified copies live under it.
    with tempfile.TemporaryDirectory(prefix="rig-samples-") as tmp:
        say(f"generating {config.images} sample radiographs (rig bundles no patient images)")
        labels = write_samples(Path(tmp) / "images", n_images=config.images, seed=config.seed)
        report = import_paths(project, [Path(tmp) / "images"], labels_csv=labels, recursive=True)
    data = report.to_dict()
    result.figures["import"] = data
    result.steps.append(
        (
            "import",
            f"{data['imported_sources']} sources, {data['labelled_sources']} "
            f"labelled, {len(report.skipped)} skipped (de-identified)",
        )
    )


def demo_plan(config: DemoConfig) -> CapturePlan:
    """The demo's capture plan; screen size and placement unset unless ``--placement``
    (rig.toml decides, as for ``rig session start``)."""
    plan = CapturePlan(camera=f"sim?preset={config.preset}&seed={config.seed}", settle_ms=20)
    return PlanOverrides(placement=config.placement).apply(plan)


def _capture(
    project: Project, plan: CapturePlan, config: DemoConfig, result: DemoResult, say: Say
) -> str:
    session_id = service.create(project, plan)
    say(f"session {session_id}: simulated phone ({config.preset}) over loopback UDP/HTTP")
    bus = ev.EventBus()

    def report(event: ev.SessionEvent) -> None:
        if isinstance(event, ev.CaptureVerified):
            psnr = f"{event.psnr_db:.1f} dB" if event.psnr_db is not None else "-"
            say(f"  item {event.idx}: verified (photo vs ground truth {psnr})")
        elif isinstance(event, ev.CaptureRejected | ev.CaptureFailed | ev.CameraLost):
            say(
                f"  {event.kind}: item {getattr(event, 'idx', '?')}: {getattr(event, 'reason', '')}"
            )

    bus.subscribe(report)
    summary = asyncio.run(
        service.run(project, session_id, service.SessionContext(OffscreenDisplay(), bus))
    )
    result.figures["session"] = {"id": session_id, **summary.to_dict()}
    state = "clean" if summary.clean else f"NOT clean: {summary.problems}"
    result.steps.append(
        (
            "capture",
            f"session {session_id}: {summary.verified}/{summary.items} "
            f"verified photos, {summary.retakes} retakes, reconciliation {state}",
        )
    )
    return session_id


def _export(project: Project, session_id: str, result: DemoResult, say: Say) -> Path:
    from rig.export.run import ExportOptions, export

    out = project.root / "exports" / session_id
    say(f"exporting verified pairs to {out}")
    card = export(project, ExportOptions(out, "folders", sessions=(session_id,), force=True))
    sizes = ", ".join(f"{s} {v['pairs']}" for s, v in card["split_sizes"].items())
    result.figures["export"] = card["split_sizes"]
    result.steps.append(("export", f"{card['counts']['pairs']} pairs by patient ({sizes}): {out}"))
    return out


def _train(data_dir: Path, run_dir: Path, config: DemoConfig, result: DemoResult, say: Say) -> Path:
    from rig.ml.train import EpochDone, TrainConfig, cpu_has_bf16, train_from_folder

    say(
        f"training {config.model} on the CPU for at most {config.train_budget_min:g} min → {run_dir}"
    )

    def on_event(event: Any) -> None:
        if isinstance(event, EpochDone):
            val, val_ssim = event.record.get("val_psnr"), event.record.get("val_ssim")
            say(
                f"  epoch {event.epoch}: validation PSNR {val:.2f} dB, SSIM {val_ssim:.3f}"
                if isinstance(val, float) and isinstance(val_ssim, float)
                else f"  epoch {event.epoch}"
            )

    cfg = TrainConfig(
        model=config.model,
        epochs=200,
        # Short epochs: the quick demo's 45 s hold about 80 DnCNN steps, and the budget
        # plan (warm-up epoch, then cosine) needs a few epochs to shape the schedule.
        steps_per_epoch=40,
        budget_min=config.train_budget_min,
        seed=config.seed,
        patience=1000,
        cpu_bf16=cpu_has_bf16(),  # about 2x the steps in the same minutes where supported
    )
    trained = train_from_folder(
        data_dir, run_dir, cfg, resume=(run_dir / "last.pt").exists(), on_event=on_event
    )
    result.figures["train"] = {
        "epochs": trained.epochs_done,
        "best_val_psnr": trained.best_val_psnr,
        "stop": trained.stop_reason,
        "train_time_s": trained.train_time_s,
    }
    result.steps.append(
        (
            "train",
            f"{config.model}: {trained.epochs_done} epochs in "
            f"{trained.train_time_s / 60:.1f} min ({trained.stop_reason})",
        )
    )
    return run_dir


def _evaluate(run_dir: Path, data_dir: Path, result: DemoResult, say: Say) -> None:
    from rig.ml.data import read_manifest
    from rig.ml.evaluate import evaluate_run, table_markdown
    from rig.ml.report import write_report

    manifest = read_manifest(data_dir)
    splits = tuple(s for s in ("train", "valid", "test") if manifest.split(s))
    say(f"evaluating before/after restoration on {', '.join(splits)}")
    report, manifest = evaluate_run(run_dir, data_dir, splits)
    path = write_report(report, manifest, run_dir, run_dir / "report")
    result.table = table_markdown(report.splits)
    result.report = path
    result.figures["eval"] = report.splits
    result.steps.append(("evaluate", f"report: {path}"))
