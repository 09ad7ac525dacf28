"""Labels CSV parsing and path matching."""

from __future__ import annotations

from pathlib import Path, PurePath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rig.errors import InputError
from rig.library.labels import ids_from_path, read_labels

CHEXPERT = (
    "Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Cardiomegaly,Pleural Effusion\n"
    "CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg,Female,68,Frontal,AP,1.0,,\n"
    "CheXpert-v1.0-small/train/patient00002/study2/view1_frontal.jpg,Male,87,Frontal,PA,,-1.0,0.0\n"
)


def test_chexpert_csv(tmp_path: Path) -> None:
    csv = tmp_path / "train.csv"
    csv.write_text(CHEXPERT)
    table = read_labels(csv)
    row = table.match(tmp_path / "data/train/patient00002/study2/view1_frontal.jpg")
    assert row is not None
    assert row.labels == {"No Finding": None, "Cardiomegaly": -1.0, "Pleural Effusion": 0.0}
    assert row.view == "Frontal/PA"
    assert (row.patient, row.study) == ("00002", "00002/2")
    assert "Age" not in row.labels and "Sex" not in row.labels


def test_simple_path_label_csv(tmp_path: Path) -> None:
    csv = tmp_path / "l.csv"
    csv.write_text("path,label\na/x.png,pneumonia\nb/x.png,1\n")
    table = read_labels(csv)
    assert table.match(Path("/d/a/x.png")).labels == {"pneumonia": 1.0}  # type: ignore[union-attr]
    assert table.match(Path("/d/b/x.png")).labels == {"label": 1.0}  # type: ignore[union-attr]


def test_ambiguous_suffix_does_not_match(tmp_path: Path) -> None:
    csv = tmp_path / "l.csv"
    csv.write_text("path,label\na/x.png,1\nb/x.png,0\n")
    table = read_labels(csv)
    assert table.match(Path("/elsewhere/x.png")) is None


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("File,label\nx,1\n", "no 'Path' column"),
        ("Path,Edema\nx.png,2\n", r"l.csv:2 column 'Edema'.*not 1, 0, -1"),
        ("Path,Edema\n,1\n", "empty Path"),
    ],
)
def test_bad_csv_is_one_clear_error(tmp_path: Path, text: str, match: str) -> None:
    csv = tmp_path / "l.csv"
    csv.write_text(text)
    with pytest.raises(InputError, match=match):
        read_labels(csv)


@given(patient=st.integers(0, 99999), study=st.integers(1, 50))
def test_ids_from_chexpert_paths(patient: int, study: int) -> None:
    path = PurePath(f"train/patient{patient:05d}/study{study}/view1_frontal.jpg")
    assert ids_from_path(path) == (f"{patient:05d}", f"{patient:05d}/{study}")
