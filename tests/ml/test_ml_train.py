"""Training on tiny synthetic pairs: it learns, and resuming is exact (CPU)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from calibration.metrics import psnr
from rig.errors import InputError, UsageError
from rig.ml import checkpoint as ckpt
from rig.ml.data import PatchDataset, fingerprint, iter_pairs, read_manifest
from rig.ml.evaluate import evaluate_run
from rig.ml.photonorm import InputNorm
from rig.ml.train import EpochDone, Event, TrainConfig, train_from_folder

TINY = {"patch": 32, "batch": 4, "steps_per_epoch": 6, "val_max_images": 2, "device": "cpu",
        "tile": 64}


def _before_psnr(folder: Path) -> float:
    recs = read_manifest(folder).split("valid")
    return float(np.mean([psnr(p.truth, p.aligned, p.mask) for _, p in iter_pairs(recs)]))


@pytest.mark.parametrize("model", ["unet", "tonecurve"])
def test_training_improves_validation_psnr(tiny_folder: Path, tmp_path: Path, model: str) -> None:
    cfg = TrainConfig(model=model, model_options={"base_channels": 8, "levels": 2} if model == "unet" else {},
                      epochs=3, lr=3e-3, **TINY)  # type: ignore[arg-type]
    result = train_from_folder(tiny_folder, tmp_path / "run", cfg)
    before = _before_psnr(tiny_folder)
    assert result.best_val_psnr > before + 3.0, (before, result.best_val_psnr)
    history = ckpt.read_metrics(tmp_path / "run")
    assert [h["epoch"] for h in history] == list(range(result.epochs_done))


def test_per_photo_normalisation_undoes_exposure_differences(make_folder, tmp_path: Path) -> None:
    # Every photo has its own gain and offset: one global tone curve cannot fit them all,
    # the same curve behind the per-photo stretch can.
    folder = make_folder("exposures", n=16, exposure_spread=0.35, splits=tuple(["train"] * 10 + ["valid"] * 2 + ["test"] * 4))
    after = {}
    for kind in ("none", "percentile"):
        cfg = TrainConfig(model="tonecurve", input_norm=InputNorm(kind), **TINY)  # type: ignore[arg-type]
        train_from_folder(folder, tmp_path / kind, cfg)
        report, _ = evaluate_run(tmp_path / kind, folder, ("test",))
        after[kind] = report.splits["test"]["psnr_after"]
    assert after["percentile"] > after["none"] + 3.0, after


def test_ssim_loss_trains_for_ssim_and_logs_both_metrics(make_folder, tmp_path: Path) -> None:
    folder = make_folder("noisy", noise=10.0)
    cfg = TrainConfig(model="unet", model_options={"base_channels": 8, "levels": 2, "tone_front": False},
                      epochs=8, lr=3e-3, loss="ssim-l1", **TINY)  # type: ignore[arg-type]
    result = train_from_folder(folder, tmp_path / "run", cfg)
    history = ckpt.read_metrics(tmp_path / "run")
    assert all({"val_psnr", "val_ssim"} <= set(h) for h in history)
    state = ckpt.load_checkpoint(tmp_path / "run" / ckpt.BEST)
    init_ssim = state["run"]["init"]["val_ssim"]
    assert result.best_val_ssim > init_ssim + 0.02, (init_ssim, result.best_val_ssim)
    # Selected on SSIM: a later epoch replaces the best only when it gains min_gain_db
    # on the -10·log10(1 - SSIM) scale (0.01 dB: about 0.001 here).
    assert result.best_val_ssim >= max(h["val_ssim"] for h in history) - 0.002


def test_resume_continues_exactly(tiny_folder: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(model="dncnn", model_options={"depth": 4, "channels": 8}, epochs=3,
                      patience=10, **TINY)  # type: ignore[arg-type]
    train_from_folder(tiny_folder, tmp_path / "straight", cfg)

    class Killed(Exception):
        pass

    def kill_after_first_epoch(event: Event) -> None:
        if isinstance(event, EpochDone) and event.epoch == 0:
            raise Killed

    with pytest.raises(Killed):
        train_from_folder(tiny_folder, tmp_path / "resumed", cfg, on_event=kill_after_first_epoch)
    with pytest.raises(UsageError, match="--resume"):
        train_from_folder(tiny_folder, tmp_path / "resumed", cfg)
    train_from_folder(tiny_folder, tmp_path / "resumed", cfg, resume=True)
    a = ckpt.load_checkpoint(tmp_path / "straight" / ckpt.LAST)
    b = ckpt.load_checkpoint(tmp_path / "resumed" / ckpt.LAST)
    assert a["run"]["epoch"] == b["run"]["epoch"] == 2
    for key, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][key]), key
    strip = lambda h: [{k: v for k, v in r.items() if k != "elapsed_s"} for r in h]  # noqa: E731
    assert strip(a["run"]["history"]) == strip(b["run"]["history"])


def test_resume_refuses_changed_data(make_folder, tmp_path: Path) -> None:
    folder = make_folder("d1")
    cfg = TrainConfig(model="dncnn", model_options={"depth": 3, "channels": 4}, epochs=1, **TINY)  # type: ignore[arg-type]
    train_from_folder(folder, tmp_path / "run", cfg)
    make_folder("d1", seed=5)  # same paths, other pixels
    with pytest.raises(InputError, match="fingerprint"):
        train_from_folder(folder, tmp_path / "run", cfg, resume=True)


def test_patches_respect_masks_and_are_deterministic(tiny_folder: Path) -> None:
    recs = read_manifest(tiny_folder).split("train")
    ds = PatchDataset(recs, patch=32, samples_per_epoch=20, seed=4)
    ds2 = PatchDataset(recs, patch=32, samples_per_epoch=20, seed=4)
    for i in range(20):
        x, y, m = ds[i]
        assert x.shape == y.shape == m.shape == (1, 32, 32)
        assert m.min() == 1.0  # the 8-px unseen strip is avoided when a full patch fits
        assert all(torch.equal(a, b) for a, b in zip(ds[i], ds2[i], strict=True))
    ds2.set_epoch(1)
    assert not all(torch.equal(ds[i][0], ds2[i][0]) for i in range(5))


def test_fingerprint_changes_with_any_file(make_folder) -> None:
    folder = make_folder("f")
    before = fingerprint(read_manifest(folder))
    target = folder / "masks" / "p002.png"
    data = bytearray(target.read_bytes())
    data[-20] ^= 1
    target.write_bytes(bytes(data))
    assert fingerprint(read_manifest(folder)) != before


def as_format_1(state: dict, drop: tuple[str, ...] = ()) -> dict:
    """A format-2 checkpoint written the way rig wrote restoration checkpoints before the
    shared trainer (format 1: run state as top-level keys, no 'format'/'task'/'run')."""
    run = state["run"]
    old = {k: state[k] for k in ("model", "optimizer", "scaler", "model_name", "model_config",
                                 "data_fingerprint") if k in state}
    old["train_config"] = {k: v for k, v in state["train_config"].items() if k != "loop"}
    old.update(epoch=run["epoch"], best_score=run["best_score"],
               best_val_psnr=run["best"]["val_psnr"], best_val_ssim=run["best"]["val_ssim"],
               since_best=run["since_best"], history=run["history"], elapsed_s=run["elapsed_s"],
               planned_steps=run["planned_steps"], steps_done=run["steps_done"],
               train_s=run["train_s"], init_val_psnr=run["init"]["val_psnr"],
               init_val_ssim=run["init"]["val_ssim"], done=run["done"],
               stop_reason=run["stop_reason"])
    for key in drop:
        old.pop(key, None)
    return old


def _one_epoch_run_reopened(folder: Path, run: Path, drop: tuple[str, ...] = ()) -> tuple[TrainConfig, dict]:
    """A finished one-epoch run whose last checkpoint is rewritten in format 1, marked
    unfinished again (optionally without ``drop`` keys, as still older versions wrote it)."""
    cfg = TrainConfig(model="dncnn", model_options={"depth": 3, "channels": 4}, epochs=1,
                      patience=10, **TINY)  # type: ignore[arg-type]
    train_from_folder(folder, run, cfg)
    old = as_format_1(ckpt.load_checkpoint(run / ckpt.LAST), drop)
    old["done"] = False
    torch.save(old, run / ckpt.LAST)
    torch.save({k: v for k, v in old.items() if k not in ("optimizer", "scaler")}, run / ckpt.BEST)
    return cfg, old


def test_resume_accepts_a_checkpoint_from_before_ssim_selection(tiny_folder: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    cfg, old = _one_epoch_run_reopened(tiny_folder, run, ("best_score", "best_val_ssim", "init_val_ssim"))
    result = train_from_folder(tiny_folder, run, replace(cfg, epochs=2), resume=True)
    assert result.epochs_done == 2
    assert result.best_val_psnr >= old["best_val_psnr"]
    state = ckpt.load_checkpoint(run / ckpt.LAST)
    assert state["format"] == ckpt.FORMAT and [h["epoch"] for h in state["run"]["history"]] == [0, 1]


def test_a_format_1_run_still_loads_and_evaluates(tiny_folder: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    _, old = _one_epoch_run_reopened(tiny_folder, run)
    model, meta = ckpt.load_run_model(run, torch.device("cpu"), task="restore")
    assert meta["task"] == "restore" and meta["run"]["best"]["val_psnr"] == old["best_val_psnr"]
    for key, tensor in old["model"].items():
        assert torch.equal(model.state_dict()[key], tensor), key
    report, _ = evaluate_run(run, tiny_folder, ("test",))
    assert report.splits["test"]["n"] == 2


def test_a_budget_is_spent_on_steps_and_the_last_epoch_is_cut(tiny_folder: Path, tmp_path: Path) -> None:
    # A clock that moves 1 s per reading (about 11 readings per 6-step epoch with its
    # validation): the plan must end the cosine schedule inside the budget, on a cut epoch.
    ticks = iter(range(1_000_000))
    cfg = TrainConfig(model="dncnn", model_options={"depth": 3, "channels": 4}, epochs=100,
                      patience=100, budget_min=1.0, **TINY)  # type: ignore[arg-type]
    result = train_from_folder(tiny_folder, tmp_path / "run", cfg, clock=lambda: float(next(ticks)))
    history = ckpt.read_metrics(tmp_path / "run")
    steps = [h["steps"] for h in history]
    assert result.stop_reason == "planned epochs", result
    assert all(s == 6 for s in steps[:-1]) and 1 <= steps[-1] <= 6, steps
    assert 60.0 - 11.0 < history[-1]["elapsed_s"] <= 60.0  # less than an epoch's cost left over
    assert history[-1]["lr"] < 0.05 * history[1]["lr"]  # the cosine ran to its end


def test_resume_without_a_budget_follows_raised_epochs(tiny_folder: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    cfg, _ = _one_epoch_run_reopened(tiny_folder, run, ("planned_steps", "steps_done", "train_s"))
    train_from_folder(tiny_folder, run, replace(cfg, epochs=3), resume=True)
    assert [h["steps"] for h in ckpt.read_metrics(run)] == [6, 6, 6]
