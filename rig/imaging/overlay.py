"""Burning overlay planes (PS3.3 C.9.2, groups 6000-601E) into the display frame.

Off by default: the display frame shows the image, not annotations. On request
every overlay plane stored in Overlay Data (60xx,3000) is drawn in "replace"
mode with full foreground, i.e. the overlay's set bits become white (255), the
way DCMTK's ``dcm2pnm +O`` draws graphic overlays. Planes embedded in unused
high bits of Pixel Data (retired since 2004) are not drawn.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.tag import Tag

OUT_MAX = 255


def burn_overlays(pixels: np.ndarray, ds: Dataset, frame: int) -> tuple[np.ndarray, int]:
    """Return a copy of ``pixels`` with the overlays of ``frame`` burned in, and their count."""
    out = pixels.copy()
    n_burned = 0
    for group in range(0x6000, 0x6020, 2):
        if Tag(group, 0x3000) not in ds:
            continue
        plane = overlay_plane(ds, group, frame, out.shape[:2])
        if plane is not None and plane.any():
            out[plane] = OUT_MAX
            n_burned += 1
    return out, n_burned


def overlay_plane(ds: Dataset, group: int, frame: int, shape: tuple[int, ...]) -> np.ndarray | None:
    """A boolean (rows, cols) mask of overlay ``group`` placed on image ``frame``."""
    bits = np.asarray(ds.overlay_array(group))
    if bits.ndim == 2:
        bits = bits[None]
    first = int(_value(ds, group, 0x0051, 1))  # Image Frame Origin (1-based)
    index = frame - (first - 1) if bits.shape[0] > 1 else 0
    if not 0 <= index < bits.shape[0]:
        return None
    origin = _value(ds, group, 0x0050, [1, 1])  # Overlay Origin, (row, column), 1-based
    row0, col0 = int(origin[0]) - 1, int(origin[1]) - 1
    mask = np.zeros(shape[:2], dtype=bool)
    plane = bits[index] != 0
    rows, cols = shape[0], shape[1]
    r0, c0 = max(row0, 0), max(col0, 0)
    r1, c1 = min(row0 + plane.shape[0], rows), min(col0 + plane.shape[1], cols)
    if r1 > r0 and c1 > c0:
        mask[r0:r1, c0:c1] = plane[r0 - row0 : r1 - row0, c0 - col0 : c1 - col0]
    return mask


def _value(ds: Dataset, group: int, element: int, default: Any) -> Any:
    elem = ds.get(Tag(group, element), None)
    return default if elem is None or elem.value in (None, "") else elem.value
