"""The oracle: Debian's tesseract command line, not rig's detector, reads an image.

It reads a whole page (tesseract's own layout analysis, ``--psm 11``) of several
preprocessings stacked into one mosaic (one process per image): the image as is,
its inverted luma, the inverted darkest channel (white on a colour), and the
inverted luma scaled 2x (small fonts). A needle is legible when its letters and
digits appear in what it read. Tests show first that the oracle reads every needle
in the unmasked images, so that "reads none after masking" can fail.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest

TESSERACT = shutil.which("tesseract")
needs_tesseract = pytest.mark.skipif(
    TESSERACT is None, reason="Debian's tesseract-ocr is not installed (scripts/test installs it)"
)


def _normal(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())


def variants(image: np.ndarray, upscale: bool = True) -> list[np.ndarray]:
    """Grey 8-bit views of ``image`` that make white-on-colour and small text readable."""
    luma = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    views = [luma, 255 - luma]
    if image.ndim == 3:
        views.append(255 - image.min(axis=2))
    if upscale:
        views.append(cv2.resize(255 - luma, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC))
    return views


def mosaic(views: list[np.ndarray], gap: int = 24) -> np.ndarray:
    width = max(v.shape[1] for v in views)
    rows = []
    for view in views:
        pad = np.full((view.shape[0] + gap, width), 255, np.uint8)
        pad[: view.shape[0], : view.shape[1]] = view
        rows.append(pad)
    return np.vstack(rows)


def read_all(image: np.ndarray, upscale: bool = True) -> str:
    """Everything the tesseract CLI reads in the views of ``image``, normalised."""
    assert TESSERACT is not None
    with tempfile.TemporaryDirectory(prefix="rig-oracle-") as tmp:
        path = Path(tmp) / "page.png"
        cv2.imwrite(str(path), mosaic(variants(image, upscale)))
        out = subprocess.run(
            [TESSERACT, str(path), "stdout", "--psm", "11"],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
    return _normal(out.stdout)


def legible(image: np.ndarray, needles: tuple[str, ...], upscale: bool = True) -> set[str]:
    """The needles the oracle can read in ``image``."""
    text = read_all(image, upscale)
    return {n for n in needles if _normal(n) in text}


def load(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert image is not None, path
    return image[..., ::-1].copy() if image.ndim == 3 else image
