"""The diagnosis classifier: labels and policies, grayscale weights, no downloads,
training that learns and resumes exactly, and the CLI end to end with its figures
checked against scikit-learn on the per-image CSV it writes."""

from __future__ import annotations

import csv
import json
import socket
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from mlfolders import write_labelled_folder
from sklearn.metrics import roc_auc_score

from rig.cli import main
from rig.errors import InputError, UsageError
from rig.ml import checkpoint as ckpt
from rig.ml.classifier import CLASSIFIERS, build_classifier, fold_to_gray
from rig.ml.classify import ClassifyConfig, train_classifier
from rig.ml.labels import evaluation_truth, training_targets
from rig.ml.trainer import EpochDone, Event

TINY = {"model": "tinycnn", "input_size": 48, "device": "cpu", "batch": 8, "patience": 100}


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("value", "policy", "target", "weight"), [
    (1.0, "u-ignore", 1, 1), (0.0, "u-ignore", 0, 1), (None, "u-ignore", 0, 1), (-1.0, "u-ignore", 0, 0),
    (-1.0, "u-zeros", 0, 1), (-1.0, "u-ones", 1, 1), (None, "u-ones", 0, 1), (1.0, "u-zeros", 1, 1),
])
def test_uncertainty_policies(value: float | None, policy: str, target: int, weight: int) -> None:
    t, w = training_targets([value], policy)
    assert (float(t[0]), float(w[0])) == (target, weight)
    assert evaluation_truth(value) == (None if value == -1.0 else int(value == 1.0))


class NoNetwork(Exception):
    pass


def test_every_classifier_is_built_without_touching_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise NoNetwork("a connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for name in CLASSIFIERS:
        model = build_classifier(name, 3)
        first = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
        assert first.in_channels == 1, name  # grayscale at the first convolution
        assert all(not torch.equal(p, torch.zeros_like(p)) for p in list(model.parameters())[:1])
    with torch.no_grad():
        assert build_classifier("resnet18", 2)(torch.zeros(1, 1, 64, 64)).shape == (1, 2)


def test_rgb_weights_fold_to_a_gray_network_that_sees_the_same(tmp_path: Path) -> None:
    # An RGB resnet18 (as a pretrained file would hold it), saved to a local file.
    torch.manual_seed(0)
    rgb = timm.create_model("resnet18", pretrained=False, in_chans=3, num_classes=5).eval()
    path = tmp_path / "resnet18_rgb.pt"
    torch.save({"state_dict": rgb.state_dict()}, path)
    gray = build_classifier("resnet18", 5, weights=path).eval()
    assert torch.equal(gray.conv1.weight, fold_to_gray(rgb.conv1.weight))
    x = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        np.testing.assert_allclose(gray(x).numpy(), rgb(x.repeat(1, 3, 1, 1)).numpy(), atol=1e-4)
    # Another head size: the head stays at its initial values, the rest loads.
    three = build_classifier("resnet18", 3, weights=path)
    assert torch.equal(three.layer1[0].conv1.weight, rgb.layer1[0].conv1.weight)
    with pytest.raises(InputError, match="no such file"):
        build_classifier("resnet18", 3, weights=tmp_path / "missing.pt")
    with pytest.raises(InputError, match="same architecture"):
        build_classifier("tinycnn", 3, weights=path)


def test_training_learns_and_resumes_exactly(labelled_folder: Path, tmp_path: Path) -> None:
    cfg = ClassifyConfig(labels=("Finding",), epochs=3, steps_per_epoch=4, **TINY)  # type: ignore[arg-type]
    train_classifier(labelled_folder, tmp_path / "straight", cfg)

    class Killed(Exception):
        pass

    def kill(event: Event) -> None:
        if isinstance(event, EpochDone) and event.epoch == 0:
            raise Killed

    with pytest.raises(Killed):
        train_classifier(labelled_folder, tmp_path / "resumed", cfg, on_event=kill)
    train_classifier(labelled_folder, tmp_path / "resumed", cfg, resume=True)
    a = ckpt.load_checkpoint(tmp_path / "straight" / ckpt.LAST)
    b = ckpt.load_checkpoint(tmp_path / "resumed" / ckpt.LAST)
    assert a["task"] == "classify" and a["train_config"]["policy"] == "u-ignore"
    for key, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][key]), key


def test_training_separates_the_classes(tmp_path: Path) -> None:
    data = write_labelled_folder(tmp_path / "d", n=48, size=48, seed=3)
    cfg = ClassifyConfig(labels=("Finding",), epochs=12, steps_per_epoch=4, lr=5e-3, **TINY)  # type: ignore[arg-type]
    result = train_classifier(data, tmp_path / "run", cfg)
    history = ckpt.read_metrics(tmp_path / "run")
    assert result.best["val_auroc"] >= 0.9, history
    assert len(history) == 12 and sum(h["steps"] for h in history) == 48


def test_bad_label_names_and_settings_are_one_line_errors(labelled_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no label column .Nope.*Finding, Other"):
        train_classifier(labelled_folder, tmp_path / "r", ClassifyConfig(labels=("Nope",), **TINY))  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="--policy"):
        train_classifier(labelled_folder, tmp_path / "r", ClassifyConfig(labels=("Finding",), policy="u-maybe", **TINY))  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="--restore"):
        train_classifier(labelled_folder, tmp_path / "r", ClassifyConfig(labels=("Finding",), train_on="restored", **TINY))  # type: ignore[arg-type]


def _scores(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_cli_train_eval_classify_end_to_end(labelled_folder: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    rest, run, rep = tmp_path / "rest", tmp_path / "cls", tmp_path / "rep"
    code, _, err = _run(["train", "restore", "--model", "tonecurve", "--data", str(labelled_folder),
                         "-o", str(rest), "--device", "cpu"], capsys)
    assert code == 0, err
    code, out, err = _run(["train", "classify", "--data", str(labelled_folder), "--model", "tinycnn",
                           "--labels", "Finding,Other", "--train-on", "mixed", "--restore", str(rest),
                           "--input-size", "48", "--epochs", "2", "--steps", "3", "--seed", "1",
                           "-o", str(run), "--device", "cpu", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["steps_done"] == 6
    code, out, err = _run(["eval", "classify", "--run", str(run), "--restore", str(rest), "--json",
                           "--device", "cpu", "--report", str(rep)], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert result["views"] == ["dicom", "photo", "restored"] and result["policy"] == "u-ignore"
    assert set(result["paired"]["Finding"]) == {"photo_vs_dicom", "restored_vs_photo", "restored_vs_dicom"}
    rows = _scores(rep / "scores.csv")
    assert len(rows) == 3 * 2 * result["n_images"]
    for view in ("dicom", "photo", "restored"):
        for label in ("Finding", "Other"):
            mine = [r for r in rows if r["view"] == view and r["label"] == label and r["truth"] != ""]
            entry = result["per_label"][label][view]
            assert entry["n"] == len(mine)
            truth = [int(r["truth"]) for r in mine]
            if len(set(truth)) < 2:
                assert entry["auroc"] is None and entry["reason"]
                continue
            oracle = roc_auc_score(truth, [float(r["probability"]) for r in mine])
            assert entry["auroc"] == pytest.approx(oracle, abs=1e-4)
            lo, hi = entry["auroc_ci"]
            assert lo <= entry["auroc"] <= hi
    other = result["per_label"]["Other"]["dicom"]
    assert other["n_uncertain"] > 0  # -1 values are left out of the AUROC, and counted
    for name in ("report.md", "roc.png", "reliability.png", "training_curves.png", "metrics.json"):
        assert (rep / name).is_file(), name
    code, out, err = _run(["classify", str(labelled_folder / "ground_truth" / "c000.png"),
                           str(labelled_folder / "aligned" / "c001.png"), "--run", str(run),
                           "--restore", str(rest), "--json", "--device", "cpu"], capsys)
    assert code == 0, err
    scored = json.loads(out)["images"]
    assert [s["view"] for s in scored] == ["restored", "restored"]
    assert set(scored[0]["probabilities"]) == {"Finding", "Other"}
    assert 0.0 <= scored[0]["probabilities"]["Finding"] <= 1.0


def test_one_class_test_split_is_na_with_a_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_labelled_folder(tmp_path / "d", n=16, size=48)
    manifest = data / "manifest.csv"
    rows = _scores(manifest)
    for row in rows:
        if row["split"] == "test":
            row["Finding"] = "0.0"
    with manifest.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    run = tmp_path / "run"
    train_classifier(data, run, ClassifyConfig(labels=("Finding",), epochs=1, steps_per_epoch=1, **TINY))  # type: ignore[arg-type]
    code, out, err = _run(["eval", "classify", "--run", str(run), "--json", "--device", "cpu"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert result["skipped_views"] == {"restored": "no restoration run: pass --restore RUN"}
    dicom = result["per_label"]["Finding"]["dicom"]
    assert dicom["auroc"] is None and "only negatives" in dicom["reason"]
    assert result["paired"]["Finding"]["photo_vs_dicom"]["p"] is None


def test_classify_a_dicom(tmp_path: Path, labelled_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rig.library.samples import write_samples

    write_samples(tmp_path / "dcm", n_images=1)
    dcm = next((tmp_path / "dcm").rglob("*.dcm"))
    run = tmp_path / "run"
    train_classifier(labelled_folder, run, ClassifyConfig(labels=("Finding",), epochs=1, steps_per_epoch=1, **TINY))  # type: ignore[arg-type]
    code, out, err = _run(["classify", str(dcm), "--run", str(run), "--json", "--device", "cpu"], capsys)
    assert code == 0, err
    assert json.loads(out)["images"][0]["view"] == "dicom"
    code, _, err = _run(["classify", str(tmp_path / "none.png"), "--run", str(run)], capsys)
    assert code == 2 and err.count("\n") == 1 and "no such file" in err  # usage


def test_a_photo_of_a_rig_screen_is_registered_then_scored(tmp_path: Path, labelled_folder: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    # The teleradiology use: a phone photo of the screen frame (virtual camera, the
    # paper-lcd-iphone preset), registered to the frame it shows before it is scored.
    from calibration.fiducials import FiducialLayout
    from calibration.framecode import FrameCode
    from rig.camsim import SimCamera, load_preset
    from rig.imaging.screen import compose_screen_frame, encode_screen_png
    from rig.ml.samplesource import draw_case

    image, _ = draw_case(np.random.default_rng(4), 480, 400)
    frames = {}
    for index in (1, 2):
        frame = compose_screen_frame(image if index == 1 else 255 - image, (1920, 1080),
                                     FiducialLayout(), FrameCode(3, index, 0, 0))
        frames[index] = tmp_path / f"frame{index}.png"
        frames[index].write_bytes(encode_screen_png(frame))
        if index == 1:
            photo = SimCamera(load_preset("paper-lcd-iphone"), seed=3).capture(frame.canvas)
            (tmp_path / "photo.jpg").write_bytes(photo.jpeg)
    run = tmp_path / "run"
    train_classifier(labelled_folder, run, ClassifyConfig(labels=("Finding",), epochs=1, steps_per_epoch=1, **TINY))  # type: ignore[arg-type]
    code, out, err = _run(["classify", str(tmp_path / "photo.jpg"), "--frame", str(frames[1]), "--run",
                           str(run), "--json", "--device", "cpu"], capsys)
    assert code == 0, err
    scored = json.loads(out)["images"][0]
    assert scored["view"] == "photo" and scored["registered"] is True
    code, _, err = _run(["classify", str(tmp_path / "photo.jpg"), "--frame", str(frames[2]), "--run",
                         str(run), "--device", "cpu"], capsys)
    assert code == 3 and err.count("\n") == 1 and "not registered to frame2.png" in err  # rejected
