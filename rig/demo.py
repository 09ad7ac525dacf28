"""``rig demo``: the main job on the embedded default, with no hardware and no downloads.

1. create a project and import generated sample radiographs with labels (rig bundles
   no patient images; the samples carry fictitious identifiers);
2. run a headless capture session with the simulated phone over real loopback
   sockets (protocol, uploads, the virtual camera's ``paper-lcd-iphone`` preset);
3. register and verify every photo (inside the session), export the verified pairs;
4. train DnCNN on them and a diagnosis classifier on the DICOM view (fixed optimiser
   steps, not minutes: a busy machine takes longer, not fewer steps), evaluate both on the
   held-out patients (PSNR/SSIM before → after; AUROC on the dicom, photo and restored
   views with patient-level 95 % CIs), write both reports, and end with one table.
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
from rig.library.samples import SampleSpec, write_samples
from rig.project import Project, init_project
from rig.session import events as ev
from rig.session import service
from rig.session.plan import CapturePlan, PlanOverrides

Say = Callable[[str], None]


@dataclass(frozen=True)
class DemoConfig:
    # 120 images of 60 patients: 24 test images of 12 patients at 0.6/0.2/0.2, so the
    # test AUROC's CI is not tenths wide (60 images left 12 of 6).
    images: int = 120
    seed: int = 0
    preset: str = "paper-lcd-iphone"
    train_budget_min: float | None = None  # minutes instead of restore_steps (a quick look)
    model: str = "dncnn"
    restore_steps: int = 360  # DnCNN optimiser steps (batch 4, 96 px patches)
    classifier: str = "resnet18"
    # 128 px: the heart's silhouette (Cardiomegaly) and tubes and wires (Support Devices)
    # survive it, and a step costs about a third of one at 224 px; at 224 px 150 steps on
    # 35 images left Cardiomegaly at chance (docs/classification.md, "The demo").
    classifier_input: int = 128
    classifier_steps: int = 150  # batch 16
    # The findings the classifier is asked about, and how hard the generator makes them
    # (rig.library.findings: 0 obvious ... 1 most at threshold); see "Calibration" in
    # docs/classification.md for how these were chosen.
    labels: tuple[str, ...] = ("Cardiomegaly", "Support Devices")
    difficulty: float = 0.2
    # Held-out patients need both classes: a larger test share than the default export.
    split: str = "train=0.6,valid=0.2,test=0.2"
    placement: str | None = None  # None: rig.toml [display], else auto

    @classmethod
    def quick(cls) -> DemoConfig:
        return cls(images=24, restore_steps=60, classifier="tinycnn", classifier_input=128,
                   classifier_steps=60)


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
    data_dir = _export(project, session_id, config, result, say)
    run_dir = _train(
        data_dir, project.root / "runs" / f"{config.model}-{session_id}", config, result, say
    )
    cls_dir = _train_classifier(
        data_dir, project.root / "runs" / f"{config.classifier}-{session_id}", config, result, say
    )
    _evaluate(run_dir, cls_dir, data_dir, result, say)
    _quality(project, data_dir, session_id, result, say)
    return result


def _quality(project: Project, data_dir: Path, session_id: str, result: DemoResult,
             say: Say) -> None:
    """The live gate's retakes and the quality model's table (rig.quality.demo_step)."""
    from rig.quality.demo_step import run_quality_step

    gate = result.figures["session"].get("quality_gate", {})
    quality = run_quality_step(data_dir, project.root / "runs" / f"quality-{session_id}", gate, say)
    result.figures["quality"] = quality.figures
    result.table += "\n" + "\n".join(quality.table)
    result.steps.append(("quality", quality.step))


def _import_samples(project: Project, config: DemoConfig, result: DemoResult, say: Say) -> None:
    # Generated outside the project, so that only de-identified copies live under it.
    with tempfile.TemporaryDirectory(prefix="rig-samples-") as tmp:
        say(f"generating {config.images} sample radiographs (rig bundles no patient images)")
        labels = write_samples(Path(tmp) / "images", n_images=config.images, seed=config.seed,
                               spec=SampleSpec(difficulty=config.difficulty))
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


def _export(project: Project, session_id: str, config: DemoConfig, result: DemoResult,
            say: Say) -> Path:
    from rig.export.run import ExportOptions, export

    out = project.root / "exports" / session_id
    say(f"exporting verified pairs to {out}")
    card = export(
        project,
        ExportOptions(out, "folders", split=config.split, sessions=(session_id,), force=True),
    )
    sizes = ", ".join(f"{s} {v['pairs']}" for s, v in card["split_sizes"].items())
    result.figures["export"] = card["split_sizes"]
    result.steps.append(("export", f"{card['counts']['pairs']} pairs by patient ({sizes}): {out}"))
    return out


def _on_epoch(say: Say) -> Callable[[Any], None]:
    def on_event(event: Any) -> None:
        from rig.ml.trainer import EpochDone, epoch_line

        if isinstance(event, EpochDone):
            say("  " + epoch_line(event))

    return on_event


def _train(data_dir: Path, run_dir: Path, config: DemoConfig, result: DemoResult, say: Say) -> Path:
    from rig.ml.train import TrainConfig, cpu_has_bf16, train_from_folder

    budget = config.train_budget_min
    work = f"{budget:g} min (a quick look)" if budget else f"{config.restore_steps} steps"
    say(f"training {config.model} on the CPU: {work} → {run_dir}")
    spe = min(60, config.restore_steps)
    cfg = TrainConfig(
        model=config.model,
        epochs=200 if budget else -(-config.restore_steps // spe),
        steps_per_epoch=spe,
        budget_min=budget,
        seed=config.seed,
        patience=1000,
        val_max_images=3,
        cpu_bf16=cpu_has_bf16(),  # about 2x the steps per minute where the CPU has it
    )
    trained = train_from_folder(
        data_dir, run_dir, cfg, resume=(run_dir / "last.pt").exists(), on_event=_on_epoch(say)
    )
    result.figures["train"] = {
        "epochs": trained.epochs_done,
        "steps": trained.steps_done,
        "best_val_psnr": trained.best_val_psnr,
        "stop": trained.stop_reason,
        "train_time_s": trained.train_time_s,
    }
    result.steps.append(
        (
            "train restore",
            f"{config.model}: {trained.steps_done} steps in "
            f"{trained.train_time_s / 60:.1f} min ({trained.stop_reason})",
        )
    )
    return run_dir


def _train_classifier(
    data_dir: Path, run_dir: Path, config: DemoConfig, result: DemoResult, say: Say
) -> Path:
    from rig.ml.classify import ClassifyConfig, train_classifier

    say(
        f"training {config.classifier} on the DICOM view ({', '.join(config.labels)}): "
        f"{config.classifier_steps} steps → {run_dir}"
    )
    spe = min(30, config.classifier_steps)
    cfg = ClassifyConfig(
        model=config.classifier,
        labels=config.labels,
        input_size=config.classifier_input,
        epochs=-(-config.classifier_steps // spe),
        steps_per_epoch=spe,
        batch=16,
        seed=config.seed,
        patience=1000,
    )
    trained = train_classifier(
        data_dir, run_dir, cfg, resume=(run_dir / "last.pt").exists(), on_event=_on_epoch(say)
    )
    result.figures["train_classifier"] = {
        "model": config.classifier,
        "steps": trained.steps_done,
        "best_val_auroc": trained.best.get("val_auroc"),
        "train_time_s": trained.train_time_s,
    }
    result.steps.append(
        (
            "train classify",
            f"{config.classifier}: {trained.steps_done} steps in "
            f"{trained.train_time_s / 60:.1f} min",
        )
    )
    return run_dir


def _evaluate(run_dir: Path, cls_dir: Path, data_dir: Path, result: DemoResult, say: Say) -> None:
    from rig.ml.classify_report import write_classify_report
    from rig.ml.clseval import evaluate_classifier
    from rig.ml.evaluate import evaluate_run
    from rig.ml.restore_report import write_report

    say("evaluating on the held-out patients (test split)")
    report, manifest = evaluate_run(run_dir, data_dir, ("test",))
    path = write_report(report, manifest, run_dir, run_dir / "report")
    diagnosis = evaluate_classifier(cls_dir, data_dir, run_dir)
    cls_report = write_classify_report(diagnosis, cls_dir / "report")
    result.table = demo_table(report.splits["test"], diagnosis)
    result.report = path
    result.figures["eval"] = report.splits
    result.figures["diagnosis"] = demo_auroc(diagnosis)
    result.figures["reports"] = {"restoration": str(path), "classification": str(cls_report)}
    result.steps.append(("evaluate", f"reports: {path}, {cls_report}"))


def demo_auroc(diagnosis: Any) -> dict[str, Any]:
    """Per view: the mean AUROC over labels and its patient-level bootstrap 95 % CI."""
    from rig.ml.stats import auroc, bootstrap_mean_auroc_ci

    out: dict[str, Any] = {}
    for view, probs in diagnosis.probs.items():
        cases = [(diagnosis.truth[:, j], probs[:, j]) for j in range(len(diagnosis.labels))]
        aucs = [auroc(y[y >= 0], p[y >= 0]) for y, p in cases]
        finite = [a for a in aucs if a == a]
        ci = bootstrap_mean_auroc_ci(cases, diagnosis.patients)
        out[view] = {
            "auroc": round(sum(finite) / len(finite), 4) if finite else None,
            "ci": [round(v, 4) for v in ci] if isinstance(ci, tuple) else None,
            "labels_scored": len(finite),
        }
    return out


def demo_table(test: dict[str, Any], diagnosis: Any) -> str:
    """The demo's one table: restoration and diagnosis on the held-out patients."""
    from rig.ml.stats import fmt_interval

    n, patients = int(test["n"]), int(test["patients"])
    lines = [
        f"| held-out test: {n} images, {patients} patients | value [95 % CI] |",
        "|---|---|",
        f"| PSNR photo → restored (dB) | {test['psnr_before']:.2f} "
        f"{fmt_interval(test['psnr_before_ci'], 2)} → {test['psnr_after']:.2f} "
        f"{fmt_interval(test['psnr_after_ci'], 2)} |",
        f"| SSIM photo → restored | {test['ssim_before']:.3f} "
        f"{fmt_interval(test['ssim_before_ci'], 3)} → {test['ssim_after']:.3f} "
        f"{fmt_interval(test['ssim_after_ci'], 3)} |",
    ]
    for view, figure in demo_auroc(diagnosis).items():
        value = "n/a (one class only)" if figure["auroc"] is None else (
            f"{figure['auroc']:.3f} {fmt_interval(figure['ci'], 3)}"
        )
        lines.append(f"| AUROC {view} (mean over labels) | {value} |")
    return "\n".join(lines)
