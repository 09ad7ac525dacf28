"""Scoring single images with a trained classifier: the teleradiology use (``rig classify``).

An input is a DICOM (rendered to the display frame as a viewer shows it: ``dicom``
view), a registered photo (``photo``), or a raw photo of a rig screen frame, which is
registered to that frame first (``--frame``: the screen frame PNG the display showed,
with its ``rig-frame`` metadata; markers, frame code and the image's placement come from
it) and then scored as a ``photo``. With a restoration run, photos are restored first
and scored in the ``restored`` view (the photo's own scores are kept beside them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from rig.errors import InputError, UsageError
from rig.ml.checkpoint import load_run_model
from rig.ml.classify import predict
from rig.ml.photos import read_photo_input
from rig.ml.views import Restorer, to_input

DICOM_MAGIC_AT, DICOM_MAGIC = 128, b"DICM"


def is_dicom(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(132)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return head[DICOM_MAGIC_AT:] == DICOM_MAGIC or path.suffix.lower() in (".dcm", ".dicom")


def rendered_gray(path: Path) -> np.ndarray:
    """A DICOM's display frame (PS3.14 pipeline, ``rig.imaging.render``) as 8-bit grey."""
    from rig.imaging.render import render_path

    pixels = render_path(path).pixels
    return pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)


def load_input(path: Path, frame: Path | None) -> tuple[np.ndarray, str]:
    """(8-bit grey image, its view) of one input file."""
    if not path.is_file():  # a file named on the command line: a usage error (2)
        raise UsageError(f"{path}: no such file")
    if is_dicom(path):
        return rendered_gray(path), "dicom"
    return read_photo_input(path, frame)[0], "photo"


@dataclass
class Diagnoser:
    """A classification run (and optionally a restoration run), loaded on first use."""

    run_dir: Path
    restore_run: Path | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    _model: Any = None
    _meta: dict[str, Any] = field(default_factory=dict)
    _restorer: Restorer | None = None

    def _load(self) -> None:
        self._model, self._meta = load_run_model(self.run_dir, self.device, task="classify")
        if self.restore_run is not None:
            self._restorer = Restorer(self.restore_run, self.device)

    @property
    def labels(self) -> list[str]:
        if self._model is None:
            self._load()
        return list(self._meta["model_config"]["labels"])

    def probabilities(self, image: np.ndarray) -> dict[str, float]:
        if self._model is None:
            self._load()
        size = int(self._meta["model_config"]["input_size"])
        probs = predict(self._model, [to_input(image, size)], self.device)[0]
        return {name: round(float(p), 6) for name, p in zip(self.labels, probs, strict=True)}

    def score_file(self, path: Path, frame: Path | None = None) -> dict[str, Any]:
        image, view = load_input(path, frame)
        out: dict[str, Any] = {"file": str(path), "view": view, "registered": frame is not None
                               and view == "photo"}
        if view == "photo" and self.restore_run is not None:
            out["photo_probabilities"] = self.probabilities(image)
            assert self._restorer is not None  # loaded with the classifier
            image = self._restorer.restore(image)
            out["view"] = "restored"
        out["probabilities"] = self.probabilities(image)
        return out
