"""Benchmark: the sample generator's speed, and its statistics against real radiographs.

Speed: seconds to render one image at the demo size (720×600) and at CR size
(2500×2048), medians over the run, each beside a baseline timed in the same run on
the same pixels — encoding and writing the DICOM file of that size (what
``write_samples`` does with a rendered image anyway).

Statistics (``rig.library.radiostats``, analysed at ``ANALYSIS_PX``): the real
radiographs installed from pydicom-data, and the generated images at both sizes
(mean, min and max over the run), with whether each generated image lies inside the
documented bands (``BANDS``) of the real ones.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from rig.library import radiostats
from rig.library.samples import (
    CR_SIZE,
    DEFAULT_DIFFICULTY,
    SampleSpec,
    draw_case,
    render_case,
    sample_dataset,
    stored_pixels,
)

SIZES = {"demo": (720, 600), "cr": CR_SIZE}


def _time_size(name: str, n: int, seed: int, difficulty: float) -> dict[str, Any]:
    rows, cols = SIZES[name]
    spec = SampleSpec(rows, cols, bits_stored=12 if name == "demo" else 14, difficulty=difficulty)
    rng = np.random.default_rng(seed)
    render_s, write_s, stats = [], [], []
    with tempfile.TemporaryDirectory(prefix="rig-bench-samples-") as tmp:
        for i in range(n):
            case = draw_case(rng, difficulty)
            start = time.perf_counter()
            display = render_case(case, spec)
            render_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            pixels = stored_pixels(display, spec.bits_stored, monochrome1=False)
            sample_dataset(pixels, i + 1, 1, spec, False, f"bench-{seed}-{i}").save_as(
                Path(tmp) / f"{i}.dcm", enforce_file_format=True)
            write_s.append(time.perf_counter() - start)
            stats.append(radiostats.image_statistics(display))
    render, write = statistics.median(render_s), statistics.median(write_s)
    return {
        "rows": rows, "columns": cols, "images": n,
        "render_s": round(render, 4), "write_dicom_s": round(write, 4),
        "render_vs_write": round(render / write, 2) if write > 0 else None,
        "images_per_s": round(1.0 / render, 2) if render > 0 else None,
        "stats": _summarise(stats),
        "inside_bands": _inside(stats),
    }


def _summarise(stats: list[radiostats.ImageStats]) -> dict[str, dict[str, float]]:
    rows = [s.to_dict() for s in stats]
    return {key: {"mean": round(float(np.mean([r[key] for r in rows])), 4),
                  "min": round(min(r[key] for r in rows), 4),
                  "max": round(max(r[key] for r in rows), 4)} for key in rows[0]}


def _inside(stats: list[radiostats.ImageStats]) -> dict[str, float]:
    """Per banded statistic, the fraction of images inside the band."""
    return {key: round(float(np.mean([radiostats.inside_band(s, key) for s in stats])), 3)
            for key in radiostats.BANDS}


def run_samples_bench(n: int = 6, seed: int = 0,
                      difficulty: float = DEFAULT_DIFFICULTY) -> dict[str, Any]:
    """Time and characterise ``n`` demo-size and ``max(1, n // 3)`` CR-size images."""
    real = {name: radiostats.image_statistics(image).to_dict()
            for name, image in radiostats.real_references().items()}
    return {
        "analysis_px": radiostats.ANALYSIS_PX,
        "bands": {k: list(v) for k, v in radiostats.BANDS.items()},
        "real": real,
        "real_source": radiostats.REAL_FILES if real else "pydicom-data not installed",
        "generated": {"demo": _time_size("demo", n, seed, difficulty),
                      "cr": _time_size("cr", max(1, n // 3), seed, difficulty)},
        "difficulty": difficulty,
        "seed": seed,
    }
