"""Fiducial layout geometry, serialisation and marker detection on known warps."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from calibration_helpers import LAYOUT, SCREEN_WH, screen_frame
from hypothesis import given, settings
from hypothesis import strategies as st

from calibration.fiducials import (
    FiducialLayout,
    LayoutError,
    code_origins,
    marker_screen_corners,
    marker_tiles,
    validate_layout,
)
from calibration.markers import detect_markers


def _rects_overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


@settings(max_examples=40, deadline=None)
@given(
    per_edge=st.integers(3, 10),
    width=st.integers(1100, 3840),
    height=st.integers(700, 2160),
)
def test_tiles_and_codes_stay_in_the_band_without_overlap(
    per_edge: int, width: int, height: int
) -> None:
    layout = FiducialLayout(markers_per_edge=per_edge)
    try:
        validate_layout(layout, (width, height))
    except LayoutError:
        return  # too small for this many markers: refused, not drawn wrongly
    tile = layout.tile_px
    rects = [(x, y, tile, tile) for x, y in marker_tiles(layout, (width, height)).values()]
    code_w, code_h = layout.code_wh
    rects += [(x, y, code_w, code_h) for x, y in code_origins(layout, (width, height))]
    assert len(rects) == layout.marker_count + 4
    b = layout.border_px
    for i, (x, y, w, h) in enumerate(rects):
        assert x >= 0 and x + w <= width and y >= 0 and y + h <= height
        in_band = x + w <= b or y + h <= b or x >= width - b or y >= height - b
        assert in_band, f"rect {i} leaves the border band"
        for other in rects[i + 1 :]:
            assert not _rects_overlap((x, y, w, h), other)


def test_layout_json_round_trip() -> None:
    layout = FiducialLayout(marker_px=48, pad_px=8, markers_per_edge=6)
    assert FiducialLayout.from_dict(__import__("json").loads(layout.to_json())) == layout


def test_small_screen_and_unknown_dictionary_are_refused() -> None:
    with pytest.raises(LayoutError):
        validate_layout(LAYOUT, (640, 480))
    with pytest.raises(LayoutError):
        validate_layout(FiducialLayout(dictionary="DICT_NOPE"), SCREEN_WH)


@pytest.mark.parametrize("scale", [1.5, 2.0])
def test_markers_found_at_their_known_corners_after_a_known_zoom(scale: float) -> None:
    screen, _ = screen_frame()
    # Zoom about the pixel-centre origin: screen (x, y) -> photo (scale (x + .5) - .5, ...).
    h = np.array([[scale, 0, 0.5 * scale - 0.5], [0, scale, 0.5 * scale - 0.5], [0, 0, 1]])
    size = (round(SCREEN_WH[0] * scale), round(SCREEN_WH[1] * scale))
    # Optics blur light: decode the display gamma, warp and blur, encode like a camera.
    light = (screen.astype(np.float32) / 255) ** 2.2
    light = cv2.GaussianBlur(
        cv2.warpPerspective(light, h, size, flags=cv2.INTER_LINEAR), (0, 0), 0.8
    )
    photo = np.clip(255 * light ** (1 / 2.2) + 0.5, 0, 255).astype(np.uint8)
    found = detect_markers(photo, LAYOUT)
    expected = marker_screen_corners(LAYOUT, SCREEN_WH)
    assert set(found) == set(expected)
    for marker_id, corners in found.items():
        truth = expected[marker_id] * scale + (0.5 * scale - 0.5)
        assert np.abs(corners - truth).max() < 0.35
