"""The fixed simulated benchmark: phantom radiographs photographed by the virtual camera.

Each pair k (seed s) draws a case (``rig.ml.samplesource``: a generated radiograph and
its findings, one patient per pair) and a camera setting from the preset's sweep
ranges with ``default_rng([s, k])``, shows the phantom 1:1 on a 1920x1080 screen
(``rig.imaging.compositor``), photographs it (``rig.camsim.SimCamera``), warps the photo
back into screen pixels with the true geometry and crops the image area. The folder has
the layout of ``rig export --format folders``, so training code cannot tell it apart.
"""

from __future__ import annotations

import csv
import io
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from rig.atomic import write_bytes_atomic, write_text_atomic
from rig.ml.data import write_png

SCREEN_WH = (1920, 1080)
BORDER_PX = 64  # room for the fiducial border a real capture shows
BENCH_PRESET = "paper-lcd-iphone"


@dataclass(frozen=True)
class BenchSpec:
    pairs: int = 60
    seed: int = 2017
    preset: str = BENCH_PRESET
    rows: int = 720
    columns: int = 600
    valid_fraction: float = 0.1
    test_fraction: float = 0.2
    write_photos: bool = False  # raw 12 MP JPEGs: ~3 MB each, not needed for training


QUICK_PX = (240, 200)  # rows, columns of the --quick benchmarks' small pairs


def bench_spec(pairs: int, quick: bool) -> BenchSpec:
    """The benchmark data: full-size pairs, or small ones for ``--quick``."""
    if quick:
        return BenchSpec(pairs=pairs, rows=QUICK_PX[0], columns=QUICK_PX[1])
    return BenchSpec(pairs=pairs)


def split_of(k: int, spec: BenchSpec) -> str:
    n_test = max(1, round(spec.pairs * spec.test_fraction))
    n_valid = max(1, round(spec.pairs * spec.valid_fraction))
    if k >= spec.pairs - n_test:
        return "test"
    return "valid" if k >= spec.pairs - n_test - n_valid else "train"


def make_pair(k: int, spec: BenchSpec, out_dir: Path) -> dict[str, Any]:
    """Simulate pair k and write its files; returns its manifest row."""
    from rig.camsim import SimCamera, load_preset, warp_photo_to_screen
    from rig.imaging.compositor import compose
    from rig.ml.samplesource import draw_case

    rng = np.random.default_rng([spec.seed, k])
    truth, findings = draw_case(rng, spec.rows, spec.columns)
    canvas, place = compose(truth, SCREEN_WH, "1:1", border_px=BORDER_PX)
    params = load_preset(spec.preset)
    params = params.sample(rng) if params.ranges else params
    photo = SimCamera(params, seed=spec.seed * 10_000 + k).capture(canvas)
    aligned_bgr, valid = warp_photo_to_screen(photo.image, photo.truth, SCREEN_WH)
    box = (slice(place.offset_y, place.offset_y + place.height),
           slice(place.offset_x, place.offset_x + place.width))
    # Display domain, grayscale: the luma a viewer sees (ITU-R BT.601, as cv2 converts).
    aligned = cv2.cvtColor(aligned_bgr, cv2.COLOR_BGR2GRAY)[box]
    mask = np.where(valid[box], 255, 0).astype(np.uint8)
    pair_id = f"bench{k:04d}"
    files = {"ground_truth": f"ground_truth/{pair_id}.png", "aligned": f"aligned/{pair_id}.png",
             "mask": f"masks/{pair_id}.png", "photo": f"photos/{pair_id}.jpg" if spec.write_photos else ""}
    write_png(out_dir / files["ground_truth"], truth)
    write_png(out_dir / files["aligned"], aligned)
    write_png(out_dir / files["mask"], mask)
    if spec.write_photos:
        write_bytes_atomic(out_dir / files["photo"], photo.jpeg)
    distance = params.pose.distance_mm
    return {"pair_id": pair_id, "split": split_of(k, spec), "patient": f"sim{k:04d}",
            "study": "1", **files, "preset": spec.preset,
            **{name: findings[name] for name in sorted(findings)},
            "cond_distance": "near" if distance < 450 else ("far" if distance >= 510 else "mid"),
            "cond_motion_blur": "low" if params.lens.motion_px < 1.25 else "high"}


def build_bench_folder(out_dir: Path, spec: BenchSpec = BenchSpec(), workers: int = 1) -> Path:
    """Write the benchmark folder (skipped when a manifest for the same spec exists)."""
    stamp = out_dir / "bench_spec.txt"
    if (out_dir / "manifest.csv").is_file() and stamp.is_file() and stamp.read_text() == repr(spec):
        return out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            rows = list(pool.map(make_pair, range(spec.pairs), [spec] * spec.pairs,
                                 [out_dir] * spec.pairs))
    else:
        rows = [make_pair(k, spec, out_dir) for k in range(spec.pairs)]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(out_dir / "manifest.csv", text.getvalue())
    write_text_atomic(stamp, repr(spec))
    return out_dir
