"""The learning benchmarks' plumbing, on tiny data (--quick): fixed steps on every seed,
spread and paired differences computed from the per-seed results, goals judged on every
seed, the machine recorded. Numbers are not checked here: they live in the benchmarks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rig.cli import main
from rig.ml.bench import goal_checks
from rig.ml.benchkit import Goal, paired


def _bench(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    code = main(["bench", *args, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_bench_restore_quick(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = _bench(["restore", "--quick", "--seeds", "2", "--model", "unet", "--model", "tonecurve",
                     "--cross-preset", "tripod-ideal", "--no-real", "--steps", "unet=6", "--work", str(tmp_path)],
                    capsys)
    meta = result.pop("bench")
    assert meta["models"] == ["unet", "tonecurve"] and set(result) == {"unet", "tonecurve"}
    assert meta["mode"].startswith("quick") and meta["seeds"] == [0, 1]
    assert meta["command"].startswith("rig bench restore --pairs 12 --seeds 2 --model unet")
    assert "--steps unet=6" in meta["command"]
    for key in ("cpu_model", "cpu_cores", "torch_threads", "versions", "load_avg_1min_start"):
        assert key in meta["machine"], key
    assert set(meta["machine"]["versions"]) >= {"torch", "numpy", "opencv"}
    unet, tone = result["unet"], result["tonecurve"]
    assert [r["seed"] for r in unet["per_seed"]] == [0, 1]
    assert [r["steps"] for r in unet["per_seed"]] == [unet["steps"]] * 2 == [6, 6]
    assert [r["steps"] for r in tone["per_seed"]] == [0, 0]
    for r in unet["per_seed"]:
        assert r["steps_per_s"] > 0 and r["train_time_s"] > 0
        assert isinstance(r["psnr_after"], float) and isinstance(r["ssim_after"], float)
    values = [r["psnr_after"] for r in unet["per_seed"]]
    assert unet["psnr_after"] == pytest.approx(sum(values) / 2, abs=1e-3)
    assert unet["psnr_after_spread"]["min"] == pytest.approx(min(values), abs=1e-3)
    diff = meta["paired"]["unet - tonecurve"]["psnr_after"]["per_seed"]
    assert diff == pytest.approx([a["psnr_after"] - b["psnr_after"] for a, b in
                                  zip(unet["per_seed"], tone["per_seed"], strict=True)], abs=1e-3)
    assert tone["psnr_after"] > tone["psnr_before"]  # the closed-form curve alone lifts it
    # The other test sets, scored by every run with the tone curve among them (issue 21).
    assert set(unet["sets"]) == set(tone["sets"]) == {"preset:tripod-ideal", "chexphoto"}
    chain = meta["data"]["chexphoto"]
    assert chain["chain"] == ["glare_matte", "moire", "tilt"] and chain["photos"] == unet["n_test"]
    assert chain["registered"] == unet["sets"]["chexphoto"]["n_test"] == chain["photos"] - len(chain["unregistered"])
    for name, figures in unet["sets"].items():
        own = [r["psnr_after"] for r in unet["per_seed"]]
        other = [r["sets"][name]["psnr_after"] for r in unet["per_seed"]]
        assert figures["drop_db"]["per_seed"] == pytest.approx([a - b for a, b in zip(own, other, strict=True)],
                                                              abs=1e-3)
    assert unet["sets"]["preset:tripod-ideal"]["n_test"] == unet["n_test"]  # the same test patients


def test_bench_classify_quick(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = _bench(["classify", "--quick", "--seeds", "2", "--model", "tinycnn", "--work", str(tmp_path)],
                    capsys)
    meta = result.pop("bench")
    assert meta["models"] == ["tinycnn"] == list(result) and meta["mode"].startswith("quick")
    r = result["tinycnn"]
    for view in ("dicom", "photo", "restored"):
        assert f"auroc_{view}" in r and f"auroc_{view}_spread" in r
        ci = r[f"auroc_{view}_ci"]
        assert ci is None or (len(ci) == 2 and ci[0] <= ci[1])
    assert r["train_images_per_s"] > 0 and r["infer_images_per_s"] > 0
    assert [s["steps"] for s in r["per_seed"]] == [r["steps"]] * 2
    diffs = meta["paired"]["tinycnn"]["photo - dicom"]["per_seed"]
    for d, s in zip(diffs, r["per_seed"], strict=True):
        if d is not None:
            assert d == pytest.approx(s["auroc_photo"] - s["auroc_dicom"], abs=1e-4)
    assert set(r["per_seed"][0]["delong_p_photo_vs_dicom"]) == set(meta["data"]["labels"])


def test_goals_count_only_when_every_seed_meets_them() -> None:
    assert Goal("x", (0.94, 0.95, 0.931), lambda v: v >= 0.93).judge()["met"]
    assert not Goal("x", (0.94, 0.95, 0.929), lambda v: v >= 0.93).judge()["met"]  # one seed short
    assert not Goal("x", (0.94, None), lambda v: v >= 0.93).judge()["met"]
    row = {"psnr_before": 14.0, "ssim_before": 0.70}
    dn = [{"seed": s, **row, "psnr_after": 36.0, "psnr_gain_db": 22.0, "ssim_after": v} for s, v in
          enumerate((0.935, 0.94, 0.932))]
    un = [{"seed": s, **row, "psnr_after": 36.0 + d, "psnr_gain_db": 22.0 + d, "ssim_after": 0.95} for s, d in
          enumerate((0.2, -0.1, 0.3))]
    checks = {g["goal"]: g["met"] for g in goal_checks({"dncnn": {"per_seed": dn}, "unet": {"per_seed": un}})}
    assert checks == {"dncnn gains >= 15 dB": True, "dncnn SSIM >= 0.93": True,
                      "unet beats dncnn on psnr_after": False,  # seed 1 is behind
                      "unet beats dncnn on ssim_after": True}
    assert paired(un, dn, "psnr_after")["per_seed"] == [0.2, -0.1, 0.3]
    with pytest.raises(AssertionError):
        paired(un, list(reversed(dn)), "psnr_after")  # the same seeds, in the same order


def test_two_quick_runs_do_the_same_work_under_different_threads(tmp_path: Path) -> None:
    # Issue 22: fixed work, not minutes. A second run with fewer threads (a busier or
    # smaller machine) does the same optimiser steps and lands on the same result.
    from dataclasses import replace

    import torch

    from rig.ml.bench import RestoreBenchPlan, run_bench

    plan = replace(RestoreBenchPlan.quick_plan(("dncnn",), (0,)), cross_presets=(), real=False, chexphoto=None)
    first = run_bench(tmp_path, plan)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        second = run_bench(tmp_path, plan)
    finally:
        torch.set_num_threads(threads)
    a, b = first["dncnn"]["per_seed"][0], second["dncnn"]["per_seed"][0]
    assert a["steps"] == b["steps"] == plan.steps_of("dncnn") > 0
    # Other threads sum in another order: float rounding, far inside any seed spread
    # (measured: 0.02 dB after 12 steps); a run of other length would miss by far more.
    assert a["psnr_after"] == pytest.approx(b["psnr_after"], abs=0.1)
    assert a["ssim_after"] == pytest.approx(b["ssim_after"], abs=2e-3)
    assert second["bench"]["machine"]["torch_threads"] == 1


def test_nafnet_goals_are_paired_margins_on_every_seed() -> None:
    row = {"psnr_before": 14.0, "ssim_before": 0.70, "ssim_after": 0.9, "psnr_gain_db": 0.0}
    tone = [{"seed": s, **row, "psnr_after": 30.0} for s in range(3)]
    dn = [{"seed": s, **row, "psnr_after": 34.0 + d} for s, d in enumerate((0.0, 0.5, -0.2))]
    naf = [{"seed": s, **row, "psnr_after": 35.5 + d} for s, d in enumerate((0.0, -0.1, 0.0))]
    checks = {g["goal"]: g["met"] for g in goal_checks({"dncnn": {"per_seed": dn}, "nafnet": {"per_seed": naf},
                                                        "tonecurve": {"per_seed": tone}})}
    assert checks["nafnet >= dncnn + 1 dB"] is False  # seed 1: 35.4 - 34.5 = 0.9
    assert checks["nafnet >= tonecurve + 5 dB"] is True


def test_real_radiographs_test_set_is_photographed_like_the_bench(tmp_path: Path) -> None:
    from rig.library.radiostats import real_references
    from rig.ml.benchdata import bench_spec, build_real_folder
    from rig.ml.data import load_pair, read_manifest

    if not real_references():
        pytest.skip("pydicom-data is not installed")
    spec = bench_spec(12, quick=True)
    folder = build_real_folder(tmp_path / "real", spec)
    assert folder is not None
    records = read_manifest(folder).split("test")
    assert len(records) == len(real_references())
    for rec in records:
        pair = load_pair(rec)
        assert pair.truth.shape[0] <= spec.rows and pair.truth.shape[1] <= spec.columns
        assert max(pair.truth.shape[0] / spec.rows, pair.truth.shape[1] / spec.columns) > 0.99  # fitted
        assert pair.mask.mean() > 0.9 and abs(float(pair.aligned.mean()) - float(pair.truth.mean())) < 60


def test_chexphoto_set_is_the_chain_on_the_whole_frame_registered_through_the_fiducials(tmp_path: Path) -> None:
    # CheXphoto's chain tilts the whole screen frame (corners move up to 10 % of a side at
    # level 2): only a registration through the fiducials puts the image back on the truth.
    from calibration.metrics import psnr
    from rig.ml.benchdata import ChainSpec, bench_spec, build_chain_folder, chained_frame
    from rig.ml.data import load_pair, read_manifest

    spec = bench_spec(10, quick=True)
    folder, record = build_chain_folder(tmp_path / "chain", spec)
    assert folder is not None and record["registered"] == record["photos"] == 2 and record["unregistered"] == []
    for rec in read_manifest(folder).split("test"):
        pair = load_pair(rec)
        assert pair.aligned.shape == pair.truth.shape == (spec.rows, spec.columns)
        assert pair.mask.mean() > 0.95
        registered = psnr(pair.truth, pair.aligned, pair.mask)
        frame, photo = chained_frame(pair.truth, ChainSpec(), spec.seed, int(rec.pair_id.removeprefix("chexphoto")))
        p = frame.placement
        in_place = photo[p.offset_y : p.offset_y + p.height, p.offset_x : p.offset_x + p.width]
        assert 18.0 < registered < 45.0  # degraded (glare, moire), yet back in place
        assert registered > psnr(pair.truth, in_place, pair.mask) + 3.0
    # A chain that blurs the markers away is counted, named and left out, not a crash.
    blurred, blur_record = build_chain_folder(tmp_path / "blur", spec, ChainSpec(("blur",), 4))
    assert blurred is None and blur_record["registered"] == 0
    assert len(blur_record["unregistered"]) == 2 and "markers found" in blur_record["unregistered"][0]


@pytest.mark.parametrize("args", [["--steps", "dncnn"], ["--steps", "nosuch=5"], ["--steps", "dncnn=0"],
                                  ["--image-px", "240"], ["--image-px", "32x32"]])
def test_bench_restore_sizing_options_refuse_bad_values(args: list[str], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "restore", "--model", "dncnn", *args, "--work", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and args[0] in err and "Traceback" not in err
    assert not (tmp_path / "data").exists()  # refused before any simulation


def test_bench_command_reruns_a_resized_plan() -> None:
    from dataclasses import replace

    from rig.ml.bench import RestoreBenchPlan

    plan = replace(RestoreBenchPlan(models=("tonecurve", "nafnet")), image_px=(360, 300),
                   steps={"nafnet": 240, "dncnn": 600}, chexphoto=None)
    command = plan.command()
    assert "--image-px 360x300" in command and "--steps nafnet=240" in command and "--no-chexphoto" in command
    assert "dncnn=" not in command  # not in the plan's models
    assert plan.spec.rows == 360 and plan.spec.columns == 300 and plan.steps_of("nafnet") == 240
