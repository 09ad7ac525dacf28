"""Benchmark: the sample generator's speed, and its statistics against real radiographs.

Speed: seconds to render one image at the demo size (720×600) and at CR size
(2500×2048), medians over the run (wall clock, and CPU seconds of this process summed
over its threads, which a machine shared with other jobs distorts less), each beside a
baseline timed in the same run on the same pixels — encoding and writing the DICOM
file of that size (what ``write_samples`` does with a rendered image anyway).

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

import cv2
import numpy as np

from rig.atomic import write_bytes_atomic
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
    render_s, render_cpu_s, write_s, stats = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="rig-bench-samples-") as tmp:
        for i in range(n):
            case = draw_case(rng, difficulty)
            start, cpu = time.perf_counter(), time.process_time()
            display = render_case(case, spec)
            render_s.append(time.perf_counter() - start)
            render_cpu_s.append(time.process_time() - cpu)
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
        "render_cpu_s": round(statistics.median(render_cpu_s), 4),
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


def comparison_figure(seed: int = 0, height: int = 300) -> np.ndarray:
    """(H, W) uint8: real radiographs, then generated ones (top: whole images at
    ``height`` px; bottom: 1:1 crops of the CR-size right lung and of RG1's)."""
    real = radiostats.real_references()
    rng = np.random.default_rng(seed)
    generated = [render_case(draw_case(rng), SampleSpec()) for _ in range(3)]
    big = render_case(draw_case(rng), SampleSpec.real_size())
    tiles = [*real.values(), *generated, big]
    top = [cv2.resize(t, (round(t.shape[1] * height / t.shape[0]), height), interpolation=cv2.INTER_AREA)
           for t in tiles]
    crops = [big[900:900 + height, 1250:1250 + 2 * height]]
    if "RG1_UNCR" in real:
        crops.insert(0, real["RG1_UNCR"][850:850 + height, 1150:1150 + 2 * height])
    rows = [np.hstack(top), np.hstack(crops)]
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1])), constant_values=1.0) for r in rows]
    return np.asarray(np.rint(np.vstack(rows) * 255), np.uint8)


def write_comparison_figure(path: Path, seed: int = 0) -> Path:
    ok, png = cv2.imencode(".png", comparison_figure(seed), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise RuntimeError("PNG encoding failed")
    write_bytes_atomic(path, png.tobytes())
    return path
