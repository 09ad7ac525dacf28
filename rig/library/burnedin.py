"""Burned-in text: where it is in a displayed frame (which images are read: textcheck).

Headers are de-identified by rig.library.deid, but scanners also write names, ids,
dates and the site into the pixels (ultrasound banners, secondary captures, a CR's
label). PS3.15 E.3.1 (Clean Pixel Data Option) asks for that text to be removed:
this module finds it in the 8-bit frame as displayed, rig.library.pixelmask
removes it from the stored pixel data.

Theory of operation (``find_text``):

1. *Proposals* (OpenCV, ~10 ms for 800x600): the morphological gradient of every
   colour plane, so white on blue, grey on black and red on green all show as
   strong edges; edges of ``EDGE_MIN`` levels or more are closed horizontally into
   lines, and boxes on one baseline are merged (large, widely spaced letters).
   Line-high boxes go to step 2, taller ones (speckle, anatomy, text touching
   them) to step 3.
2. *Lines*: a box whose contents could be writing is cut from the plane where it
   has the most contrast, scaled so that letters are ~``TARGET_H`` px (small fonts
   grow), binarised (Otsu) with the text black, and read as a block; with a
   margin first, then its inside only (a banner).
3. *Textured areas*: read sparsely at native size, inverted; a word found there
   must read the same again when cut out and rescaled as in step 2 (writing does,
   letters seen in colour-Doppler blobs or speckle do not).

A word counts when tesseract reads it with at least ``MIN_CHARS`` letters/digits
on its line at ``CHAR_CONF`` confidence *and* it looks written: one flat colour on
a flat background (``WRITING``). Tesseract reads speckle as letters at 90%+
confidence, but speckle's background is never flat (measured: spread >= 0.23
where writing has <= 0.16, ``rig bench burned-in`` and tests/library). Boxes get
a margin of a quarter of their height. Accuracy and speed: ``rig bench burned-in``.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from rig.library.ocr import Box, OcrEngine, Word

EDGE_MIN = 40  # 8-bit gradient of a text edge (grey text on black is 100+)
LINE_MIN_H, LINE_MAX_H = 5, 120  # px: a line of text, from tiny fonts to big labels
TARGET_H = 32  # px letter height tesseract reads best
CHAR_CONF = 80.0  # a character counts as read at this confidence
MIN_CHARS = 3  # letters/digits read on a line: names, ids and dates have more
# Writing is one flat colour on a flat background: (min Otsu separation, max
# background spread relative to the contrast, min contrast in 8-bit levels).
WRITING = (0.78, 0.2, 48.0)
PROPOSAL = (0.7, 0.3, EDGE_MIN)  # looser: which crops of a proposal are worth reading
MAX_CROP_PIXELS = 400_000  # a line crop is scaled up to at most this many pixels
MARGIN_FRACTION = 0.25  # of a box's height, added around it
REREAD_SIMILARITY = 0.6  # a word found in a textured area must read the same cut out


# -- geometry -------------------------------------------------------------------------


def pad_box(box: Box, pad: int, shape: tuple[int, ...]) -> Box:
    """``box`` grown by ``pad`` px on every side (shrunk if negative), clipped to ``shape``."""
    x0, y0 = max(0, box[0] - pad), max(0, box[1] - pad)
    x1 = min(shape[1], box[0] + box[2] + pad)
    y1 = min(shape[0], box[1] + box[3] + pad)
    return (x0, y0, max(0, x1 - x0), max(0, y1 - y0))


def union_box(a: Box, b: Box) -> Box:
    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
    return (x0, y0, x1 - x0, y1 - y0)


def crop(plane: np.ndarray, box: Box) -> np.ndarray:
    x, y, w, h = box
    return plane[y : y + h, x : x + w]


def box_mask(shape: tuple[int, ...], boxes: list[Box]) -> np.ndarray:
    """Boolean (H, W) mask of the union of ``boxes``."""
    mask = np.zeros(shape[:2], bool)
    for x, y, w, h in boxes:
        mask[y : y + h, x : x + w] = True
    return mask


# -- step 1: proposals ----------------------------------------------------------------


def planes_of(pixels: np.ndarray) -> list[np.ndarray]:
    """The 8-bit planes text can be seen in: the grey image, or R, G and B (one if equal)."""
    if pixels.ndim == 2:
        return [pixels]
    planes = [np.ascontiguousarray(pixels[..., c]) for c in range(pixels.shape[2])]
    if all(np.array_equal(planes[0], p) for p in planes[1:]):
        return planes[:1]
    return planes


def edge_map(planes: list[np.ndarray]) -> np.ndarray:
    """Strongest 3x3 morphological gradient over the planes (uint8)."""
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
    grad = cv2.morphologyEx(planes[0], cv2.MORPH_GRADIENT, kernel)
    for plane in planes[1:]:
        np.maximum(grad, cv2.morphologyEx(plane, cv2.MORPH_GRADIENT, kernel), out=grad)
    return grad


@dataclass(frozen=True)
class Proposals:
    lines: list[Box]  # line-high: read as a block
    areas: list[Box]  # taller than a line: read sparsely


def propose(planes: list[np.ndarray]) -> Proposals:
    """Boxes that may hold text: strong edges closed into lines."""
    edges = (edge_map(planes) >= EDGE_MIN).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (9, 3))  # letter and word gaps
    closed = cv2.morphologyEx(edges, cv2.MORPH_CLOSE, kernel)
    n, _, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    lines: list[Box] = []
    areas: list[Box] = []
    for x, y, w, h, area in stats[1:n].tolist():
        if h > LINE_MAX_H:
            areas.append((x, y, w, h))
        elif h >= LINE_MIN_H and w >= max(8, 0.8 * h) and area >= 12:
            lines.append((x, y, w, h))
    return Proposals(merge_lines(lines), areas)


def merge_lines(boxes: list[Box]) -> list[Box]:
    """Join boxes on one baseline with a gap under one letter height (big letters)."""
    boxes = sorted(boxes)
    changed = True
    while changed and len(boxes) < 4000:  # beyond that it is noise, not writing
        changed = False
        out: list[Box] = []
        for box in boxes:
            for i, other in enumerate(out):
                if _same_line(other, box):
                    out[i] = union_box(other, box)
                    changed = True
                    break
            else:
                out.append(box)
        boxes = out
    return boxes


def _same_line(a: Box, b: Box) -> bool:
    low, high = min(a[3], b[3]), max(a[3], b[3])
    overlap = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if overlap < 0.6 * low or high > 2 * low:
        return False
    return max(a[0], b[0]) - min(a[0] + a[2], b[0] + b[2]) <= high


# -- does it look written? ------------------------------------------------------------


@dataclass(frozen=True)
class Contrast:
    """Two-class statistics of a box; the minority class is taken as the text."""

    separation: float  # Otsu's between-class / total variance, 0-1 (1: two flat colours)
    background_spread: float  # std of the background / the text contrast (0: flat)
    contrast: float  # 8-bit levels between the text and background means

    def passes(self, limits: tuple[float, float, float]) -> bool:
        min_separation, max_spread, min_contrast = limits
        return (
            self.separation >= min_separation
            and self.background_spread <= max_spread
            and self.contrast >= min_contrast
        )


def measure_contrast(plane: np.ndarray, box: Box) -> Contrast:
    values = crop(plane, box)
    if values.size < 4:
        return Contrast(0.0, 1.0, 0.0)
    _, binary = cv2.threshold(values, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    text = binary > 0
    n_text = int(np.count_nonzero(text))
    if n_text > text.size / 2:
        text, n_text = ~text, text.size - n_text
    if n_text == 0:
        return Contrast(0.0, 1.0, 0.0)
    floats = values.astype(np.float32)
    fg, bg = floats[text], floats[~text]
    contrast = abs(float(fg.mean()) - float(bg.mean()))
    weight = n_text / text.size
    separation = weight * (1 - weight) * contrast**2 / (float(floats.var()) + 1e-6)
    return Contrast(separation, float(bg.std()) / max(contrast, 1.0), contrast)


def best_plane(planes: list[np.ndarray], box: Box) -> np.ndarray:
    """The plane where ``box`` has the most contrast."""
    if len(planes) == 1:
        return planes[0]
    return max(planes, key=lambda p: float(crop(p, box).std()))


def looks_written(planes: list[np.ndarray], box: Box, limits: tuple[float, float, float]) -> bool:
    padded = pad_box(box, max(1, box[3] // 6), planes[0].shape)
    return measure_contrast(best_plane(planes, padded), padded).passes(limits)


# -- steps 2 and 3: reading -----------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """A crop made readable (dark text on white) and the way back to image pixels."""

    image: np.ndarray
    origin: tuple[int, int]  # image x, y of the crop's corner
    scale: float
    border: int

    def to_image(self, box: Box) -> Box:
        x, y, w, h = box
        return (
            round((x - self.border) / self.scale) + self.origin[0],
            round((y - self.border) / self.scale) + self.origin[1],
            round(w / self.scale) + 1,
            round(h / self.scale) + 1,
        )


def text_black(gray: np.ndarray) -> np.ndarray:
    """Otsu binarisation with the minority class (the text) black on white."""
    _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    if np.count_nonzero(binary) < binary.size / 2:
        binary = 255 - binary
    return binary


def letter_height(binary: np.ndarray) -> int:
    """Median height of the dark blobs (letters) of a binarised crop; a proposal may
    hold several lines, so its own height says nothing about the font."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(
        (binary == 0).astype(np.uint8), connectivity=8
    )
    heights = [h for _, _, _, h, area in stats[1:n].tolist() if area >= 3]
    return int(np.median(heights)) if heights else binary.shape[0]


def prepare(plane: np.ndarray, box: Box, border: int = 12) -> Prepared:
    """Crop, scale letters to ~TARGET_H px, binarise, text black, white border."""
    part = crop(plane, box)
    binary = text_black(part)
    most = (MAX_CROP_PIXELS / max(1, part.size)) ** 0.5  # a big proposal is not small text
    scale = max(1.0, min(6.0, most, TARGET_H / max(1, letter_height(binary))))
    if scale > 1.0:
        part = cv2.resize(part, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        binary = text_black(part)
    image = cv2.copyMakeBorder(
        binary, border, border, border, border, cv2.BORDER_CONSTANT, value=255
    )
    return Prepared(image, (box[0], box[1]), scale, border)


def line_crops(planes: list[np.ndarray], box: Box) -> Iterator[Prepared]:
    """Crops of a line proposal, most likely first. With a margin Otsu separates text
    from a dark surround; in a banner it would separate banner from surround, so the
    box's inside is tried next."""
    shape = planes[0].shape
    padded = pad_box(box, max(3, box[3] // 2), shape)
    inner = pad_box(box, -2, shape)
    for part in (padded, inner):
        if part[2] >= 4 and part[3] >= LINE_MIN_H:
            plane = best_plane(planes, part)
            if measure_contrast(plane, part).passes(PROPOSAL):
                yield prepare(plane, part)


def written_words(
    planes: list[np.ndarray],
    lines: list[list[tuple[Box, Word]]],
    confirm: Callable[[Box, Word], bool] | None = None,
) -> list[Box]:
    """Image boxes of the words that count: written-looking (and confirmed), with
    enough characters read on their line."""
    found: list[Box] = []
    for line in lines:
        kept = [
            (b, w)
            for b, w in line
            if looks_written(planes, b, WRITING) and (confirm is None or confirm(b, w))
        ]
        if sum(w.legible(CHAR_CONF) for _, w in kept) >= MIN_CHARS:
            found += [b for b, _ in kept]
    return found


def _alnum_upper(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())


def reads_again(engine: OcrEngine, planes: list[np.ndarray], box: Box, word: Word) -> bool:
    """Writing reads the same when cut out and rescaled; letters seen in texture do not."""
    first = _alnum_upper(word.text)
    if word.legible(CHAR_CONF) < 2:
        return False
    padded = pad_box(box, max(3, box[3] // 2), planes[0].shape)
    prepared = prepare(best_plane(planes, padded), padded)
    again = "".join(w.text for line in engine.read(prepared.image, False) for w in line.words)
    return difflib.SequenceMatcher(None, first, _alnum_upper(again)).ratio() >= REREAD_SIMILARITY


def read_line(engine: OcrEngine, planes: list[np.ndarray], box: Box) -> list[Box]:
    """Step 2: word boxes (image coordinates) legible in a line proposal."""
    for prepared in line_crops(planes, box):
        lines = [
            [(prepared.to_image(w.box), w) for w in line.words]
            for line in engine.read(prepared.image, sparse=False)
        ]
        found = written_words(planes, lines)
        if found:
            # A proposal no taller than its text and mostly covered by it is the line or
            # its banner: mask all of it, characters tesseract dropped included.
            tallest = max(b[3] for b in found)
            covered = np.zeros(box[2], bool)
            for x, _, w, _ in found:
                covered[max(0, x - box[0]) : max(0, x - box[0] + w)] = True
            whole = box[3] <= 2.5 * tallest and covered.mean() >= 0.5
            return found + ([box] if whole else [])
    return []


def read_area(engine: OcrEngine, planes: list[np.ndarray], box: Box) -> list[Box]:
    """Step 3: word boxes (image coordinates) legible inside a textured area."""
    found: list[Box] = []
    sources = planes if len(planes) == 1 else [np.max(planes, axis=0), np.min(planes, axis=0)]
    for plane in sources:
        inverted = np.ascontiguousarray(255 - crop(plane, box))  # bright text reads dark
        lines = [
            [((w.box[0] + box[0], w.box[1] + box[1], w.box[2], w.box[3]), w) for w in line.words]
            for line in engine.read(inverted, sparse=True)
        ]
        found += written_words(planes, lines, lambda b, w: reads_again(engine, planes, b, w))
    return found


LineCache = dict[bytes, list[Box]]


def find_text(pixels: np.ndarray, engine: OcrEngine, cache: LineCache | None = None) -> list[Box]:
    """Boxes (with margin) of legible text in an 8-bit (H, W) or (H, W, 3) frame.

    ``cache`` (one per file) remembers what each line proposal read, keyed by its
    pixels: the banner of a cine loop is the same in every frame and is read once.
    """
    planes = planes_of(pixels)
    proposals = propose(planes)
    found: list[Box] = []
    for box in proposals.lines:
        if cache is None:
            found += read_line(engine, planes, box)
            continue
        key = _line_key(planes, box)
        if key not in cache:
            cache[key] = read_line(engine, planes, box)
        found += cache[key]
    for area in proposals.areas:
        found += read_area(engine, planes, area)
    margin = [pad_box(b, max(2, round(b[3] * MARGIN_FRACTION)), pixels.shape) for b in found]
    return simplify(margin)


def _line_key(planes: list[np.ndarray], box: Box) -> bytes:
    padded = pad_box(box, max(3, box[3] // 2), planes[0].shape)
    digest = hashlib.blake2b(repr(padded).encode(), digest_size=16)
    for plane in planes:
        digest.update(np.ascontiguousarray(crop(plane, padded)).tobytes())
    return digest.digest()


def simplify(boxes: list[Box]) -> list[Box]:
    """Drop boxes inside another; sorted (the record stays short and stable)."""
    unique = sorted(set(boxes))
    return [b for b in unique if not any(o != b and _inside(b, o) for o in unique)]


def _inside(a: Box, b: Box) -> bool:
    return (
        b[0] <= a[0] and b[1] <= a[1] and a[0] + a[2] <= b[0] + b[2] and a[1] + a[3] <= b[1] + b[3]
    )
