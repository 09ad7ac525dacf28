"""Masking burned-in text in the stored pixel data (PS3.15 E.3.1, Clean Pixel Data).

Where the mask applies: the de-identified copy's pixel data, before it is written
to objects/. Everything downstream renders from that copy (ground truth, the
displayed frame, `rig render`, exports, any window or VOI chosen later), so they
all agree and none can show the text; the original never enters the project.

What the mask is filled with: the stored value (or colour triple) of the darkest
*displayed* pixel of the same frame outside the text, so the mask shows as the
image's own black through whatever the pipeline does: a high value for
MONOCHROME1, the index of the darkest palette entry for PALETTE COLOR, a triple
for RGB. Because that value is already in the image, a min-max window (images
without VOI attributes, 16-bit PNGs) is unchanged. Overlay bits (60xx,3000) inside
the boxes are cleared too, so a rendering with overlays burned in shows nothing
there either. After masking every frame is rendered again and each box must be
one flat colour, else the file is refused (never stored half-masked).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, pack_bits
from pydicom.tag import Tag

from rig.errors import InputError
from rig.imaging import dicom
from rig.imaging.render import RenderOptions, render_dataset
from rig.library.burnedin import box_mask
from rig.library.ocr import Box

WRITABLE_PHOTOMETRICS = ("MONOCHROME1", "MONOCHROME2", "PALETTE COLOR", "RGB", "YBR_FULL")


@dataclass(frozen=True)
class FrameText:
    """What the check found in one displayed frame."""

    frame: int
    boxes: list[Box]
    darkest: tuple[int, int]  # (row, column) of the darkest displayed pixel outside the boxes


def darkest_pixel(displayed: np.ndarray, boxes: list[Box]) -> tuple[int, int]:
    """(row, column) of the darkest displayed pixel outside ``boxes`` (luma for colour)."""
    luma = displayed.astype(np.float32)
    if luma.ndim == 3:
        luma = luma @ np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R BT.601
    outside = ~box_mask(displayed.shape, boxes)
    if outside.any():
        luma = np.where(outside, luma, np.inf)
    row, col = np.unravel_index(int(np.argmin(luma)), luma.shape)
    return int(row), int(col)


def fill_boxes(stored: np.ndarray, boxes: list[Box], value: np.ndarray) -> np.ndarray:
    """``stored`` (H, W) or (H, W, S) with every box set to ``value`` (a scalar or a triple)."""
    out = stored.copy()
    out[box_mask(stored.shape, boxes)] = value
    return out


def _luma(displayed: np.ndarray) -> np.ndarray:
    return displayed if displayed.ndim == 2 else displayed.astype(np.int32).sum(axis=-1)


def darkest_fill(
    render: Callable[[np.ndarray], np.ndarray],
    stored: np.ndarray,
    boxes: list[Box],
    darkest: tuple[int, int],
    candidates: list[np.ndarray],
) -> np.ndarray:
    """``stored`` with the boxes filled so that they display darkest.

    The image's own darkest value is always safe (it cannot move a min-max window);
    a candidate (the lowest or highest representable value, the darkest palette
    entry…) is taken only when it displays darker *and* leaves every pixel outside
    the boxes displayed exactly as before.
    """
    best = fill_boxes(stored, boxes, stored[darkest])
    shown_best = render(best)
    inside = box_mask(stored.shape, boxes)
    for value in candidates:
        trial = fill_boxes(stored, boxes, value)
        shown = render(trial)
        darker = _luma(shown)[inside].max() < _luma(shown_best)[inside].max()
        if darker and np.array_equal(shown[~inside], shown_best[~inside]):
            best, shown_best = trial, shown
    return best


def black_candidates(ds: Dataset, photometric: str, dtype: np.dtype) -> list[np.ndarray]:
    """Stored values that may display black, by photometric interpretation (PS3.3 C.7.6.3.1.2)."""
    if photometric == "RGB":
        return [np.zeros(3, dtype)]
    if photometric == "YBR_FULL":
        return [np.array([0, 128, 128], dtype)]
    bits = int(ds.BitsStored)
    signed = np.dtype(dtype).kind == "i"
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    values: list[int | None] = [low, high]
    if photometric == "PALETTE COLOR":
        values.insert(0, _darkest_palette_index(ds, low, high))
    return [np.asarray(v, dtype) for v in values if v is not None]


def _darkest_palette_index(ds: Dataset, low: int, high: int) -> int | None:
    try:
        indices = np.arange(low, high + 1)
        colours = np.asarray(apply_color_lut(indices, ds), np.float64)
    except Exception:  # a malformed palette: the other candidates still apply
        return None
    return int(indices[int(np.argmin(colours @ [0.299, 0.587, 0.114]))])


def mask_dicom(ds: Dataset, found: list[FrameText], name: str) -> None:
    """Mask the union of all frames' boxes in every frame of ``ds`` (in place), then
    verify by rendering. Text in a cine loop stays put, so one frame's find covers all."""
    boxes = [b for f in found for b in f.boxes]
    if not boxes:
        return
    darkest = {f.frame: f.darkest for f in found}
    n_frames = dicom.count_frames(ds)
    decoded = [dicom.decode_frame(ds, index, name) for index in range(n_frames)]
    photometric = decoded[0].photometric
    if photometric not in WRITABLE_PHOTOMETRICS:
        raise InputError(
            f"{name}: burned-in text found, but {photometric} pixel data cannot be masked; "
            "import with --burned-in exclude"
        )

    def write(frames: list[np.ndarray]) -> None:
        array = np.stack(frames) if n_frames > 1 else frames[0]
        try:
            ds.set_pixel_data(array, photometric, int(ds.BitsStored), generate_instance_uid=False)
        except (ValueError, AttributeError, NotImplementedError) as exc:
            raise InputError(
                f"{name}: burned-in text found, but the pixel data cannot be rewritten "
                f"({exc}); import with --burned-in exclude"
            ) from exc

    if n_frames == 1:  # one frame: try values that display blacker (see darkest_fill)

        def render(stored: np.ndarray) -> np.ndarray:
            write([stored])
            return render_dataset(ds, RenderOptions()).pixels

        stored = decoded[0].pixels
        candidates = black_candidates(ds, photometric, stored.dtype)
        write([darkest_fill(render, stored, boxes, darkest[0], candidates)])
    else:
        first = darkest[found[0].frame]
        write(
            [
                fill_boxes(d.pixels, boxes, d.pixels[darkest.get(i, first)])
                for i, d in enumerate(decoded)
            ]
        )
    try:
        clear_overlays(ds, boxes)
    except Exception as exc:  # a malformed overlay must not leave its text behind
        raise InputError(
            f"{name}: burned-in text found, but its overlay planes cannot be cleaned "
            f"({type(exc).__name__}); import with --burned-in exclude"
        ) from exc
    _note_cleaning(ds)
    verify_masked(ds, boxes, name)


def clear_overlays(ds: Dataset, boxes: list[Box]) -> None:
    """Clear overlay bits that fall inside ``boxes`` (every plane, every overlay frame)."""
    for group in range(0x6000, 0x6020, 2):
        if Tag(group, 0x3000) not in ds:
            continue
        bits = np.asarray(ds.overlay_array(group)).copy()
        origin = ds.get(Tag(group, 0x0050))
        row0, col0 = (int(origin.value[0]) - 1, int(origin.value[1]) - 1) if origin else (0, 0)
        shifted = [(x - col0, y - row0, w, h) for x, y, w, h in boxes]
        clipped = [
            (max(0, x), max(0, y), w + min(0, x), h + min(0, y))
            for x, y, w, h in shifted
            if x + w > 0 and y + h > 0
        ]
        mask = box_mask(bits.shape[-2:], clipped)
        bits[..., mask] = 0
        ds[Tag(group, 0x3000)].value = pack_bits(bits.ravel())


def _note_cleaning(ds: Dataset) -> None:
    """Say what was done in Deidentification Method (0012,0063), LO, VM 1-n."""
    method = ds.get("DeidentificationMethod", "")
    values = list(method) if isinstance(method, list | tuple) else [str(method)] if method else []
    ds.DeidentificationMethod = [*values, "rig: burned-in text masked (OCR)"]


def verify_masked(ds: Dataset, boxes: list[Box], name: str) -> None:
    """Every box of every frame renders as one flat colour, overlays burned in or not."""
    for index in range(dicom.count_frames(ds)):
        for overlays in (False, True):
            shown = render_dataset(ds, RenderOptions(frame=index, burn_overlays=overlays)).pixels
            if not masked_flat(shown, boxes):
                raise InputError(
                    f"{name}: masking burned-in text did not hold in frame {index + 1}; "
                    "import with --burned-in exclude"
                )


def masked_flat(displayed: np.ndarray, boxes: list[Box]) -> bool:
    mask = box_mask(displayed.shape, boxes)
    if not mask.any():
        return True
    values = displayed[mask]
    return bool((values.max(axis=0).astype(int) - values.min(axis=0).astype(int)).max() <= 1)
