"""The three views of a dataset item a classifier is trained and evaluated on.

- ``dicom``: the displayed ground-truth frame (``ground_truth/``, the DICOM as a viewer
  shows it, 8-bit);
- ``photo``: the registered, aligned photo of the screen (``aligned/``), as the phone saw
  it, nothing corrected;
- ``restored``: that photo through a restoration run (``rig train restore``), exactly as
  ``rig restore`` would write it.

All three have the same pixel grid, so a case is the same case in every view: the
paired comparisons (DeLong, bootstrap) are over identical cases. A classifier sees each
image resized as a whole to S×S (INTER_AREA; CheXpert's models squash the same way).
Restored images are cached content-addressed inside the restoration run
(``RUN/restored/<weights hash>/<photo hash>.png``): a study restores each photo once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from rig.errors import InputError, UsageError
from rig.ml.data import PairRecord, read_gray, write_png
from rig.ml.infer import TileConfig, restore_array, to_uint8
from rig.store.objects import sha256_file

VIEWS = ("dicom", "photo", "restored")
TRAIN_ON = (*VIEWS, "mixed")


def parse_views(text: str | tuple[str, ...]) -> tuple[str, ...]:
    views = tuple(v.strip() for v in (text.split(",") if isinstance(text, str) else text) if v.strip())
    bad = [v for v in views if v not in VIEWS]
    if bad or not views:
        raise UsageError(f"--views {','.join(views)}: use some of {', '.join(VIEWS)}")
    return views


def check_train_on(view: str) -> str:
    if view not in TRAIN_ON:
        raise UsageError(f"--train-on '{view}': use one of {', '.join(TRAIN_ON)}")
    return view


def views_of(train_on: str, have_restore: bool) -> tuple[str, ...]:
    """The views a run trains on (``mixed``: all it can make)."""
    if train_on == "mixed":
        return VIEWS if have_restore else VIEWS[:2]
    return (train_on,)


def to_input(image: np.ndarray, size: int) -> np.ndarray:
    """(H, W) uint8 (or colour, converted to grey) -> (size, size) uint8."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return np.asarray(cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA), np.uint8)


@dataclass
class Restorer:
    """A restoration run applied to whole photos, loaded on first use."""

    run_dir: Path
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    tile: TileConfig = field(default_factory=TileConfig)
    _model: Any = None
    _meta: dict[str, Any] = field(default_factory=dict)
    _cache: Path | None = None

    def _load(self) -> None:
        from rig.ml.checkpoint import best_or_last, load_run_model

        self._model, self._meta = load_run_model(self.run_dir, self.device, task="restore")
        self._cache = self.run_dir / "restored" / sha256_file(best_or_last(self.run_dir))[:16]

    def restore(self, photo: np.ndarray) -> np.ndarray:
        from rig.ml.checkpoint import run_input_norm

        if self._model is None:
            self._load()
        return to_uint8(restore_array(self._model, photo, self.device, self.tile,
                                      run_input_norm(self._meta)))

    def restore_file(self, path: Path) -> np.ndarray:
        """The restored photo at ``path`` (cached by content)."""
        if self._model is None:
            self._load()
        assert self._cache is not None
        cached = self._cache / f"{sha256_file(path)[:24]}.png"
        if cached.is_file():
            return read_gray(cached)
        restored = self.restore(read_gray(path))
        write_png(cached, restored)
        return restored


@dataclass
class ViewImages:
    """Images of records in each view at the classifier's input side, kept in memory."""

    size: int
    restorer: Restorer | None = None
    _memory: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)

    def full(self, rec: PairRecord, view: str) -> np.ndarray:
        """The view at full resolution, (H, W) uint8."""
        if view == "dicom":
            return read_gray(rec.ground_truth)
        if not rec.aligned.is_file():
            raise InputError(f"pair {rec.pair_id}: no registered photo (aligned) for the {view} view")
        if view == "photo":
            return read_gray(rec.aligned)
        if self.restorer is None:
            raise UsageError("the restored view needs a restoration run: pass --restore RUN")
        return self.restorer.restore_file(rec.aligned)

    def get(self, rec: PairRecord, view: str) -> np.ndarray:
        key = (rec.pair_id, view)
        if key not in self._memory:
            self._memory[key] = to_input(self.full(rec, view), self.size)
        return self._memory[key]
