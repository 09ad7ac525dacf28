"""``rig quality grade | import-ratings | agreement`` on a real project database, and the
rating window (offscreen Qt)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from quality_helpers import add_glare, camera_tone
from sklearn.metrics import cohen_kappa_score

from rig.cli import main
from rig.library.frames import encode_png, ensure_frame
from rig.library.importer import import_paths
from rig.library.samples import SampleSpec, write_samples
from rig.project import Project, init_project
from rig.quality.rating_session import open_rating_session
from rig.quality.store import load_grades, load_ratings
from rig.session.plan import CapturePlan
from rig.session.store import SessionStore
from rig.session.verify import RegistrationOutcome


def _degrade(kind: str, truth: np.ndarray) -> np.ndarray:
    toned = camera_tone(truth)
    if kind == "glare":
        return add_glare(toned, 0.2)
    if kind == "blur":
        return cv2.GaussianBlur(toned, (0, 0), 3.0)
    return toned


@pytest.fixture(scope="module")
def graded_project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, str]:
    root = tmp_path_factory.mktemp("quality")
    labels = write_samples(root / "in", n_images=3, seed=4, spec=SampleSpec(rows=320, columns=256))
    project = init_project(root / "project")
    ids = import_paths(project, [root / "in"], labels_csv=labels, recursive=True).to_dict()[
        "source_ids"]
    truths = [ensure_frame(project, s) for s in ids]
    store = SessionStore.open(project)
    plan = CapturePlan(sources="ids:" + ",".join(map(str, ids)), camera="sim:tripod-ideal")
    sid = store.create_session(plan, [(t.source_id, t.frame_id) for t in truths])
    store.transition(sid, "start")
    for idx, (truth, kind) in enumerate(zip(truths, ("good", "glare", "blur"), strict=True)):
        gray = truth.pixels if truth.pixels.ndim == 2 else cv2.cvtColor(truth.pixels,
                                                                         cv2.COLOR_RGB2GRAY)
        photo = _degrade(kind, gray)
        cap = store.request_capture(sid, idx, 1, {})
        store.store_photo(cap, project.objects.put(encode_png(photo)), {"model": "test"})
        mask = np.full(photo.shape, 255, np.uint8)
        outcome = RegistrationOutcome(True, None, psnr_db=20.0, ssim=0.8, reproj_err_px=0.4,
                                      residual_px=0.9)
        store.record_registration(cap, outcome, project.objects.put(encode_png(photo)),
                                  project.objects.put(encode_png(mask)))
    store.transition(sid, "finish")
    store.close()
    return project, sid


def test_grade_command_stores_grades_with_reasons(
    graded_project: tuple[Project, str], capsys: pytest.CaptureFixture[str]
) -> None:
    project, sid = graded_project
    assert main(["quality", "grade", "--session", sid, "--json", "-p", str(project.root)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["pairs"] == 3 and summary["below_min_grade"] == 2
    db = project.db()
    grades = load_grades(db)
    db.close()
    good, glare, blur = (grades[f"{sid}-{i:05d}-a1"] for i in range(3))
    assert good["grade"] == 4 and good["reasons"] == []
    assert glare["grade"] <= 2 and glare["reasons"][0].startswith("glare covers")
    assert blur["grade"] <= 2 and any(r.startswith("blurred") for r in blur["reasons"])
    assert blur["figures"]["sharpness"] < 0.4 and glare["figures"]["glare_fraction"] > 0.1
    assert summary["reasons"]["glare_fraction"] == 1 and summary["reasons"]["sharpness"] == 1
    assert main(["quality", "grade", "--session", "nosuch", "-p", str(project.root)]) == 2


def test_import_ratings_and_agreement(
    graded_project: tuple[Project, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project, sid = graded_project
    p = ["-p", str(project.root)]
    photos = [f"{sid}-{i:05d}-a1" for i in range(3)]
    bad = tmp_path / "bad.csv"
    bad.write_text(f"rater,photo,grade\nann,{photos[0]},4\nann,{photos[1]},7\n")
    assert main(["quality", "import-ratings", str(bad), *p]) == 3  # rejected, not "skipped"
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.csv line 3: grade '7'" in err
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("rater,photo,grade\nann,s-nope-a1,4\n")
    assert main(["quality", "import-ratings", str(unknown), *p]) == 3
    assert "unknown.csv line 2: photo 's-nope-a1' is not a verified pair" in capsys.readouterr().err
    grades = {"ann": [4, 1, 2], "bob": [4, 2, 2], "cy": [3, 1, 1]}
    rows = [f"{r},{ph},{g}" for r, gs in grades.items() for ph, g in zip(photos, gs, strict=True)]
    good = tmp_path / "ratings.csv"
    good.write_text("rater,photo,grade\n" + "\n".join(rows) + "\n")
    assert main(["quality", "import-ratings", str(good), "--json", *p]) == 0
    assert json.loads(capsys.readouterr().out)["ratings"] == 9
    assert main(["quality", "grade", *p]) == 0
    capsys.readouterr()
    assert main(["quality", "agreement", "--json", *p]) == 0
    report = json.loads(capsys.readouterr().out)
    pairs = {tuple(x["raters"]): x["qwk"] for x in report["inter_rater"]["pairs"]}
    assert pairs[("ann", "bob")] == pytest.approx(
        cohen_kappa_score(grades["ann"], grades["bob"], weights="quadratic", labels=[1, 2, 3, 4]))
    assert report["consensus_grades"] == {"1": 1, "2": 1, "3": 0, "4": 1}  # [4, 1, 2]
    assert report["automatic_vs_consensus"]["photos"] == 3


pytest.importorskip("pytestqt")


def test_rater_window_is_blind_keyboard_driven_and_resumable(
    graded_project: tuple[Project, str], qtbot  # type: ignore[no-untyped-def]
) -> None:
    from PyQt6.QtCore import Qt

    from rig.gui.quality_rater import QualityRater

    project, _ = graded_project
    session = open_rating_session(project, "dee", [])
    window = QualityRater(session)
    qtbot.addWidget(window)
    window.show()
    first = session.current
    assert first is not None and "grade" not in window.status.text().split("·")[0]
    qtbot.keyClick(window, Qt.Key.Key_3)
    qtbot.keyClick(window, Qt.Key.Key_9)  # not a grade: ignored
    db = project.db()
    assert [(r.photo, r.grade) for r in load_ratings(db, "dee")] == [(first, 3)]
    db.close()
    again = open_rating_session(project, "dee", [])  # closed and reopened: continues
    assert again.done == 1 and first not in again.queue and again.queue == session.queue
    window.close()
    second = QualityRater(again)
    qtbot.addWidget(second)
    assert second.status.text().startswith("photo 2 of 3")
    qtbot.keyClick(second, Qt.Key.Key_1)
    qtbot.keyClick(second, Qt.Key.Key_4)
    assert second.status.text().startswith("3 of 3 rated")
    db = project.db()
    assert sorted(r.grade for r in load_ratings(db, "dee")) == [1, 3, 4]
    db.close()
