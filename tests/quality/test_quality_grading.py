from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from quality_helpers import add_glare, camera_tone

from rig.config import ProjectConfig, QualityConfig, dump_config, load_config
from rig.errors import InputError
from rig.quality.figures import PairFigures, fit_pair_tone_curve, pair_figures
from rig.quality.grading import RULES, Reference, cutoffs, grade_figures, grade_value


def _mask(image: np.ndarray) -> np.ndarray:
    return np.ones(image.shape[:2], bool)


def test_identical_pair_is_good(truth: np.ndarray) -> None:
    fig = pair_figures(truth, truth, _mask(truth), 0.2)
    assert fig.ssim == pytest.approx(1.0)
    assert fig.psnr_db == 99.0
    assert fig.sharpness == pytest.approx(1.0)
    assert fig.glare_fraction == 0.0
    grade = grade_figures(fig, QualityConfig())
    assert grade.grade == 4 and grade.reasons == ()


def test_camera_tone_curve_is_not_a_defect(truth: np.ndarray) -> None:
    # A monotone camera response is undone by the fitted curve, as a calibrated one would.
    photo = camera_tone(truth)
    raw_psnr = 10 * np.log10(255**2 / np.mean((photo.astype(float) - truth) ** 2))
    fig = pair_figures(photo, truth, _mask(truth), 0.3)
    assert raw_psnr < 25 < fig.psnr_db
    assert fig.ssim > 0.9 and fig.sharpness > 0.8
    assert grade_figures(fig, QualityConfig()).grade == 4


def test_fitted_tone_curve_inverts_a_known_response(truth: np.ndarray) -> None:
    photo = camera_tone(truth)
    curve = fit_pair_tone_curve(photo, truth, _mask(truth))
    levels = np.array([30.0, 100.0, 200.0])
    expected = np.rint(255 * (0.06 + 0.88 * (levels / 255) ** 0.7))
    assert np.abs(curve.camera_of(levels) - expected).max() <= 1.0


def test_sharpness_falls_with_blur_and_ignores_noise(truth: np.ndarray) -> None:
    values = [pair_figures(cv2.GaussianBlur(truth, (0, 0), s), truth, _mask(truth), None).sharpness
              for s in (0.5, 1.0, 2.0, 4.0)]
    assert values == sorted(values, reverse=True) and values[-1] < 0.15
    noisy = np.clip(truth + np.random.default_rng(0).normal(0, 12, truth.shape), 0, 255)
    fig = pair_figures(noisy.astype(np.uint8), truth, _mask(truth), None)
    assert fig.sharpness == pytest.approx(1.0, abs=0.08)  # noise is not blur
    assert fig.psnr_db < 28  # but it is noise


@pytest.mark.parametrize("fraction", [0.03, 0.12, 0.3])
def test_glare_fraction_measures_the_veil(truth: np.ndarray, fraction: float) -> None:
    photo = add_glare(camera_tone(truth), fraction)
    fig = pair_figures(photo, truth, _mask(truth), 0.2)
    assert fig.glare_fraction == pytest.approx(fraction, rel=0.25)
    grade = grade_figures(fig, QualityConfig())
    assert any(r.startswith("glare covers") for r in grade.reasons)


def test_reasons_in_words_worst_first() -> None:
    fig = PairFigures(ssim=0.8, psnr_db=30.0, glare_fraction=0.12, saturated_fraction=0.0,
                      sharpness=0.41, marker_residual_px=0.3, coverage=1.0)
    grade = grade_figures(fig, QualityConfig())
    assert grade.grade == 2
    assert grade.reasons == ("glare covers 12 % of the image",
                             "blurred: sharpness 0.41 of the ground truth's")
    assert grade.failing(3) == ["glare_fraction", "sharpness"]


def test_a_rule_explains_itself_against_its_reference() -> None:
    fig = PairFigures(ssim=0.9, psnr_db=30.0, glare_fraction=0.0, saturated_fraction=0.0,
                      sharpness=0.41, marker_residual_px=0.5, coverage=1.0)
    label = grade_figures(fig, QualityConfig())
    gate = grade_figures(fig, QualityConfig(), Reference.BEST_SHOTS)
    assert label.figure_reasons["sharpness"] == "blurred: sharpness 0.41 of the ground truth's"
    assert gate.figure_reasons["sharpness"] == "blurred: sharpness 0.41 of the best shots"
    # Figures measured only against the ground truth say so whatever the reference.
    assert gate.figure_reasons["ssim"] == label.figure_reasons["ssim"]
    assert gate.grade == label.grade and gate.reasons != label.reasons


def test_mask_limits_the_figures(truth: np.ndarray) -> None:
    photo = truth.copy()
    photo[:, : truth.shape[1] // 2] = 255  # garbage outside the valid half
    mask = np.zeros(truth.shape, bool)
    mask[:, truth.shape[1] // 2 :] = True
    fig = pair_figures(photo, truth, mask, None)
    assert fig.coverage == pytest.approx(0.5) and fig.glare_fraction == 0.0
    assert "only 50 % of the image is inside the photo" in grade_figures(fig, QualityConfig()).reasons


def test_shape_mismatch_is_an_error(truth: np.ndarray) -> None:
    with pytest.raises(ValueError, match="differ in size"):
        pair_figures(truth[:-1], truth, _mask(truth), None)


figures_st = st.builds(
    PairFigures, ssim=st.floats(0, 1), psnr_db=st.floats(5, 60), glare_fraction=st.floats(0, 1),
    saturated_fraction=st.floats(0, 1), sharpness=st.floats(0, 1.5),
    marker_residual_px=st.one_of(st.none(), st.floats(0, 20)), coverage=st.floats(0, 1))


@settings(max_examples=200, deadline=None)
@given(fig=figures_st, rule=st.sampled_from(RULES), worse=st.floats(0, 1))
def test_a_worse_figure_never_raises_the_grade(fig: PairFigures, rule, worse: float) -> None:
    value = getattr(fig, rule.name)
    if value is None:
        return
    changed = value - worse if rule.higher_is_better else value + worse
    cfg = QualityConfig()
    assert grade_figures(replace(fig, **{rule.name: changed}), cfg).grade <= grade_figures(fig, cfg).grade


def test_grade_value_boundaries() -> None:
    assert [grade_value(v, (0.7, 0.6, 0.45), True) for v in (0.7, 0.69, 0.6, 0.45, 0.44)] == [
        4, 3, 3, 2, 1]
    assert [grade_value(v, (0.01, 0.04, 0.12), False) for v in (0.0, 0.02, 0.12, 0.5)] == [
        4, 3, 2, 1]
    for rule in RULES:  # every rule finds its three cut-offs in the config
        assert len(cutoffs(QualityConfig(), rule)) == 3


def test_quality_section_round_trips_and_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "rig.toml"
    cfg = ProjectConfig(quality=QualityConfig(min_grade=4, glare_poor=0.2))
    path.write_text(dump_config(cfg))
    assert load_config(path).quality == cfg.quality
    path.write_text("[quality]\nssim_good = 0.5\nssim_acceptable = 0.6\n")
    with pytest.raises(InputError, match="ssim cut-offs"):
        load_config(path)
    path.write_text("[quality]\nmin_grade = 5\n")
    with pytest.raises(InputError, match="min_grade"):
        load_config(path)
    path.write_text("[quality]\nglare_typo = 0.5\n")
    with pytest.raises(InputError, match="glare_typo"):
        load_config(path)
