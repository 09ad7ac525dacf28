"""The learned no-reference gate: P(bad) from a ``rig train quality`` run, flagged above the
run's Youden threshold (chosen on its validation patients, ``quality_run.json``).

It is the gate for photos rig cannot judge against their ground truth live: a plain USB
snapshot camera, and CheXpeditor photos paired only later by ``rig import-photos``.
Live, a flagged photo is retaken like a rejected one (the full-reference gate runs first
and speaks for what it sees); at import, where no retake is possible, it is refused with
its reason and counted, so the item waits for a better photo and nothing flagged is
exported. Every other camera's photos are scored in the background and only shown
(``rig.session.scoring``): there the full-reference gate is better informed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

QUALITY = "quality"  # the capture_scores kind of this model
LEARNED_FIGURE = "p_bad"  # what a learned refusal is counted under in ``session show``
LEARNED_REASON_PREFIX = "learned quality gate"
# Camera URL schemes whose photos the frame code cannot verify live (docs/quality.md).
LEARNED_GATE_SCHEMES = ("usb", "chexpeditor")


def learned_gate_acts(camera: str) -> bool:
    """True when ``camera`` (a plan's camera URL) is one the learned gate guards."""
    return camera.strip().partition(":")[0] in LEARNED_GATE_SCHEMES


@dataclass
class QualityScorer:
    """P(bad), the predicted grade and the flag from a ``rig train quality`` run.

    The model loads lazily, on first use, under a lock: the session's registration
    workers may score concurrently."""

    run_path: Path
    kind: str = QUALITY
    _model: Any = None
    _point: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def run(self) -> str:
        return str(self.run_path)

    @property
    def threshold(self) -> float:
        with self._lock:
            self._load()
            return float(self._point.threshold)

    def _load(self) -> None:
        from rig.quality.training import QualityRun, load_quality_run_model

        if self._model is None:
            self._point = QualityRun.load(self.run_path).point()
            self._model = load_quality_run_model(self.run_path)

    def score(self, gray: np.ndarray) -> dict[str, float]:
        """``{p_bad, grade, flagged_bad}`` of one (H, W) uint8 grey photo."""
        from rig.ml.models.quality import predict
        from rig.quality.patches import to_tiles

        with self._lock:
            self._load()
            tiles, _ = to_tiles(_gray(gray), self._model.cfg.patch)
            pred = predict(self._model, tiles, self._point.k)
            threshold = float(self._point.threshold)
        p_bad = float(pred.p_bad or 0.0)
        return {"p_bad": round(p_bad, 5), "grade": float(pred.grade),
                "flagged_bad": float(p_bad >= threshold)}


def learned_reason(scores: dict[str, float], threshold: float) -> str | None:
    """'learned quality gate: P(bad) 0.81 >= 0.42' when the scores flag the photo."""
    if not scores.get("flagged_bad"):
        return None
    return f"{LEARNED_REASON_PREFIX}: P(bad) {scores['p_bad']:.2f} >= {threshold:.2f}"


def _gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    import cv2

    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)  # decode_png gives RGB
