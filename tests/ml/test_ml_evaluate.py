"""Evaluation numbers against scikit-image (the oracle), and the summaries."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from rig.ml.data import PairRecord, read_manifest
from rig.ml.evaluate import ImageScore, by_condition, score_pair, summarize
from rig.ml.infer import TileConfig
from rig.ml.models.tonecurve import ToneCurve, ToneCurveConfig
from rig.ml.photonorm import InputNorm


def _sk_ssim(a: np.ndarray, b: np.ndarray) -> float:
    return float(structural_similarity(a, b, data_range=255, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scores_agree_with_skimage(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 256, (80, 96)).astype(np.uint8)
    aligned = np.clip(truth.astype(int) + rng.integers(-30, 31, truth.shape), 0, 255).astype(np.uint8)
    model = ToneCurve(ToneCurveConfig())
    lut = np.clip(np.arange(256) * 0.9 + 10, 0, 255)  # a known restoration: x -> 0.9x + 10
    model.lut.copy_(torch.from_numpy(lut / 255.0))  # type: ignore[operator]
    rec = PairRecord("x", "test", Path("t.png"), Path("a.png"), Path("m.png"))
    mask = np.ones(truth.shape, bool)
    score, restored = score_pair(model, rec, aligned, truth, mask, torch.device("cpu"), TileConfig(),
                                 InputNorm("none"))
    expected_restored = np.clip(np.rint(lut[aligned]), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(restored, expected_restored)
    assert score.psnr_before == pytest.approx(peak_signal_noise_ratio(truth, aligned, data_range=255), abs=1e-9)
    assert score.psnr_after == pytest.approx(peak_signal_noise_ratio(truth, expected_restored, data_range=255), abs=1e-9)
    assert score.ssim_before == pytest.approx(_sk_ssim(truth, aligned), abs=1e-6)
    assert score.ssim_after == pytest.approx(_sk_ssim(truth, expected_restored), abs=1e-6)


def test_masked_psnr_uses_only_the_image_area() -> None:
    rng = np.random.default_rng(5)
    truth = rng.integers(0, 256, (40, 40)).astype(np.uint8)
    aligned = truth.copy()
    aligned[:, :10] = 0  # garbage where the mask says "not seen"
    aligned[:, 10:] = np.clip(aligned[:, 10:].astype(int) + 7, 0, 255).astype(np.uint8)
    mask = np.zeros(truth.shape, bool)
    mask[:, 10:] = True
    model = ToneCurve(ToneCurveConfig())
    rec = PairRecord("x", "test", Path("t.png"), Path("a.png"), Path("m.png"))
    score, _ = score_pair(model, rec, aligned, truth, mask, torch.device("cpu"), TileConfig(),
                                 InputNorm("none"))
    oracle = peak_signal_noise_ratio(truth[:, 10:], aligned[:, 10:], data_range=255)
    assert score.psnr_before == pytest.approx(oracle, abs=1e-9)


def test_summary_is_mean_and_sample_sd() -> None:
    vals = [20.0, 22.0, 27.0]
    scores = [ImageScore(f"p{i}", "test", "pre", {"cond_light": "on" if i else "off"}, v, v + 10,
                         0.5, 0.9) for i, v in enumerate(vals)]
    s = summarize(scores)
    assert s["n"] == 3
    assert s["psnr_before"] == pytest.approx(np.mean(vals))
    assert s["psnr_before_sd"] == pytest.approx(np.std(vals, ddof=1))
    assert s["psnr_after"] == pytest.approx(np.mean(vals) + 10)
    groups = by_condition(scores, ("cond_light",))
    assert groups["cond_light"]["on"]["n"] == 2 and groups["cond_light"]["off"]["n"] == 1
    assert groups["preset"]["pre"]["n"] == 3


def test_summary_carries_a_patient_level_interval() -> None:
    # Two patients with three identical images each: the interval is over 2 patients.
    scores = [ImageScore(f"p{i}", "test", "pre", {}, 20.0 + 10 * (i // 3), 30.0, 0.5, 0.9,
                         patient=f"pat{i // 3}") for i in range(6)]
    s = summarize(scores)
    assert s["n"] == 6 and s["patients"] == 2
    lo, hi = s["psnr_before_ci"]
    assert lo == pytest.approx(20.0) and hi == pytest.approx(30.0)
    assert summarize(scores[:3])["psnr_before_ci"] is None  # one patient: no interval


def test_only_categorical_conditions_are_grouped(make_folder) -> None:
    # An export carries ids, quality figures, labels and continuous conditions beside the
    # categorical ones; only the latter make a breakdown.
    folder = make_folder("conds", n=16, splits=tuple(["train"] * 10 + ["valid"] * 2 + ["test"] * 4))
    manifest = folder / "manifest.csv"
    rows = list(csv.DictReader(manifest.open()))
    for k, row in enumerate(rows):
        row.update({"Patient": f"anon{k}", "session": "s1", "item": str(k), "q_psnr_db": f"{20 + k * 0.37:.2f}",
                    "cond_distance_mm": str(400 + 7 * k), "cond_camera": "sim?preset=x",
                    "cond_monitor": "lcd" if k % 3 else "oled", "cond_item": str(k),
                    "cond_pose": json.dumps({"yaw": k % 2})})
    with manifest.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    m = read_manifest(folder)
    assert m.condition_columns == ("cond_room_light", "cond_monitor")
    scores = [ImageScore(r.pair_id, r.split, r.preset, r.conditions, 20.0, 30.0, 0.5, 0.9)
              for r in m.records]
    groups = by_condition(scores, m.condition_columns)
    assert set(groups) == {"preset", "cond_room_light", "cond_monitor"}
    assert sum(int(g["n"]) for g in groups["cond_monitor"].values()) == 16
