"""Benchmark: the burned-in text check, per image and per import.

Per image kind (an 800x600 ultrasound with eight identifiers, a 2048x2500 CR with
five, one of the demo's 600x720 radiographs without text) it times rig's
``find_text`` against a baseline timed in the same run on the same image: one
full-page tesseract pass (sparse text, the grey image inverted), the least any
OCR check does. It also reports how much of the burned-in text the masks cover
(recall, by pixels) and how much of a text-free image they cover (false masks).
Then the import: seconds per demo sample with ``--burned-in mask`` against
``keep`` (no OCR), in the same run.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from rig.imaging.render import RenderOptions, render_path
from rig.library import textsamples as T
from rig.library.burnedin import box_mask, find_text
from rig.library.importer import import_paths
from rig.library.ocr import OcrEngine, open_engine
from rig.library.samples import write_samples
from rig.library.textcheck import BurnedInMode
from rig.project import init_project


def _median_s(work: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds (CPU time is what a busy machine does not inflate)."""
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        work()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def _cases(folder: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (image with text, the same image without)."""
    us_clean = T.us_rgb(burns=())
    cr = T.cr_monochrome1(2500, 2048)
    cr_burns = (*T.CR_BURNS, T.Burn("DOE^JOHN 1962", "left", 36, ((255, 255, 255), None)))
    write_samples(folder, n_images=1, seed=0)
    sample = render_path(next(folder.rglob("*.dcm")), RenderOptions()).pixels
    return {
        "us_800x600": (T.us_rgb(), us_clean),
        "cr_2048x2500": (
            T.displayed_mono(T.burn_mono(cr, cr_burns, True), True),
            T.displayed_mono(cr, True),
        ),
        "demo_sample_600x720": (sample, sample),
    }


def _measure(
    engine: OcrEngine, text: np.ndarray, clean: np.ndarray, repeats: int
) -> dict[str, Any]:
    boxes = find_text(text, engine)
    changed = np.any(text != clean, axis=-1) if text.ndim == 3 else text != clean
    luma = text if text.ndim == 2 else cv2.cvtColor(text, cv2.COLOR_RGB2GRAY)
    rig_s, rig_cpu_s = _median_s(lambda: find_text(text, engine), repeats)
    page_s, page_cpu_s = _median_s(lambda: engine.read(255 - luma, sparse=True), repeats)
    return {
        "rig_s": round(rig_s, 3),
        "rig_cpu_s": round(rig_cpu_s, 3),
        "full_page_tesseract_s": round(page_s, 3),
        "full_page_tesseract_cpu_s": round(page_cpu_s, 3),
        "ratio_rig_to_full_page": round(rig_s / page_s, 2),
        "regions": len(boxes),
        "text_pixels_masked": round(float(box_mask(text.shape, boxes)[changed].mean()), 4)
        if changed.any()
        else None,
        "false_mask_fraction": round(
            float(box_mask(clean.shape, find_text(clean, engine)).mean()), 4
        ),
    }


def _import_s(n_images: int, mode: BurnedInMode, root: Path, samples: Path) -> float:
    project = init_project(root / f"project-{mode}")
    start = time.perf_counter()
    report = import_paths(
        project, [samples], recursive=True, burned_in=mode, accept_burned_in_text=True
    )
    assert len(report.imported) == n_images, report.skipped
    return (time.perf_counter() - start) / n_images


def run_burnedin_bench(repeats: int = 3, n_samples: int = 8) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rig-bench-burnedin-") as tmp:
        root = Path(tmp)
        cases = _cases(root / "one")
        with open_engine() as engine:
            images = {
                name: _measure(engine, text, clean, repeats)
                for name, (text, clean) in cases.items()
            }
            version = engine.name
        write_samples(root / "samples", n_images=n_samples, seed=1)
        mask_s = _import_s(n_samples, BurnedInMode.MASK, root, root / "samples")
        keep_s = _import_s(n_samples, BurnedInMode.KEEP, root, root / "samples")
    return {
        "engine": version,
        "repeats": repeats,
        "images": images,
        "import_demo_samples": {
            "files": n_samples,
            "mask_s_per_image": round(mask_s, 3),
            "keep_s_per_image": round(keep_s, 3),
            "ratio_mask_to_keep": round(mask_s / keep_s, 2),
        },
    }
