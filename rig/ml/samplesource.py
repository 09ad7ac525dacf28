"""The one place ``rig.ml`` uses the generated sample radiographs (``rig.library.samples``).

Benchmarks, the study's CI run and the demo's numbers all come from these cases: a
ground-truth image and its CheXpert-style labels (1, 0, or −1 for a finding drawn in the
borderline band around its threshold), with severities graded by the generator's
``difficulty`` (docs/samples.md). Everything the learning code needs from the generator
goes through here, so a new generator is one edit away.
"""

from __future__ import annotations

import numpy as np

from rig.library.samples import DEFAULT_DIFFICULTY, FINDINGS, SampleSpec, render_case
from rig.library.samples import draw_case as _draw

# The findings a classifier is asked about ("No Finding" is their complement).
LABELS: tuple[str, ...] = tuple(f for f in FINDINGS if f != "No Finding")


def draw_case(rng: np.random.Generator, rows: int, columns: int,
              difficulty: float = DEFAULT_DIFFICULTY) -> tuple[np.ndarray, dict[str, int]]:
    """One case: (rows, columns) uint8 display image and its labels (name -> 1, 0 or −1)."""
    case = _draw(rng, difficulty)
    image = render_case(case, SampleSpec(rows, columns, difficulty=difficulty))
    return np.asarray(np.rint(np.clip(image, 0.0, 1.0) * 255), np.uint8), dict(case.labels)
