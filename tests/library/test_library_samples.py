"""The sample generator: byte-identical per seed, labels that agree with severities,
findings drawn into the anatomy, real sizes and bit depths, the CLI."""

from __future__ import annotations

import csv
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pydicom
import pytest

from rig.cli import main
from rig.library import findings as fx
from rig.library.samples import (
    FINDINGS,
    Case,
    SampleSpec,
    case_for_labels,
    draw_case,
    draw_findings,
    phantom,
    render_case,
    write_samples,
)

SMALL = SampleSpec(rows=180, columns=150)


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_in_another_process(tmp_path: Path) -> None:
    write_samples(tmp_path / "a", n_images=3, seed=11, spec=SMALL)
    code = ("import sys; from pathlib import Path; from rig.library.samples import SampleSpec, write_samples; "
            "write_samples(Path(sys.argv[1]), n_images=3, seed=11, spec=SampleSpec(rows=180, columns=150))")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "b")], check=True)
    a, b = _tree_bytes(tmp_path / "a"), _tree_bytes(tmp_path / "b")
    assert len(a) == 4 and a == b
    write_samples(tmp_path / "c", n_images=3, seed=12, spec=SMALL)
    c = _tree_bytes(tmp_path / "c")
    assert all(a[k] != c[k] for k in a if k.endswith(".dcm"))


def test_labels_csv_is_chexpert_style_and_matches_the_files(tmp_path: Path) -> None:
    labels = write_samples(tmp_path, n_images=10, seed=4, spec=SMALL)
    with labels.open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["Path", "Frontal/Lateral", "AP/PA", *FINDINGS]
    for row in rows:
        assert (tmp_path / row["Path"]).is_file()
        values = {name: int(row[name]) for name in FINDINGS}
        assert set(values.values()) <= {-1, 0, 1}
        pathologies = [v for k, v in values.items() if k not in ("No Finding", "Support Devices")]
        assert values["No Finding"] == int(all(v == 0 for v in pathologies))


def test_labels_follow_severity_with_uncertainty_only_at_the_threshold() -> None:
    rng = np.random.default_rng(0)
    cases = [draw_case(rng) for _ in range(3000)]
    for model in fx.PATHOLOGIES:
        for case in cases:
            s, label = case.severity[model.name], case.labels[model.name]
            if label == -1:
                assert abs(s - model.threshold) < model.borderline
            else:
                assert label == int(s >= model.threshold), (model.name, s, label)
        drawn = np.mean([c.severity[model.name] >= model.threshold for c in cases])
        assert abs(drawn - model.prevalence) < 0.04, (model.name, drawn)
    uncertain = np.mean([v == -1 for c in cases for v in c.labels.values()])
    assert 0.005 < uncertain < 0.1  # some, not many: CheXpert-like


def test_difficulty_moves_positive_severities_towards_the_threshold() -> None:
    def positives(difficulty: float) -> np.ndarray:
        rng = np.random.default_rng(1)
        model = fx.PATHOLOGIES[3]  # Lung Lesion
        return np.array([fx.draw_severity(rng, model, True, difficulty) for _ in range(2000)])

    easy, hard = positives(0.0), positives(1.0)
    assert easy.min() >= fx.PATHOLOGIES[3].threshold and hard.min() >= fx.PATHOLOGIES[3].threshold
    assert np.median(easy) - np.median(hard) > 0.25


def test_labels_given_to_phantom_get_agreeing_severities() -> None:
    rng = np.random.default_rng(2)
    for _ in range(200):
        labels = draw_findings(rng)
        case = case_for_labels(rng, labels)
        for model in fx.PATHOLOGIES:
            s, label = case.severity[model.name], labels[model.name]
            if label == 1:
                assert s >= model.threshold
            elif label == 0:
                assert s < model.threshold
            else:
                assert abs(s - model.threshold) <= model.borderline
        assert bool(case.devices) == (labels["Support Devices"] == 1)


def _heart_width_px(display: np.ndarray) -> int:
    """Width of the bright mediastinal/cardiac band between the lungs, lower thorax."""
    h, w = display.shape
    profile = np.median(display[int(h * 0.52):int(h * 0.62)], axis=0)
    centre = w // 2
    lungs = np.percentile(profile[int(w * 0.1):int(w * 0.9)], 10)
    threshold = (lungs + profile[centre - 3:centre + 3].mean()) / 2
    left = right = centre
    while left > 0 and profile[left - 1] > threshold:
        left -= 1
    while right < w - 1 and profile[right + 1] > threshold:
        right += 1
    return right - left + 1


def test_cardiomegaly_widens_the_heart_in_the_pixels() -> None:
    base = draw_case(np.random.default_rng(5))
    spec = SampleSpec(rows=360, columns=300)
    widths = []
    for severity in (0.05, 0.45, 0.95):  # CTR 0.41, 0.50, 0.61
        case = replace(base, severity={**base.severity, "Cardiomegaly": severity})
        widths.append(_heart_width_px(render_case(case, spec)))
    ctrs = [0.40 + 0.22 * s for s in (0.05, 0.45, 0.95)]
    assert widths[0] < widths[1] < widths[2]
    # The band grows with the drawn heart: ~0.77 of the image width per unit of CTR.
    slope = (widths[2] - widths[0]) / (ctrs[2] - ctrs[0]) / spec.columns
    assert 0.5 < slope < 1.0, (widths, slope)


@pytest.mark.parametrize("finding", ["Pleural Effusion", "Lung Lesion", "Consolidation", "Pneumothorax"])
def test_each_finding_changes_only_lung_pixels_and_grows_with_severity(finding: str) -> None:
    base = draw_case(np.random.default_rng(8))
    clean = Case(base.seed, {k: 0.0 for k in base.severity} | {"Cardiomegaly": 0.2}, ())
    spec = SampleSpec(rows=360, columns=300)
    reference = render_case(clean, spec)
    changes = []
    for severity in (0.35, 0.9):
        image = render_case(replace(clean, severity={**clean.severity, finding: severity}), spec)
        changes.append(np.abs(image - reference))
    assert changes[1].sum() > changes[0].sum() > 0
    # The change sits in the chest, not in the corners (text, marker, collimation).
    assert changes[1][:20, :20].max() < 0.02 and changes[1][-20:, -20:].max() < 0.02


def test_phantom_keeps_its_signature_and_range() -> None:
    rng = np.random.default_rng(3)
    image = phantom(rng, SampleSpec(rows=96, columns=80), draw_findings(rng))
    assert image.shape == (96, 80) and image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() <= 1.0 and image.std() > 0.05


def test_real_size_sixteen_bits_monochrome1(tmp_path: Path) -> None:
    spec = SampleSpec.real_size(bits_stored=16, monochrome1=True)
    write_samples(tmp_path, n_images=1, seed=1, spec=spec)
    ds = pydicom.dcmread(next(tmp_path.rglob("*.dcm")))
    assert (ds.Rows, ds.Columns, ds.BitsStored, ds.PhotometricInterpretation) == (2500, 2048, 16, "MONOCHROME1")
    pixels = ds.pixel_array
    assert pixels.max() > 40000 and float(ds.ImagerPixelSpacing[0]) == pytest.approx(400 / 2048, abs=1e-3)
    # MONOCHROME1: the lungs (air, dark when displayed) are stored high.
    assert np.median(pixels[1000:1400, 400:700]) > np.median(pixels[1000:1400, 950:1100])


def test_identifiers_reach_the_pixels_only_when_asked() -> None:
    case = draw_case(np.random.default_rng(9))
    spec = SampleSpec(rows=600, columns=500)
    plain = render_case(case, spec)
    marked = render_case(case, spec, ("RIGSAMPLE^PATIENT0001", "ID RIGSAMPLE-000001"))
    changed = np.abs(marked - plain) > 0.2
    assert changed.sum() > 200  # the text is there, white, in one corner
    rows, cols = np.nonzero(changed)
    assert np.ptp(rows) < 0.2 * spec.rows and np.ptp(cols) < 0.7 * spec.columns


def test_samples_command_writes_and_rejects_bad_sizes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["samples", str(tmp_path / "s"), "--n", "2", "--size", "120x100", "--bits", "14",
                 "--cases-csv", str(tmp_path / "cases.csv")]) == 0
    assert len(list((tmp_path / "s").rglob("*.dcm"))) == 2
    with (tmp_path / "cases.csv").open() as handle:
        cases = list(csv.DictReader(handle))
    assert len(cases) == 2 and 0.39 < float(cases[0]["ctr"]) < 0.63
    assert main(["samples", str(tmp_path / "x"), "--size", "big"]) == 2
    assert "--size 'big'" in capsys.readouterr().err
