"""Benchmark: rig's DICOM load+render against DCMTK's dcm2pnm, same file, same run.

A synthetic 2048x2048 image (16 bits allocated, 12 stored: a smooth gradient
plus noise, so it does not compress trivially) is written uncompressed and as
JPEG 2000 lossless. rig is timed from path to uint8 frame (parse, decode,
modality, window). dcm2pnm is timed as a subprocess writing raw PGM (``+op``,
the cheapest output) with the same window. dcm2pnm cannot decode JPEG 2000, so
that row compares with dcm2pnm on the uncompressed twin (said in ``note``).
Medians of ``runs`` runs after one warm-up. The lead adds import throughput
under the key ``"import"``.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    generate_uid,
)

from rig.imaging.render import RenderOptions, render_path


def synthetic_image(size: int, seed: int = 0) -> np.ndarray:
    """(size, size) uint16 with 12 significant bits: gradient + noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    base = 2048 + 1500 * np.sin(xx / 97.0) * np.cos(yy / 131.0)
    return np.clip(base + rng.normal(0, 40, (size, size)), 0, 4095).astype(np.uint16)


def write_synthetic(folder: Path, size: int) -> tuple[Path, Path | None]:
    """Write the uncompressed file and (if an encoder exists) its J2K lossless twin."""
    ds = _dataset(synthetic_image(size))
    plain = folder / "plain.dcm"
    ds.save_as(plain, enforce_file_format=True)
    j2k = folder / "j2k.dcm"
    try:
        ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
        ds.save_as(j2k, enforce_file_format=True)
    except Exception:  # no J2K encoder installed: report the uncompressed row only
        return plain, None
    return plain, j2k


def run_render_bench(runs: int = 5, size: int = 2048) -> dict[str, Any]:
    """Run the benchmark; returns {"image": ..., "render": {case: timings}}."""
    result: dict[str, Any] = {
        "image": {"size": size, "bits_allocated": 16, "bits_stored": 12},
        "runs": runs,
        "render": {},
    }
    with tempfile.TemporaryDirectory(prefix="rig-bench-") as tmp:
        folder = Path(tmp)
        plain, j2k = write_synthetic(folder, size)
        facts = render_path(plain).facts
        window = (float(facts["window_center"]), float(facts["window_width"]))
        options = RenderOptions(window=window)
        dcmtk_ms = _time_dcm2pnm(plain, window, folder / "out.pgm", runs)
        for case, path in (("uncompressed", plain), ("j2k_lossless", j2k)):
            if path is None:
                continue
            rig_ms = _median_ms(lambda p=path: render_path(p, options), runs)
            row: dict[str, Any] = {
                "rig_ms": round(rig_ms, 2),
                "dcm2pnm_ms": None if dcmtk_ms is None else round(dcmtk_ms, 2),
                "file_bytes": path.stat().st_size,
            }
            if dcmtk_ms:
                row["ratio_rig_to_dcm2pnm"] = round(rig_ms / dcmtk_ms, 3)
            if case == "j2k_lossless":
                row["note"] = "dcm2pnm has no JPEG 2000 decoder: timed on the uncompressed twin"
            result["render"][case] = row
    return result


def _time_dcm2pnm(path: Path, window: tuple[float, float], out: Path, runs: int) -> float | None:
    if shutil.which("dcm2pnm") is None:
        return None
    cmd = ["dcm2pnm", "+op", "+Ww", repr(window[0]), repr(window[1]), str(path), str(out)]
    return _median_ms(lambda: subprocess.run(cmd, check=True, capture_output=True), runs)


def _median_ms(func: Any, runs: int) -> float:
    func()  # warm-up: imports, page cache
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        samples.append((time.perf_counter() - start) * 1000.0)
    return float(statistics.median(samples))


def _dataset(pixels: np.ndarray) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "CT"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 0
    ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    ds.WindowCenter, ds.WindowWidth = 1024, 3000
    ds.PixelData = pixels.tobytes()
    return ds
