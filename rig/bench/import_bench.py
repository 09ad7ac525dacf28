"""Benchmark: ``rig import`` throughput on many small DICOM files.

The baseline, timed in the same run on the same files, is the least any importer
must do: read each file with pydicom and decode its pixels. The ratio shows what
de-identification, hashing, validation and the durable store cost on top.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pydicom

from rig.library.importer import import_paths
from rig.library.samples import SampleSpec, sample_dataset
from rig.project import init_project


def write_small_dicoms(folder: Path, n: int, size: int = 64, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    spec = SampleSpec(rows=size, columns=size)
    paths = []
    for i in range(n):
        pixels = rng.integers(0, 4096, (size, size), dtype=np.uint16)
        path = folder / f"f{i:05d}.dcm"
        sample_dataset(pixels, i // 2 + 1, i % 2 + 1, spec, monochrome1=False).save_as(
            path, enforce_file_format=True
        )
        paths.append(path)
    return paths


def run_import_bench(n_files: int = 1000) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rig-bench-import-") as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        paths = write_small_dicoms(folder, n_files)
        start = time.perf_counter()
        for path in paths:
            pydicom.dcmread(path).pixel_array  # noqa: B018 (the work being timed)
        baseline_s = time.perf_counter() - start
        project = init_project(Path(tmp) / "project")
        start = time.perf_counter()
        report = import_paths(project, [folder])
        import_s = time.perf_counter() - start
    return {
        "files": n_files,
        "imported": len(report.imported),
        "import_files_per_s": round(n_files / import_s, 1),
        "read_decode_files_per_s": round(n_files / baseline_s, 1),
        "ratio_import_to_read": round(import_s / baseline_s, 2),
    }
