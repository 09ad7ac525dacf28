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
# CheXphoto's synthetic photographic chain (rig.synth) for the bench's "chexphoto" test
# set: a degradation rig did not design, applied to the whole screen frame (fiducial
# border and frame code included) and registered back through the fiducials.
CHEXPHOTO_CHAIN = ("glare_matte", "moire", "tilt")
CHEXPHOTO_LEVEL = 2


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
    difficulty: float = 0.5  # the generator's severity grading (rig.library.samples)


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


def photograph(truth: np.ndarray, spec: BenchSpec, k: int, rng: np.random.Generator,
               ) -> tuple[np.ndarray, np.ndarray, Any, bytes]:
    """(aligned grey photo, valid mask, camera params, the photo's JPEG) of ``truth``
    (uint8) shown 1:1 and photographed with ``spec.preset`` (settings drawn from ``rng``)."""
    from rig.camsim import SimCamera, load_preset, warp_photo_to_screen
    from rig.imaging.compositor import compose

    canvas, place = compose(truth, SCREEN_WH, "1:1", border_px=BORDER_PX)
    params = load_preset(spec.preset)
    params = params.sample(rng) if params.ranges else params
    photo = SimCamera(params, seed=spec.seed * 10_000 + k).capture(canvas)
    aligned_bgr, valid = warp_photo_to_screen(photo.image, photo.truth, SCREEN_WH)
    box = (slice(place.offset_y, place.offset_y + place.height),
           slice(place.offset_x, place.offset_x + place.width))
    # Display domain, grayscale: the luma a viewer sees (ITU-R BT.601, as cv2 converts).
    aligned = cv2.cvtColor(aligned_bgr, cv2.COLOR_BGR2GRAY)[box]
    return aligned, np.where(valid[box], 255, 0).astype(np.uint8), params, photo.jpeg


def write_pair(out_dir: Path, pair_id: str, truth: np.ndarray, aligned: np.ndarray,
               mask: np.ndarray) -> dict[str, str]:
    files = {"ground_truth": f"ground_truth/{pair_id}.png", "aligned": f"aligned/{pair_id}.png",
             "mask": f"masks/{pair_id}.png"}
    write_png(out_dir / files["ground_truth"], truth)
    write_png(out_dir / files["aligned"], aligned)
    write_png(out_dir / files["mask"], mask)
    return files


def make_pair(k: int, spec: BenchSpec, out_dir: Path) -> dict[str, Any]:
    """Simulate pair k and write its files; returns its manifest row."""
    from rig.ml.samplesource import draw_case

    rng = np.random.default_rng([spec.seed, k])
    truth, findings = draw_case(rng, spec.rows, spec.columns, spec.difficulty)
    aligned, mask, params, jpeg = photograph(truth, spec, k, rng)
    pair_id = f"bench{k:04d}"
    files = {**write_pair(out_dir, pair_id, truth, aligned, mask),
             "photo": f"photos/{pair_id}.jpg" if spec.write_photos else ""}
    if spec.write_photos:
        write_bytes_atomic(out_dir / files["photo"], jpeg)
    distance = params.pose.distance_mm
    return {"pair_id": pair_id, "split": split_of(k, spec), "patient": f"sim{k:04d}",
            "study": "1", **files, "preset": spec.preset,
            **{name: findings[name] for name in sorted(findings)},
            "cond_distance": "near" if distance < 450 else ("far" if distance >= 510 else "mid"),
            "cond_motion_blur": "low" if params.lens.motion_px < 1.25 else "high"}


def _write_manifest(out_dir: Path, rows: list[dict[str, Any]], stamp: str) -> Path:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(out_dir / "manifest.csv", text.getvalue())
    write_text_atomic(out_dir / "bench_spec.txt", stamp)
    return out_dir


def _is_built(out_dir: Path, stamp: str) -> bool:
    path = out_dir / "bench_spec.txt"
    return (out_dir / "manifest.csv").is_file() and path.is_file() and path.read_text() == stamp


def build_bench_folder(out_dir: Path, spec: BenchSpec = BenchSpec(), workers: int = 1,
                       only_split: str | None = None) -> Path:
    """Write the benchmark folder (skipped when a manifest for the same spec exists);
    ``only_split``: simulate that split's pairs only (a test set under another preset)."""
    stamp = repr(spec) + (f" only={only_split}" if only_split else "")
    if _is_built(out_dir, stamp):
        return out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    ks = [k for k in range(spec.pairs) if only_split is None or split_of(k, spec) == only_split]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            rows = list(pool.map(make_pair, ks, [spec] * len(ks), [out_dir] * len(ks)))
    else:
        rows = [make_pair(k, spec, out_dir) for k in ks]
    return _write_manifest(out_dir, rows, stamp)


def build_real_folder(out_dir: Path, spec: BenchSpec) -> Path | None:
    """Real public radiographs (``pydicom-data``, never bundled), each fitted into the
    bench's image size, shown and photographed like the bench's pairs: a test-only folder,
    or None when no real radiograph is installed."""
    from rig.library.radiostats import real_references

    references = real_references()
    if not references:
        return None
    stamp = repr(spec) + " real=" + ",".join(sorted(references))
    if _is_built(out_dir, stamp):
        return out_dir
    rows = []
    for k, (name, display) in enumerate(sorted(references.items())):
        scale = min(spec.rows / display.shape[0], spec.columns / display.shape[1])
        size = (max(1, round(display.shape[1] * scale)), max(1, round(display.shape[0] * scale)))
        truth = np.rint(cv2.resize(display, size, interpolation=cv2.INTER_AREA) * 255).astype(np.uint8)
        aligned, mask, _, _ = photograph(truth, spec, 90_000 + k, np.random.default_rng([spec.seed, 90_000 + k]))
        pair_id = f"real-{name}"
        rows.append({"pair_id": pair_id, "split": "test", "patient": pair_id, "study": "1",
                     **write_pair(out_dir, pair_id, truth, aligned, mask), "photo": "",
                     "preset": spec.preset})
    return _write_manifest(out_dir, rows, stamp)


@dataclass(frozen=True)
class ChainSpec:
    """CheXphoto's photographic chain as one test set: up to three ``rig.synth``
    transforms at one level (1-4), pixel sizes scaled to the screen frame's size."""

    names: tuple[str, ...] = CHEXPHOTO_CHAIN
    level: int = CHEXPHOTO_LEVEL


def chained_frame(truth: np.ndarray, chain: ChainSpec, seed: int, index: int) -> tuple[Any, np.ndarray]:
    """(the screen frame the display shows for ``truth``: fiducial border, frame code;
    that frame put through ``chain``), pixel sizes scaled to the frame's size."""
    from calibration.fiducials import FiducialLayout
    from calibration.framecode import FrameCode
    from rig.imaging.screen import compose_screen_frame
    from rig.synth import apply_chain, resolution_scale

    frame = compose_screen_frame(truth, SCREEN_WH, FiducialLayout(),
                                 FrameCode(session=seed % 256, index=index % 1024, attempt=0, frame_hash=0),
                                 "1:1")
    photo, _, _ = apply_chain(frame.canvas, chain.names, chain.level, seed * 100_003 + index,
                              resolution_scale(*SCREEN_WH))
    return frame, photo


def chain_photo(truth: np.ndarray, chain: ChainSpec, seed: int, index: int,
                ) -> tuple[np.ndarray | None, np.ndarray | None, str]:
    """(aligned grey photo, valid mask, "" | why it failed): ``truth``'s screen frame
    through ``chain`` (``chained_frame``), registered back to the image area through the
    fiducials, as rig registers a photo."""
    from calibration.registration import register_photo
    from rig.registration import FrameFile

    frame, photo = chained_frame(truth, chain, seed, index)
    area = FrameFile(Path("frame.png"), frame.canvas, frame.meta()).area
    reg = register_photo(photo, frame.canvas, frame.layout, area=area)
    if not reg.result.accepted or reg.aligned is None or reg.mask is None:
        return None, None, reg.result.reason or "rejected"
    aligned = reg.aligned if reg.aligned.ndim == 2 else cv2.cvtColor(reg.aligned, cv2.COLOR_BGR2GRAY)
    return aligned, np.where(reg.mask > 0, 255, 0).astype(np.uint8), ""


def build_chain_folder(out_dir: Path, spec: BenchSpec, chain: ChainSpec = ChainSpec(),
                       ) -> tuple[Path | None, dict[str, Any]]:
    """The bench's test patients through CheXphoto's chain (``chain_photo``): a test-only
    folder of the photos that registered (None when none did) and the counts, with the
    reason each failed photo gave."""
    from rig.ml.samplesource import draw_case

    stamp = repr(spec) + f" chain={chain!r}"
    ks = [k for k in range(spec.pairs) if split_of(k, spec) == "test"]
    record: dict[str, Any] = {"chain": list(chain.names), "level": chain.level, "photos": len(ks)}
    failed_path = out_dir / "unregistered.txt"
    if _is_built(out_dir, stamp):
        failed = [line for line in failed_path.read_text().splitlines() if line] if failed_path.is_file() else []
        return out_dir, {**record, "registered": len(ks) - len(failed), "unregistered": failed}
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, failed = [], []
    for k in ks:
        truth, findings = draw_case(np.random.default_rng([spec.seed, k]), spec.rows, spec.columns,
                                    spec.difficulty)
        aligned, mask, why = chain_photo(truth, chain, spec.seed, k)
        pair_id = f"chexphoto{k:04d}"
        if aligned is None or mask is None:
            failed.append(f"{pair_id}: {why}")
            continue
        rows.append({"pair_id": pair_id, "split": "test", "patient": f"sim{k:04d}", "study": "1",
                     **write_pair(out_dir, pair_id, truth, aligned, mask), "photo": "",
                     "preset": "chexphoto:" + "+".join(chain.names),
                     **{name: findings[name] for name in sorted(findings)}})
    write_text_atomic(failed_path, "".join(f"{line}\n" for line in failed))
    record = {**record, "registered": len(rows), "unregistered": failed}
    if not rows:
        return None, record
    return _write_manifest(out_dir, rows, stamp), record
