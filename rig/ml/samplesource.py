"""The one place ``rig.ml`` uses the generated sample radiographs (``rig.library.samples``).

Benchmarks, the study's CI run and the demo's numbers all come from these cases: a
ground-truth image and its findings (labels). Everything the learning code needs from
the generator goes through here, so a new generator is one edit away.
"""

from __future__ import annotations

import numpy as np

from rig.library.samples import FINDINGS, SampleSpec, draw_findings, phantom

# The findings a classifier is asked about ("No Finding" is their complement).
LABELS: tuple[str, ...] = tuple(f for f in FINDINGS if f != "No Finding")


def draw_case(rng: np.random.Generator, rows: int, columns: int) -> tuple[np.ndarray, dict[str, int]]:
    """One case: (rows, columns) uint8 display image and its findings (name -> 0/1)."""
    findings = draw_findings(rng)
    image = phantom(rng, SampleSpec(rows, columns), findings)
    return np.asarray(np.rint(image * 255), np.uint8), findings
