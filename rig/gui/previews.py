"""The console's view of the last verdict: photo, aligned ▦ ground truth, ground truth.

All three always show the same item and attempt — the one the last verdict was about
— read together from the database when the verdict arrives. (Updating each view on
its own event showed the photo of one item next to the ground truth of the next,
because the runner shows item i+1 while item i is still being registered.)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QPixmap, QResizeEvent
from PyQt6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QWidget

from rig.gui.catalog import ItemObjects
from rig.gui.qimage import to_qimage
from rig.imaging import codec
from rig.session import events as ev

Lookup = Callable[[str, int, int], ItemObjects]  # (session, idx, attempt) → content hashes
Loader = Callable[[str], bytes]  # content hash → bytes


def checkerboard(a: np.ndarray, b: np.ndarray, tile_px: int = 32) -> np.ndarray:
    """Alternate tiles of two equal-size images: misalignment shows as broken edges."""
    yy, xx = np.indices(a.shape[:2])
    pick = ((yy // tile_px + xx // tile_px) % 2).astype(bool)
    if a.ndim == 3:
        pick = pick[..., None]
    return np.where(pick, a, b)


class ImageView(QLabel):
    """Shows an image scaled to fit (aspect kept), or a short text when there is none."""

    def __init__(self) -> None:
        super().__init__("—")
        self.setMinimumSize(220, 220)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setStyleSheet("background:#222;color:#bbb")
        self.image: np.ndarray | None = None

    def set_image(self, image: np.ndarray | None, placeholder: str = "—") -> None:
        self.image = image
        if image is None:
            self.clear()
            self.setText(placeholder)
        else:
            self._rescale()

    def resizeEvent(self, event: QResizeEvent | None) -> None:
        super().resizeEvent(event)
        if self.image is not None:
            self._rescale()

    def _rescale(self) -> None:
        assert self.image is not None
        pixmap = QPixmap.fromImage(to_qimage(self.image))
        self.setPixmap(
            pixmap.scaled(
                self.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )


class PreviewPanel(QWidget):
    def __init__(self, lookup: Lookup | None = None, load: Loader | None = None) -> None:
        super().__init__()
        self.lookup, self.load = lookup, load
        grid = QGridLayout(self)
        self.caption = QLabel("No photo yet.")
        self.caption.setStyleSheet("font-weight:bold")
        grid.addWidget(self.caption, 0, 0, 1, 3)
        self.photo_view, self.overlay_view, self.truth_view = ImageView(), ImageView(), ImageView()
        titles = ("photo", "aligned ▦ ground truth", "ground truth")
        views = (self.photo_view, self.overlay_view, self.truth_view)
        for col, (title, view) in enumerate(zip(titles, views, strict=True)):
            grid.addWidget(QLabel(title), 1, col)
            grid.addWidget(view, 2, col)
        grid.setRowStretch(2, 1)
        self.shown: tuple[int, int] | None = None  # (idx, attempt) on display

    def clear(self) -> None:
        for view in (self.photo_view, self.overlay_view, self.truth_view):
            view.set_image(None)
        self.caption.setText("No photo yet.")
        self.shown = None

    def on_event(self, event: ev.SessionEvent) -> None:
        if isinstance(event, ev.CaptureVerified):
            figures = [
                f"PSNR {event.psnr_db:.1f} dB" if event.psnr_db is not None else "",
                f"SSIM {event.ssim:.3f}" if event.ssim is not None else "",
                f"marker error {event.reproj_err_px:.2f} px"
                if event.reproj_err_px is not None
                else "",
            ]
            verdict = " · ".join(["verified", *[f for f in figures if f]])
            self.show_item(event.session_id, event.idx, event.attempt, verdict)
        elif isinstance(event, ev.CaptureRejected):
            self.show_item(event.session_id, event.idx, event.attempt, f"rejected: {event.reason}")

    def show_item(self, session_id: str, idx: int, attempt: int, verdict: str) -> None:
        """Photo, overlay and ground truth of one item and attempt, all at once."""
        found = self.lookup(session_id, idx, attempt) if self.lookup else None
        photo = self._decode(found.photo if found else None)
        truth = self._decode(found.truth if found else None)
        aligned = self._decode(found.aligned if found else None)
        overlay = (
            checkerboard(aligned, truth)
            if aligned is not None and truth is not None and aligned.shape == truth.shape
            else None
        )
        self.photo_view.set_image(photo, "no photo")
        self.overlay_view.set_image(overlay, "not aligned")
        self.truth_view.set_image(truth, "no ground truth")
        self.caption.setText(f"Item {idx}, attempt {attempt}: {verdict}")
        self.shown = (idx, attempt)

    def _decode(self, sha: str | None) -> np.ndarray | None:
        if not sha or self.load is None:
            return None
        image = codec.try_decode(self.load(sha))  # OpenCV order (BGR), as to_qimage takes it
        if image is None:
            return None
        if image.dtype != np.uint8:  # 16-bit PNGs: show the top byte
            image = (image // 256).astype(np.uint8)
        return image[..., :3] if image.ndim == 3 else image
