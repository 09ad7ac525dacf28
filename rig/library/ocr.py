"""OCR engine: tesseract, in-process through tesserocr, reading words with per-character confidence.

The only module that touches the OCR library; rig.library.burnedin decides what
to read and what the readings mean. The English model comes from Debian's
``tesseract-ocr-eng`` (or ``$TESSDATA_PREFIX``); without it, or without tesserocr,
``open_engine`` raises an InputError naming the fix, so that no image at risk of
burned-in text is ever passed as checked.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rig.errors import InputError

Box = tuple[int, int, int, int]  # x, y, width, height in pixels

INSTALL_HINT = (
    "install tesseract (apt-get install tesseract-ocr tesseract-ocr-eng; "
    "pip install tesserocr), or import with --burned-in keep --i-accept-burned-in-text"
)

TESSDATA_DIRS = (
    "/usr/share/tesseract-ocr/5/tessdata",  # Debian / Ubuntu: tesseract-ocr-eng
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",  # Fedora
    "/usr/local/share/tessdata",
    "/opt/homebrew/share/tessdata",  # macOS
)


@dataclass(frozen=True)
class Word:
    box: Box  # in the image given to the engine
    text: str
    confidences: tuple[float, ...]  # one per character, 0-100

    def legible(self, min_conf: float) -> int:
        """Letters and digits read with at least ``min_conf`` confidence."""
        pairs = zip(self.text, self.confidences, strict=False)
        return sum(conf >= min_conf for char, conf in pairs if char.isalnum())


@dataclass(frozen=True)
class TextLine:
    """One line as tesseract segmented it."""

    words: tuple[Word, ...]

    def legible(self, min_conf: float) -> int:
        return sum(word.legible(min_conf) for word in self.words)


class OcrEngine(Protocol):
    """Reads an 8-bit grey image with dark text on a light background."""

    name: str

    def read(self, image: np.ndarray, sparse: bool) -> list[TextLine]:
        """``sparse``: find text anywhere (a textured area); else read a block (a line crop)."""
        ...


def find_tessdata() -> Path | None:
    """The folder holding eng.traineddata. $TESSDATA_PREFIX, when set, is the only place
    looked at (as tesseract itself does); else the distributions' usual places."""
    env = os.environ.get("TESSDATA_PREFIX")
    candidates = [Path(env), Path(env) / "tessdata"] if env else [Path(p) for p in TESSDATA_DIRS]
    return next((p for p in candidates if (p / "eng.traineddata").is_file()), None)


class TesseractEngine:
    """tesseract through tesserocr: the model loads once, each read is a C call (~5 ms a line).

    Character confidences are used, not word confidences: tesseract's word
    confidence punishes words outside its dictionary, so an id reads 99% per digit
    and 0% as a word.
    """

    def __init__(self, tessdata: Path) -> None:
        self.tessdata = tessdata
        self.name = "tesseract"
        self._apis: dict[bool, Any] = {}

    def open(self) -> None:
        import tesserocr

        self.name = "tesseract " + str(tesserocr.tesseract_version()).split()[1]
        for sparse, psm in ((False, tesserocr.PSM.SINGLE_BLOCK), (True, tesserocr.PSM.SPARSE_TEXT)):
            self._apis[sparse] = tesserocr.PyTessBaseAPI(
                path=str(self.tessdata) + os.sep, lang="eng", psm=psm
            )

    def close(self) -> None:
        for api in self._apis.values():
            api.End()
        self._apis.clear()

    def read(self, image: np.ndarray, sparse: bool) -> list[TextLine]:
        import tesserocr
        from PIL import Image

        api = self._apis[sparse]
        api.SetImage(Image.fromarray(np.ascontiguousarray(image)))
        api.Recognize()
        it = api.GetIterator()
        symbol, word, line = tesserocr.RIL.SYMBOL, tesserocr.RIL.WORD, tesserocr.RIL.TEXTLINE
        lines: list[list[Word]] = []
        chars: list[str] = []
        confs: list[float] = []
        box: Box = (0, 0, 0, 0)
        while it is not None and not it.Empty(symbol):
            if it.IsAtBeginningOf(word):
                if chars:
                    lines[-1].append(Word(box, "".join(chars), tuple(confs)))
                if it.IsAtBeginningOf(line) or not lines:
                    lines.append([])
                chars, confs = [], []
                x0, y0, x1, y1 = it.BoundingBox(word)
                box = (x0, y0, x1 - x0, y1 - y0)
            chars.append((it.GetUTF8Text(symbol) or " ")[:1])
            confs.append(float(it.Confidence(symbol)))
            if not it.Next(symbol):
                break
        if chars:
            lines[-1].append(Word(box, "".join(chars), tuple(confs)))
        return [TextLine(tuple(words)) for words in lines if words]


@contextmanager
def open_engine() -> Iterator[OcrEngine]:
    """The OCR engine for one import; raises InputError with the install hint when missing."""
    try:
        import tesserocr  # noqa: F401
    except ImportError as exc:
        raise InputError(f"burned-in text check needs tesseract: {INSTALL_HINT}") from exc
    tessdata = find_tessdata()
    if tessdata is None:
        raise InputError(f"burned-in text check needs tesseract's English model: {INSTALL_HINT}")
    engine = TesseractEngine(tessdata)
    try:
        engine.open()
    except (
        RuntimeError
    ) as exc:  # tesserocr: "Failed to init API, possibly an invalid tessdata path"
        raise InputError(
            f"burned-in text check: tesseract failed to start ({exc}): {INSTALL_HINT}"
        ) from exc
    try:
        yield engine
    finally:
        engine.close()
