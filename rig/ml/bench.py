"""``rig bench restore``: train and evaluate every model on the fixed simulated benchmark.

Data: ``benchdata`` (virtual camera preset ``paper-lcd-iphone``, fixed pairs and seed).
Per model: training time under the same budget, test-split PSNR/SSIM before and after,
inference throughput (megapixels/s on this machine, tiled as ``rig restore`` runs it)
and the forward FLOPs per megapixel counted by torch's FlopCounterMode (2 FLOPs per
multiply-add: a conv layer costs 2·k²·Cin·Cout·H·W).
"""

from __future__ import annotations

import os
import platform
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from rig.ml.benchdata import BenchSpec, build_bench_folder
from rig.ml.checkpoint import load_run_model, run_input_norm
from rig.ml.data import load_pair, read_manifest
from rig.ml.evaluate import evaluate_run
from rig.ml.infer import TileConfig, restore_array
from rig.ml.photonorm import InputNorm
from rig.ml.train import EventSink, TrainConfig, cpu_has_bf16, train_from_folder

BENCH_MODELS = ("tonecurve", "dncnn-paper", "dncnn", "unet")
# Training minutes per model: at 5 the DnCNN's test SSIM lands at 0.929-0.935 from seed
# to seed, at 8 at 0.936-0.941 (three seeds; measured on this benchmark, 2-core CPU).
BENCH_BUDGET_MIN = 8.0
FLOP_PROBE_PX = 256


def flops_per_megapixel(model: nn.Module) -> float:
    """Forward FLOPs for one megapixel of grayscale input."""
    model.eval()
    probe = torch.zeros(1, 1, FLOP_PROBE_PX, FLOP_PROBE_PX)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(probe)
    return counter.get_total_flops() * 1e6 / FLOP_PROBE_PX**2


def throughput_mpx_s(model: nn.Module, image: np.ndarray, repeats: int = 2,
                     clock: Callable[[], float] = time.perf_counter,
                     norm: InputNorm | None = None) -> float:
    """Megapixels per second of tiled inference on ``image`` (best of ``repeats``)."""
    best = float("inf")
    for _ in range(repeats):
        start = clock()
        restore_array(model, image, torch.device("cpu"), TileConfig(), norm)
        best = min(best, clock() - start)
    return image.size / 1e6 / best


def bench_train_config(model: str, budget_min: float, seed: int) -> TrainConfig:
    # The whole budget is used (no early stopping: the cosine schedule's tail is where
    # the gains are); best.pt is still the best validation epoch. Validation on 3 whole
    # valid images (central crops misled model selection: borders and background count
    # in the test metrics) every 150 steps: with 40, validating DnCNN took 80 % of the
    # budget. bfloat16 autocast (training and validation) where the CPU supports it.
    return TrainConfig(model=model, epochs=1000, steps_per_epoch=150, seed=seed,
                       budget_min=budget_min, patience=1000, val_max_images=3, val_crop=0,
                       device="cpu", cpu_bf16=cpu_has_bf16())


def run_bench(work_dir: Path, pairs: int, budget_min: float, models: tuple[str, ...] = BENCH_MODELS,
              seed: int = 0, workers: int | None = None,
              on_status: Callable[[str], None] = lambda _m: None,
              on_event: EventSink | None = None) -> dict[str, Any]:
    """Build (or reuse) the benchmark data, then train and evaluate each model."""
    spec = BenchSpec(pairs=pairs)
    on_status(f"simulating {pairs} photo pairs with the virtual camera ({spec.preset})")
    t0 = time.perf_counter()
    data = build_bench_folder(work_dir / "data", spec, workers or min(2, os.cpu_count() or 1))
    sim_s = time.perf_counter() - t0
    manifest = read_manifest(data)
    test = manifest.split("test")
    probe = load_pair(test[0]).aligned
    results: dict[str, Any] = {}
    for name in models:
        run_dir = work_dir / f"run-{name}"
        shutil.rmtree(run_dir, ignore_errors=True)
        on_status(f"training {name} (budget {budget_min:g} min)")
        start = time.perf_counter()
        trained = train_from_folder(data, run_dir, bench_train_config(name, budget_min, seed),
                                    on_event=on_event)
        train_s = time.perf_counter() - start
        on_status(f"evaluating {name} on {len(test)} test pairs")
        report, _ = evaluate_run(run_dir, data, ("test",))
        model, meta = load_run_model(run_dir, torch.device("cpu"))
        s = report.splits["test"]
        results[name] = {
            **{k: round(v, 4) for k, v in s.items() if k != "n"}, "n_test": int(s["n"]),
            "psnr_gain_db": round(s["psnr_after"] - s["psnr_before"], 3),
            "train_time_s": round(train_s, 1), "epochs": trained.epochs_done,
            "stop_reason": trained.stop_reason, "best_val_psnr": round(trained.best_val_psnr, 3),
            "best_val_ssim": round(trained.best_val_ssim, 4),
            "params": sum(p.numel() for p in model.parameters()),
            "loss": meta["train_config"].get("loss", "mse"),
            "input_norm": run_input_norm(meta).kind,
            "model_config": meta["model_config"],
            "gflops_per_mpx": round(flops_per_megapixel(model) / 1e9, 3),
            "throughput_mpx_s": round(throughput_mpx_s(model, probe, norm=run_input_norm(meta)), 4),
            "data": {"simulator": f"rig.camsim {spec.preset}", "pairs": pairs, "seed": spec.seed,
                     "image_px": [spec.columns, spec.rows], "simulation_s": round(sim_s, 1)},
            "machine": {"cpu_threads": torch.get_num_threads(), "platform": platform.machine(),
                        "budget_min": budget_min, "train_bf16": cpu_has_bf16(),
                        "load_avg_1min": round(os.getloadavg()[0], 2)},
            # The simulated photos go through OpenCV's warps, demosaicing and JPEG codec: the
            # same code and seed in two fresh installs gave 14.16 / 14.15 dB before restoration
            # (deterministic within an install), so the library versions belong to the result.
            "versions": {"torch": torch.__version__, "opencv": cv2.__version__, "numpy": np.__version__},
            "run_dir": str(run_dir),
        }
    return results


def goal_checks(results: dict[str, Any]) -> list[tuple[str, bool]]:
    """The issue's goals for the models present: DnCNN gains >= 15 dB and reaches SSIM
    >= 0.93 (the published test result), and the U-Net beats DnCNN on both."""
    checks: list[tuple[str, bool]] = []
    dn = results.get("dncnn")
    if dn:
        checks.append((f"dncnn gains {dn['psnr_gain_db']:+.2f} dB (goal >= 15)", dn["psnr_gain_db"] >= 15.0))
        checks.append((f"dncnn SSIM {dn['ssim_after']:.3f} (goal >= 0.93)", dn["ssim_after"] >= 0.93))
    un = results.get("unet")
    if dn and un:
        checks.append((f"unet {un['psnr_after']:.2f} dB / {un['ssim_after']:.3f} vs dncnn "
                       f"{dn['psnr_after']:.2f} dB / {dn['ssim_after']:.3f} (goal: better on both)",
                       un["psnr_after"] > dn["psnr_after"] and un["ssim_after"] > dn["ssim_after"]))
    return checks
