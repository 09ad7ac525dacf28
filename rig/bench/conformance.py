"""The conformance matrix: real-like images through compose -> camera -> register/verify.

Every corpus image (``rig.library.corpus``: generated hospital-like files and the
real public files installed packages provide) is rendered, composed on the
screen with the default placement (``auto``), and photographed by every camsim
preset with several seeds (seed 0: the preset's nominal pose; others: a pose and
conditions drawn from the preset's ranges). A good photo must verify; one that
is rejected is retaken once (the next shot of the same camera), as a session
would. On the first seed, four wrong photos per image must be rejected:

- ``wrong``: the next image's frame (the next item),
- ``stale``: the same item re-rendered with other content (frame hash differs),
- ``half_refreshed``: the bottom half still shows the previous item,
- ``torn``: a rolling shutter along the screen: the left third shows the previous item.

``patched`` (the central quarter of the image area from the previous item's frame,
every code copy right) can be asked for too (``kinds``) and is reported apart: only
the content check can catch it, and not where the content is flat.
Registration accuracy is the mapped grid against the camera's exact truth.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from calibration.fiducials import FiducialLayout
from calibration.framecode import FrameCode
from calibration.refinement import Area
from calibration.registration import register_photo
from rig.imaging import codec
from rig.imaging.compositor import DEFAULT_PLACEMENT, DEFAULT_SCREEN_WH
from rig.imaging.screen import ScreenFrame, compose_screen_frame
from rig.library.corpus import CorpusFile

SCREEN_WH = DEFAULT_SCREEN_WH
WRONG_KINDS = ("wrong", "stale", "half_refreshed", "torn")
GRID = 16  # grid points per side for the registration error


@dataclass(frozen=True)
class Cell:
    """One camera (preset, seed) over every image."""

    preset: str
    seed: int
    files: tuple[CorpusFile, ...]
    kinds: tuple[str, ...]  # wrong photos to take (empty: good photos only)
    placement: str = DEFAULT_PLACEMENT


@lru_cache(maxsize=4)
def _display_image(path: Path) -> np.ndarray:
    """The file's display frame, BGR when in colour (screen frames are BGR)."""
    from rig.imaging.render import render_path

    return codec.to_bgr(render_path(path).pixels, codec.RGB)


def _frame(image: np.ndarray, index: int, placement: str) -> ScreenFrame:
    code = FrameCode(1, index, 0, 0)
    return compose_screen_frame(image, SCREEN_WH, FiducialLayout(), code, placement)


def _other_content(image: np.ndarray) -> np.ndarray:
    """The same image with other content: re-rendered brighter and flipped (a stale frame)."""
    return np.ascontiguousarray(np.clip(image.astype(np.int16) + 12, 0, 255)[:, ::-1]).astype(
        np.uint8
    )


def wrong_frames(
    good: ScreenFrame, previous: ScreenFrame, stale: ScreenFrame
) -> dict[str, np.ndarray]:
    """Screen contents of the wrong photos of item ``good`` (see the module docstring)."""
    height, width = good.canvas.shape[:2]
    half = good.canvas.copy()
    half[height // 2 :] = _as_channels(previous.canvas, good.canvas)[height // 2 :]
    torn = good.canvas.copy()
    torn[:, : width // 3] = _as_channels(previous.canvas, good.canvas)[:, : width // 3]
    patched = good.canvas.copy()
    p = good.placement
    ys = slice(p.offset_y + p.height // 4, p.offset_y + 3 * p.height // 4)
    xs = slice(p.offset_x + p.width // 4, p.offset_x + 3 * p.width // 4)
    patched[ys, xs] = _as_channels(previous.canvas, good.canvas)[ys, xs]
    return {
        "wrong": previous.canvas,
        "stale": stale.canvas,
        "half_refreshed": half,
        "torn": torn,
        "patched": patched,
    }


def _as_channels(image: np.ndarray, like: np.ndarray) -> np.ndarray:
    """``image`` with the channel layout of ``like`` (grey or BGR)."""
    import cv2

    if image.ndim == like.ndim:
        return image
    return np.asarray(
        cv2.cvtColor(image, cv2.COLOR_BGR2GRAY if image.ndim == 3 else cv2.COLOR_GRAY2BGR)
    )


def _grid(frame: ScreenFrame) -> np.ndarray:
    p = frame.placement
    xs = np.linspace(p.offset_x, p.offset_x + p.width - 1, GRID)
    ys = np.linspace(p.offset_y, p.offset_y + p.height - 1, GRID)
    return np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)


def _verify(photo: np.ndarray, frame: ScreenFrame) -> Any:
    p = frame.placement
    area = Area(p.offset_x, p.offset_y, p.width, p.height)
    return register_photo(photo, frame.canvas, frame.layout, area=area, expected=frame.code)


def run_cell(cell: Cell) -> list[dict[str, Any]]:
    """Photograph and verify every image of ``cell`` with its camera (one process)."""
    import cv2

    from rig.bench.registration_bench import _truth_points
    from rig.camsim import SimCamera, load_preset

    cv2.setNumThreads(1)
    base = load_preset(cell.preset)
    params = base if cell.seed == 0 else base.sample(np.random.default_rng([7, cell.seed]))
    camera = SimCamera(params, seed=cell.seed)
    rows = []
    for index, item in enumerate(cell.files):
        image = _display_image(item.path)
        good = _frame(image, 2 * index + 1, cell.placement)
        shot = camera.capture(good.canvas)
        reg = _verify(shot.image, good)
        first = reg.result
        retake = None
        if not first.accepted:  # a session retakes a rejected photo
            retake = _verify(camera.capture(good.canvas).image, good).result
        errors = None
        if reg.mapping is not None:
            grid = _grid(good)
            errors = np.hypot(*(reg.mapping.map_points(grid) - _truth_points(shot.truth, grid)).T)
        row: dict[str, Any] = {
            "image": item.name,
            "preset": cell.preset,
            "seed": cell.seed,
            "placement": good.placement.to_dict(),
            "accepted_first": first.accepted,
            "accepted_after_retake": first.accepted or bool(retake and retake.accepted),
            "reason": None if first.accepted else first.reason,
            "rms_px": None if errors is None else float(np.sqrt(np.mean(errors**2))),
            "tile_corr_min": first.tile_corr_min,
            "wrong": {},
        }
        if cell.kinds:
            previous = _frame(_display_image(cell.files[index - 1].path), 2 * index, cell.placement)
            stale = _frame(_other_content(image), 2 * index + 1, cell.placement)
            shown = wrong_frames(good, previous, stale)
            for kind in cell.kinds:
                wreg = _verify(camera.capture(shown[kind]).image, good).result
                row["wrong"][kind] = {"rejected": not wreg.accepted, "reason": wreg.reason}
        rows.append(row)
    return rows


def run_conformance(
    files: Sequence[CorpusFile],
    presets: Sequence[str],
    seeds: int = 3,
    kinds: Sequence[str] = WRONG_KINDS,
    workers: int = 2,
    placement: str = DEFAULT_PLACEMENT,
    on_cell: Callable[[int, int, list[dict[str, Any]]], None] | None = None,
) -> dict[str, Any]:
    """The matrix over ``files`` x ``presets`` x ``seeds`` (wrong photos on seed 0).

    ``on_cell(done, total, rows_so_far)`` is called after each camera (preset, seed).
    """
    cells = [
        Cell(preset, seed, tuple(files), tuple(kinds) if seed == 0 else (), placement)
        for seed in range(seeds)
        for preset in presets
    ]
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    if workers <= 1:
        for done, cell in enumerate(cells, 1):
            rows += run_cell(cell)
            if on_cell:
                on_cell(done, len(cells), rows)
    else:
        # spawn, not fork: a forked child inherits OpenCV's and BLAS's thread pools
        # mid-state and can hang on its first call.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            for done, result in enumerate(pool.map(run_cell, cells), 1):
                rows += result
                if on_cell:
                    on_cell(done, len(cells), rows)
    summary = summarise(rows, files, presets, seeds)
    summary["time_s"] = time.perf_counter() - start
    summary["workers"] = workers
    summary["load_average_1min"] = os.getloadavg()[0]
    return summary


def summarise(
    rows: list[dict[str, Any]], files: Sequence[CorpusFile], presets: Sequence[str], seeds: int
) -> dict[str, Any]:
    """The matrix's JSON: contract keys first, then per image, per preset and per kind."""
    wrong = [(kind, v) for r in rows for kind, v in r["wrong"].items() if kind in WRONG_KINDS]
    patched = [r["wrong"]["patched"] for r in rows if "patched" in r["wrong"]]
    rms = [r["rms_px"] for r in rows if r["rms_px"] is not None]
    return {
        "images": len(files),
        "presets": len(presets),
        "seeds": seeds,
        "photos": len(rows),
        "accepted_first": sum(r["accepted_first"] for r in rows),
        "false_rejects": sum(not r["accepted_first"] for r in rows),
        "retakes": sum(not r["accepted_first"] for r in rows),
        "accepted_after_one_retake": sum(r["accepted_after_retake"] for r in rows),
        "wrong_rejected": sum(v["rejected"] for _, v in wrong),
        "wrong_total": len(wrong),
        "wrong_by_kind": {
            kind: [
                sum(v["rejected"] for k, v in wrong if k == kind),
                sum(k == kind for k, _ in wrong),
            ]
            for kind in WRONG_KINDS
        },
        "patched_rejected": sum(v["rejected"] for v in patched),
        "patched_total": len(patched),
        "rms_px_median": statistics.median(rms) if rms else None,
        "rms_px_max": max(rms) if rms else None,
        "image_names": [f.name for f in files],
        "preset_names": list(presets),
        "by_image": {
            f.name: _image_row(f, [r for r in rows if r["image"] == f.name]) for f in files
        },
        "by_preset": {
            p: {
                "photos": sum(r["preset"] == p for r in rows),
                "false_rejects": sum(r["preset"] == p and not r["accepted_first"] for r in rows),
            }
            for p in presets
        },
        "false_reject_details": [
            {k: r[k] for k in ("image", "preset", "seed", "reason")}
            for r in rows
            if not r["accepted_first"]
        ],
        "missed_wrong": [
            {"image": r["image"], "preset": r["preset"], "kind": kind}
            for r in rows
            for kind, v in r["wrong"].items()
            if kind in WRONG_KINDS and not v["rejected"]
        ],
        "screen_wh": list(SCREEN_WH),
    }


def _image_row(item: CorpusFile, rows: list[dict[str, Any]]) -> dict[str, Any]:
    placement = rows[0]["placement"] if rows else {}
    rms = [r["rms_px"] for r in rows if r["rms_px"] is not None]
    corr = [r["tile_corr_min"] for r in rows if r["tile_corr_min"] is not None]
    return {
        "modality": item.modality,
        "origin": item.origin,
        "note": item.note,
        "placement": f"{placement.get('mode')} x{placement.get('reduction', 1)} "
        f"{placement.get('width')}x{placement.get('height')}",
        "photos": len(rows),
        "accepted_first": sum(r["accepted_first"] for r in rows),
        "wrong_rejected": sum(
            v["rejected"] for r in rows for k, v in r["wrong"].items() if k in WRONG_KINDS
        ),
        "wrong_total": sum(k in WRONG_KINDS for r in rows for k in r["wrong"]),
        "patched_rejected": sum(r["wrong"].get("patched", {}).get("rejected", False) for r in rows),
        "rms_px_median": statistics.median(rms) if rms else None,
        "tile_corr_min": min(corr) if corr else None,
    }
