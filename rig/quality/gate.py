"""The live full-reference quality gate: a verified photo graded below ``min_grade`` on a
figure a retake can change (glare, sharpness, marker residual, coverage:
``grading.RETAKE_FIGURES``) is retaken like a rejected one, with the reason in words (no
I/O: bytes in, verdict out). SSIM/PSNR are graded and stored but never retaken for: a
second shot by the same camera scores the same, so retaking would only burn attempts.

The session runner calls ``apply_gate`` (through ``rig.session.verify.verify_and_gate``)
in its registration worker, right after the
registration accepted the photo: the figures are those of ``rig quality grade``
(``grade_pair_images``: tone-normalised SSIM/PSNR, glare, sharpness, marker residual,
coverage). A refused photo keeps its aligned image and mask in the store (its
registration row), so the retaken photos are there for training the no-reference model
— they are exactly the bad examples it needs. ``min_grade`` comes from the plan when it
sets one, else from ``rig.toml [quality]``; ``min_grade = 1`` turns the gate off.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from calibration.photometric import ToneCurve
from rig.config import QualityConfig
from rig.quality.figures import PairFigures
from rig.quality.grading import GATE_REASON_PREFIX, Grade, Reference, grade_figures
from rig.quality.learned_gate import LEARNED_FIGURE, QualityScorer, learned_reason
from rig.quality.project_grades import grade_pair_images

if TYPE_CHECKING:  # rig.session calls this module, never the other way round
    from rig.session.verify import RegistrationOutcome

REASON_PREFIX = GATE_REASON_PREFIX


class SharpnessReference:
    """What "sharp" means in this session: the best sharpness of its recent photos.

    A camera that resolves less than the screen (an 800x600 sensor, a far tripod) keeps
    less fine detail in every photo; a retake cannot change that, so the gate judges a
    photo's sharpness against the session's best recent shots ("0.41 of the best shots"),
    which still catches the shaken or refocusing shot among sharp ones. Thread-safe: the
    registration worker pool grades photos concurrently.
    """

    def __init__(self, keep: int = 20) -> None:
        self._recent: deque[float] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def relative(self, sharpness: float) -> float:
        """``sharpness`` over the best recent one (this photo included), at most 1."""
        with self._lock:
            self._recent.append(sharpness)
            best = max(self._recent)
        return 1.0 if best <= 0 else min(1.0, sharpness / best)


@dataclass(frozen=True)
class QualityGate:
    """The gate's settings for one session. ``learned``: the no-reference model that also
    acts as the gate (cameras the frame code cannot verify: ``rig.quality.learned_gate``)."""

    config: QualityConfig
    min_grade: int
    tone_curve: ToneCurve | None = None
    sharpness: SharpnessReference = field(default_factory=SharpnessReference, compare=False)
    learned: QualityScorer | None = field(default=None, compare=False)


@dataclass(frozen=True)
class GateDecision:
    """What the gate decided for one photo, stored when it decides (``session show``
    counts these, so it always agrees with the gate)."""

    retake: bool
    figures: tuple[str, ...] = ()  # retakable figures below min_grade, or ("p_bad",)
    reason: str | None = None
    gate: str = "grade"  # "grade" (full reference) | "learned" (no-reference model)


PASSED = GateDecision(False)


@dataclass(frozen=True)
class GateVerdict:
    outcome: RegistrationOutcome  # refused when the gate says retake
    figures: PairFigures
    grade: Grade  # the stored label: figures against the ground truth
    decision: GateDecision = PASSED


def gate_reason(grade: Grade, min_grade: int) -> str:
    """'quality grade 2 < 3: glare covers 12 % of the image; blurred: ...' (the retakable
    figures below ``min_grade``, worst first, in the words of ``grade``'s reference)."""
    reasons = [grade.figure_reasons[n] for n in grade.retake_failing(min_grade)]
    return f"{REASON_PREFIX} {grade.retake_grade()} < {min_grade}: " + "; ".join(reasons)


def judge_learned(scorer: QualityScorer, image: np.ndarray) -> GateDecision:
    """The learned gate's decision on one photo (aligned, or raw when not registered)."""
    reason = learned_reason(scorer.score(image), scorer.threshold)
    return PASSED if reason is None else GateDecision(True, (LEARNED_FIGURE,), reason, "learned")


def apply_gate(outcome: RegistrationOutcome, truth: np.ndarray, gate: QualityGate
               ) -> GateVerdict | None:
    """Grade an accepted registration; None when there is nothing to grade."""
    from rig.library.frames import decode_png

    if not outcome.accepted or outcome.aligned_png is None or outcome.mask_png is None:
        return None
    aligned = decode_png(outcome.aligned_png)
    mask = decode_png(outcome.mask_png) > 127
    if mask.ndim == 3:
        mask = mask[..., 0]
    figures, grade = grade_pair_images(aligned, truth, mask, outcome.reproj_err_px, gate.config,
                                       gate.tone_curve)
    # The stored grade (a label) keeps the absolute figures; the gate judges sharpness
    # against the session's best shots, and only what a retake can change.
    judged = grade_figures(replace(figures, sharpness=gate.sharpness.relative(figures.sharpness)),
                           gate.config, Reference.BEST_SHOTS)
    failing = judged.retake_failing(gate.min_grade)
    if failing:
        decision = GateDecision(True, tuple(failing), gate_reason(judged, gate.min_grade))
    elif gate.learned is not None:  # what the full reference passed, the model may flag
        decision = judge_learned(gate.learned, aligned)
    else:
        return GateVerdict(outcome, figures, grade)
    if not decision.retake:
        return GateVerdict(outcome, figures, grade, decision)
    # Refused, but the aligned photo and mask stay: a retaken photo is a labelled bad example.
    return GateVerdict(replace(outcome, accepted=False, reason=decision.reason), figures, grade,
                       decision)


def session_gate(config: QualityConfig, plan_min_grade: int | None,
                 tone_curve: ToneCurve | None, sweeping: bool = False,
                 learned: QualityScorer | None = None) -> QualityGate | None:
    """The session's gate: the plan's ``min_grade`` over rig.toml's; None when it is 1.

    A plan that sweeps capture conditions (room lights, bias light …) photographs them on
    purpose, glare included: rig.toml's default does not gate it (retakes could never clear
    a lit room's glare and would only fail the items); a ``min_grade`` the plan or command
    line sets still applies. ``learned`` (``--quality-gate`` on a camera the frame code
    cannot verify) gates on its own even when the full-reference gate is off.
    """
    min_grade = config.min_grade if plan_min_grade is None else plan_min_grade
    if (plan_min_grade is None and sweeping) or min_grade <= 1:
        if learned is None:
            return None
        min_grade = 1  # nothing grades below 1: only the learned gate refuses
    return QualityGate(replace(config, min_grade=min_grade), min_grade, tone_curve,
                       learned=learned)
