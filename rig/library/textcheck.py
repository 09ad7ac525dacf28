"""The burned-in text check of one import: which images, the mode, the engine, the verdicts.

``rig import --burned-in mask|exclude|keep``. The engine opens on the first image
that needs it and stays open for the import (tesseract's model loads once). When
it cannot open, every image at risk is refused with the reason and the install
hint (the import exits 1, "something skipped"); nothing at risk is ever recorded
as checked without having been read.
"""

from __future__ import annotations

import contextlib
import enum
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rig.errors import InputError
from rig.library.burnedin import LineCache, find_text
from rig.library.ocr import Box, OcrEngine, open_engine
from rig.library.pixelmask import FrameText, darkest_pixel


class BurnedInMode(enum.StrEnum):
    """What ``rig import --burned-in`` does with an image at risk of burned-in text."""

    MASK = "mask"  # find text by OCR, fill it with the displayed black
    EXCLUDE = "exclude"  # find text by OCR, do not import an image that has some
    KEEP = "keep"  # import as is, unchecked (needs --i-accept-burned-in-text)


# -- which images may carry burned-in text ---------------------------------------------

# Ultrasound, secondary capture and "other" (screenshots, scanned documents) carry
# text whatever BurnedInAnnotation (0028,0301) says; for the rest an absent
# attribute is no answer (issue 23: check US, SC, OT, secondary capture, YES or absent).
TEXT_MODALITIES = frozenset({"US", "SC", "OT", "XC", "ES", "DOC"})
SECONDARY_CAPTURE_PREFIX = "1.2.840.10008.5.1.4.1.1.7"  # and its .1-.4 multi-frame kinds
ULTRASOUND_SOP_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.6.1",  # US Image Storage
        "1.2.840.10008.5.1.4.1.1.3.1",  # US Multi-frame Image Storage
        "1.2.840.10008.5.1.4.1.1.6",  # retired
        "1.2.840.10008.5.1.4.1.1.3",  # retired
    }
)


@dataclass(frozen=True)
class Risk:
    """Whether an image must be checked, and why (recorded per source)."""

    at_risk: bool
    reason: str


RASTER_RISK = Risk(True, "raster image")  # screenshots and exports: no attribute to ask


def dicom_risk(modality: str, sop_class: str, burned_in_annotation: object) -> Risk:
    """Issue 23's rule: US, SC, OT, secondary capture, or BurnedInAnnotation YES / absent
    (anything but a plain NO counts as not saying)."""
    modality = modality.strip().upper()
    if modality in TEXT_MODALITIES:
        return Risk(True, f"modality {modality}")
    if sop_class.startswith(SECONDARY_CAPTURE_PREFIX):
        return Risk(True, "secondary capture")
    if sop_class in ULTRASOUND_SOP_CLASSES:
        return Risk(True, "ultrasound SOP class")
    answer = "" if burned_in_annotation is None else str(burned_in_annotation).strip().upper()
    if answer == "NO":
        return Risk(False, "BurnedInAnnotation NO")
    if answer == "YES":
        return Risk(True, "BurnedInAnnotation YES")
    if answer:
        return Risk(True, "BurnedInAnnotation neither YES nor NO")
    return Risk(True, "BurnedInAnnotation absent")


# Per-source status, also the keys of the card's counts.
NOT_AT_RISK, CLEAR, MASKED, KEPT, UNCHECKED = "not_at_risk", "clear", "masked", "kept", "unchecked"


class TextExcluded(InputError):
    """``--burned-in exclude`` and text was found: the file is not imported."""


@dataclass(frozen=True)
class TextVerdict:
    mode: BurnedInMode
    risk: Risk
    status: str  # NOT_AT_RISK | CLEAR | MASKED | KEPT
    regions: list[Box] = field(default_factory=list)  # masked, in pixels of every frame
    engine: str | None = None

    def row(self, source_id: int, checked_at: str) -> dict[str, Any]:
        """The ``burned_in`` table row for one source."""
        return {
            "source_id": source_id,
            "mode": str(self.mode),
            "at_risk": int(self.risk.at_risk),
            "reason": self.risk.reason,
            "status": self.status,
            "regions": json.dumps([list(b) for b in self.regions]),
            "engine": self.engine,
            "checked_at": checked_at,
        }


class TextChecker:
    """Holds the mode and (lazily) the OCR engine for one import."""

    def __init__(self, mode: BurnedInMode = BurnedInMode.MASK) -> None:
        self.mode = mode
        self._stack = contextlib.ExitStack()
        self._engine: OcrEngine | None = None
        self._failure: InputError | None = None
        self._lines: LineCache = {}

    def __enter__(self) -> TextChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def needs_ocr(self, risk: Risk) -> bool:
        return risk.at_risk and self.mode is not BurnedInMode.KEEP

    def engine(self) -> OcrEngine:
        if self._engine is None:
            if self._failure is not None:
                raise InputError(self._failure.message)
            try:
                self._engine = self._stack.enter_context(open_engine())
            except InputError as exc:
                self._failure = exc
                raise
        return self._engine

    def find(self, displayed: np.ndarray, frame: int) -> FrameText:
        """Text boxes in one displayed frame, and where its black is."""
        if frame == 0:
            self._lines = {}  # a new file: line readings are shared by its frames only
        engine = self.engine()
        try:
            boxes = find_text(displayed, engine, self._lines)
        except Exception as exc:  # never pass an image unread: refuse it, in one line
            raise InputError(
                f"burned-in text check failed ({type(exc).__name__}: {exc}); "
                "the file was not imported"
            ) from exc
        return FrameText(frame, boxes, darkest_pixel(displayed, boxes))

    def verdict(self, risk: Risk, found: list[FrameText], name: str) -> TextVerdict:
        """What happens to the file; raises TextExcluded in exclude mode when text was found."""
        if not risk.at_risk:
            return TextVerdict(self.mode, risk, NOT_AT_RISK)
        if self.mode is BurnedInMode.KEEP:
            return TextVerdict(self.mode, risk, KEPT)
        engine = self.engine().name
        regions = sorted({b for f in found for b in f.boxes})
        if not regions:
            return TextVerdict(self.mode, risk, CLEAR, engine=engine)
        if self.mode is BurnedInMode.EXCLUDE:
            raise TextExcluded(f"{name}: burned-in text found ({len(regions)} regions); excluded")
        return TextVerdict(self.mode, risk, MASKED, regions, engine)
