"""``rig bench simulate``: time a 12 MP simulated photo against a plain warp baseline.

The baseline, measured in the same run on the same frame and output size, is one
``cv2.warpPerspective`` of the screen frame to the photo size with the true
homography (what a naive "photo simulator" would do). Times are medians.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

import cv2
import numpy as np

from rig.camsim.geometry import project_screen_points
from rig.camsim.params import load_preset
from rig.camsim.simulate import SimCamera, build_scene
from rig.camsim.testframes import xray_like_frame


def _median_s(fn: Any, repeats: int, clock: Any = time.perf_counter) -> float:
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times)


def run_simulate_bench(preset: str = "paper-lcd-iphone", repeats: int = 5) -> dict[str, Any]:
    """Time scene building (per pose), a warm capture (cached pose) and the baseline."""
    params = load_preset(preset)
    frame = cv2.cvtColor(xray_like_frame(0, (1000, 1000), (1920, 1080)), cv2.COLOR_GRAY2BGR)
    screen_wh = (frame.shape[1], frame.shape[0])
    cam = SimCamera(params, seed=0)
    start = time.perf_counter()
    photo = cam.capture(frame)  # first photo: builds the pose tables too
    cold_s = time.perf_counter() - start
    scene_s = _median_s(lambda: build_scene(params, screen_wh), max(1, repeats // 2))
    warm_s = _median_s(lambda: cam.capture(frame), repeats)
    # CPU seconds (all threads) tell the cost apart from contention on a shared machine.
    warm_cpu_s = _median_s(lambda: cam.capture(frame), repeats, time.process_time)
    w, h = screen_wh
    corners = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]])
    homography = cv2.getPerspectiveTransform(
        (corners + 0.5).astype(np.float32),
        project_screen_points(photo.truth, corners).astype(np.float32) + 0.5)
    size = tuple(photo.truth["image_size"])
    baseline_s = _median_s(lambda: cv2.warpPerspective(frame, homography, size), repeats)
    baseline_cpu_s = _median_s(lambda: cv2.warpPerspective(frame, homography, size), repeats,
                               time.process_time)
    return {
        "preset": preset,
        "frame_size": [w, h],
        "photo_size": list(size),
        "megapixels": size[0] * size[1] / 1e6,
        "repeats": repeats,
        "first_photo_s": cold_s,
        "scene_build_s": scene_s,
        "photo_s": warm_s,
        "photo_cpu_s": warm_cpu_s,
        "baseline_warp_perspective_s": baseline_s,
        "baseline_cpu_s": baseline_cpu_s,
        "ratio_photo_to_baseline": warm_s / baseline_s,
        "load_average_1min": os.getloadavg()[0],
        "cv2_threads": cv2.getNumThreads(),
    }
