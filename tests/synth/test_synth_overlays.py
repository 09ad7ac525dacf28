"""Overlay pixels against PIL versions of the original pipelines (the oracles)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from rig.synth import apply_transform
from rig.synth.moire_mask import moire_alpha


def _pil_moire_alpha(
    w: int, h: int, angle: float, offset: tuple[float, float], gap: float, opacity: float
) -> np.ndarray:
    """The original's mask chain, done with PIL: big base mask, fan warp, rotate, crop."""
    side = 2 * max(w, h)
    base = np.zeros((side, side, 4), np.uint8)
    base[np.remainder(np.arange(side), 1 + gap) < 1, :, 3] = int(opacity * 255)
    mask = Image.fromarray(base)
    # Fan warp: output corners (0,0),(s,0),(s,s),(0,s) read input (0,s/4),(s,0),(s,s),(0,3s/4).
    a = np.array([[0, 0], [side, 0], [side, side], [0, side]], np.float64)
    b = np.array([[0, side * 0.25], [side, 0], [side, side], [0, side * 0.75]], np.float64)
    rows, rhs = [], []
    for (x, y), (u, v) in zip(a, b, strict=True):
        rows += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        rhs += [u, v]
    coeffs = np.linalg.solve(np.array(rows), np.array(rhs))
    mask = mask.transform(mask.size, Image.Transform.PERSPECTIVE, data=tuple(coeffs))
    mask = mask.rotate(angle)
    left, upper = (side - w) // 2, (side - h) // 2
    box = (left + offset[0], upper + offset[1], left + offset[0] + w, upper + offset[1] + h)
    return np.asarray(mask.crop(box))[:, :, 3].astype(np.float64)


@settings(max_examples=15, deadline=None)
@given(
    angle=st.floats(min_value=86, max_value=94),  # 90° and 90° + N(0, 1°)
    ox=st.floats(min_value=0, max_value=100),
    oy=st.floats(min_value=0, max_value=100),
    level=st.sampled_from([1, 2, 3, 4]),
)
def test_moire_mask_matches_pil_chain(angle: float, ox: float, oy: float, level: int) -> None:
    gap = {1: 20.0, 2: 4.5, 3: 2.5, 4: 1.0}[level]
    opacity = {1: 0.05, 2: 0.15, 3: 0.35, 4: 0.5}[level]
    w, h = 96, 72
    ours = moire_alpha(
        (w, h),
        angle_deg=angle,
        spread=0.5,
        offset_px=(ox, oy),
        thickness_px=1.0,
        gap_px=gap,
        opacity=opacity,
    )
    ref = _pil_moire_alpha(w, h, angle, (ox, oy), gap, opacity)
    # PIL steps its sample positions incrementally in C, so a few nearest-neighbour
    # picks right at a pixel boundary fall the other way (measured worst: 0.25 %).
    assert (ours != ref).mean() < 0.005
    assert abs((ours > 0).mean() - (ref > 0).mean()) < 0.002


def test_moire_darkens_in_lines_and_keeps_size() -> None:
    img = np.full((60, 50), 200, np.uint8)
    out, _ = apply_transform(img, "moire", 4, np.random.default_rng(0))
    assert out.shape == img.shape
    assert out.mean() < 200 - 20  # opacity 0.5 lines every other row of the ×2 image


@pytest.mark.parametrize("name", ["glare_matte", "glare_glossy"])
@pytest.mark.parametrize("level", [1, 4])
def test_glare_blend_matches_pil_alpha_composite(name: str, level: int) -> None:
    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, size=(70, 90), dtype=np.uint8)
    out, _ = apply_transform(img, name, level, np.random.default_rng(level))
    # Recover the alpha from a black input with the same draws, then blend with PIL.
    alpha, _ = apply_transform(np.zeros_like(img), name, level, np.random.default_rng(level))
    white = np.dstack([np.full_like(img, 255)] * 3 + [alpha])
    base = Image.fromarray(img).convert("RGBA")
    base.alpha_composite(Image.fromarray(white))
    expected = np.asarray(base.convert("L")).astype(int)
    assert np.abs(out.astype(int) - expected).max() <= 1


def test_moire_mask_in_bands_equals_whole() -> None:
    kw = {
        "angle_deg": 90.7,
        "spread": 0.5,
        "offset_px": (33.3, 71.9),
        "thickness_px": 1.0,
        "gap_px": 2.5,
        "opacity": 0.35,
    }
    whole = moire_alpha((300, 260), **kw)  # type: ignore[arg-type]
    bands = [
        moire_alpha((300, 260), row_range=(y, min(y + 77, 260)), **kw)  # type: ignore[arg-type]
        for y in range(0, 260, 77)
    ]
    np.testing.assert_array_equal(np.vstack(bands), whole)
