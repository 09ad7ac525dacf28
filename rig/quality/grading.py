"""Ordinal grades from full-reference figures, with the reasons in words.

Every graded figure has three cut-offs in ``rig.toml [quality]`` (``<figure>_good``,
``_acceptable``, ``_poor``): reaching the good cut-off earns grade 4, the acceptable
one 3, the poor one 2, none of them 1. A pair's grade is its worst figure's grade
(a sharp photo half covered by glare is not usable), and every figure below 4 adds
a reason, worst first, so an operator reads why a photo is retaken.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from rig.config import QualityConfig
from rig.quality.figures import PairFigures

GRADES = (1, 2, 3, 4)
GATE_REASON_PREFIX = "quality grade"  # how the live gate's refusals begin (rig.quality.gate)
GRADE_NAMES = {4: "good", 3: "acceptable", 2: "poor", 1: "unusable"}


class Reference(Enum):
    """What a relative figure is measured against, in the words the sentence uses.

    A stored grade (the model's label) measures sharpness against the ground truth; the
    live gate measures it against the session's best recent shots
    (``rig.quality.gate.SharpnessReference``), so its reasons must say so."""

    TRUTH = "the ground truth's"
    BEST_SHOTS = "the best shots"


@dataclass(frozen=True)
class FigureRule:
    """How one figure is graded: its config keys, its direction and its sentence."""

    name: str  # the PairFigures field
    key: str  # config stem: <key>_good[<unit>], <key>_acceptable[<unit>], <key>_poor[<unit>]
    unit: str  # suffix of the config keys ("" or "_db", "_px")
    higher_is_better: bool
    words: Callable[[float, Reference], str]  # the sentence, against that reference

    def explain(self, value: float, reference: Reference = Reference.TRUTH) -> str:
        """The reason in words: 'blurred: sharpness 0.41 of the best shots'."""
        return self.words(value, reference)


def _pct(value: float) -> str:
    return f"{100 * value:.0f} %" if value >= 0.01 else f"{100 * value:.1f} %"


RULES: tuple[FigureRule, ...] = (
    FigureRule("glare_fraction", "glare", "", False,
               lambda v, _: f"glare covers {_pct(v)} of the image"),
    FigureRule("sharpness", "sharpness", "", True,
               lambda v, ref: f"blurred: sharpness {v:.2f} of {ref.value}"),
    # SSIM and PSNR exist only against the ground truth (the gate never judges them).
    FigureRule("ssim", "ssim", "", True,
               lambda v, _: f"structure lost: SSIM {v:.2f} against the ground truth"),
    FigureRule("psnr_db", "psnr", "_db", True,
               lambda v, _: f"noisy or washed out: PSNR {v:.1f} dB against the ground truth"),
    FigureRule("marker_residual_px", "residual", "_px", False,
               lambda v, _: f"unsteady registration: marker residual {v:.1f} px"),
    FigureRule("coverage", "coverage", "", True,
               lambda v, _: f"only {_pct(v)} of the image is inside the photo"),
)


# The figures a retake can change: where the light falls, focus and shake, framing. SSIM and
# PSNR against the ground truth mostly measure the camera and screen themselves — a second
# shot of a 23 dB phone is again 23 dB — so the live gate never retakes for them (they stay
# in the stored grade, the model's label).
RETAKE_FIGURES = ("glare_fraction", "sharpness", "marker_residual_px", "coverage")


@dataclass(frozen=True)
class Grade:
    """A pair's grade (1..4), the grade of each figure, and the reasons, worst first."""

    grade: int
    figure_grades: dict[str, int]
    reasons: tuple[str, ...]
    figure_reasons: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return GRADE_NAMES[self.grade]

    def passes(self, min_grade: int) -> bool:
        return self.grade >= min_grade

    def failing(self, min_grade: int) -> list[str]:
        """Figures graded below ``min_grade``."""
        return [name for name, grade in self.figure_grades.items() if grade < min_grade]

    def retake_failing(self, min_grade: int) -> list[str]:
        """The retakable figures (``RETAKE_FIGURES``) below ``min_grade``, worst first: what
        the live gate retakes for, counted per figure in ``session show``."""
        failing = [n for n in RETAKE_FIGURES if self.figure_grades.get(n, 4) < min_grade]
        return sorted(failing, key=lambda n: self.figure_grades[n])

    def retake_grade(self) -> int:
        """The grade over the retakable figures alone."""
        return min((self.figure_grades.get(n, 4) for n in RETAKE_FIGURES), default=4)


def cutoffs(config: QualityConfig, rule: FigureRule) -> tuple[float, float, float]:
    """(good, acceptable, poor) cut-offs of ``rule`` in ``config``."""
    return (
        float(getattr(config, f"{rule.key}_good{rule.unit}")),
        float(getattr(config, f"{rule.key}_acceptable{rule.unit}")),
        float(getattr(config, f"{rule.key}_poor{rule.unit}")),
    )


def grade_value(value: float, cuts: tuple[float, float, float], higher_is_better: bool) -> int:
    """4, 3, 2 for the first cut-off ``value`` reaches (good, acceptable, poor), else 1."""
    for grade, cut in zip((4, 3, 2), cuts, strict=True):
        if (value >= cut) if higher_is_better else (value <= cut):
            return grade
    return 1


def grade_figures(figures: PairFigures, config: QualityConfig,
                  reference: Reference = Reference.TRUTH) -> Grade:
    """The grade of a pair: its worst figure's; a missing figure (None) is not graded.
    ``reference``: what the relative figures (sharpness) were measured against."""
    graded: list[tuple[int, int, str, str]] = []  # (grade, rule order, name, reason)
    for order, rule in enumerate(RULES):
        value = getattr(figures, rule.name)
        if value is None:
            continue
        grade = grade_value(float(value), cutoffs(config, rule), rule.higher_is_better)
        graded.append((grade, order, rule.name, rule.explain(float(value), reference)))
    per_figure = {name: grade for grade, _, name, _ in graded}
    worst = min((g for g, *_ in graded), default=4)
    reasons = tuple(reason for grade, _, _, reason in sorted(graded) if grade < 4)
    return Grade(worst, per_figure, reasons, {name: reason for _, _, name, reason in graded})
