"""The operator console: controls, progress, the last pair, the event log, problem banners.

It renders session events (rig.session.events) and calls the runner's pause /
resume / stop; it never talks to devices itself. Keyboard-driven for a technician
at a tripod: Space pauses or resumes, Esc stops safely (the item in flight is
finished or left for resume, never half-stored).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QKeyEvent, QPixmap
from PyQt6.QtWidgets import (
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)  # fmt: skip

from rig.gui.qimage import to_qimage
from rig.imaging import codec
from rig.session import events as ev

BANNER_STYLES = {
    "error": "background:#b00020;color:white",
    "warn": "background:#f9a825;color:black",
    "ok": "background:#2e7d32;color:white",
}
DISK_LOW_BYTES = 2 << 30


class SessionControl(Protocol):
    def pause(self, reason: str = ...) -> None: ...
    def resume(self) -> None: ...
    def stop(self) -> None: ...


def checkerboard(a: np.ndarray, b: np.ndarray, tile_px: int = 32) -> np.ndarray:
    """Alternate tiles of two equal-size images: misalignment shows as broken edges."""
    yy, xx = np.indices(a.shape[:2])
    pick = ((yy // tile_px + xx // tile_px) % 2).astype(bool)
    if a.ndim == 3:
        pick = pick[..., None]
    return np.where(pick, a, b)


class OperatorConsole(QMainWindow):
    def __init__(
        self, project_root: Path | None = None, load_object: Callable[[str], bytes] | None = None
    ) -> None:
        super().__init__()
        self.setWindowTitle("rig — operator console")
        self.project_root = project_root
        self.load_object = load_object
        self.control: SessionControl | None = None
        self.paused = False
        self._truth: np.ndarray | None = None
        self._build()

    # -- layout -----------------------------------------------------------------------
    def _build(self) -> None:
        root = QWidget()
        outer = QVBoxLayout(root)
        self.banner = QLabel("")
        self.banner.setVisible(False)
        self.banner.setWordWrap(True)
        outer.addWidget(self.banner)
        row = QHBoxLayout()
        outer.addLayout(row, stretch=1)
        row.addWidget(self._controls())
        row.addWidget(self._pair_view(), stretch=1)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)
        outer.addWidget(self.log)
        self.setCentralWidget(root)

    def _controls(self) -> QWidget:
        box = QWidget()
        form = QFormLayout(box)
        self.camera = QLineEdit("sim")
        self.sources = QLineEdit("all")
        form.addRow("camera", self.camera)
        form.addRow("sources", self.sources)
        self.conditions: dict[str, QLineEdit] = {}
        for key in (
            "room_light",
            "blinds",
            "monitor_model",
            "phone_model",
            "orientation",
            "distance_mm",
            "notes",
        ):
            self.conditions[key] = QLineEdit()
            form.addRow(key.replace("_", " "), self.conditions[key])
        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause (Space)")
        self.stop_button = QPushButton("Stop (Esc)")
        self.pause_button.clicked.connect(self.toggle_pause)
        self.stop_button.clicked.connect(self.stop)
        for b in (self.start_button, self.pause_button, self.stop_button):
            buttons.addWidget(b)
        form.addRow(buttons)
        self.progress = QProgressBar()
        self.rate = QLabel("–")
        form.addRow(self.progress)
        form.addRow("rate / ETA", self.rate)
        return box

    def _pair_view(self) -> QWidget:
        box = QWidget()
        grid = QGridLayout(box)
        self.photo_view, self.overlay_view, self.truth_view = QLabel(), QLabel(), QLabel()
        for col, (title, view) in enumerate(
            (
                ("last photo", self.photo_view),
                ("aligned ▦ ground truth", self.overlay_view),
                ("ground truth", self.truth_view),
            )
        ):
            grid.addWidget(QLabel(title), 0, col)
            view.setMinimumSize(240, 240)
            view.setAlignment(Qt.AlignmentFlag.AlignCenter)
            grid.addWidget(view, 1, col)
        self.quality = QLabel("")
        grid.addWidget(self.quality, 2, 0, 1, 3)
        return box

    # -- operator input ---------------------------------------------------------------
    def bind(self, control: SessionControl) -> None:
        self.control = control

    def keyPressEvent(self, event: QKeyEvent | None) -> None:
        if event is not None and event.key() == Qt.Key.Key_Space:
            self.toggle_pause()
        elif event is not None and event.key() == Qt.Key.Key_Escape:
            self.stop()
        else:
            super().keyPressEvent(event)

    def toggle_pause(self) -> None:
        if self.control is None:
            return
        if self.paused:
            self.control.resume()
        else:
            self.control.pause("paused by operator")

    def stop(self) -> None:
        if self.control is not None:
            self.control.stop()
            self.show_banner(
                "stopping after the photo in flight; resume later with 'rig session resume'", "warn"
            )

    def condition_values(self) -> dict[str, str]:
        return {k: w.text().strip() for k, w in self.conditions.items() if w.text().strip()}

    # -- events -----------------------------------------------------------------------
    def show_banner(self, text: str, level: str = "error") -> None:
        self.banner.setText(text)
        self.banner.setStyleSheet(BANNER_STYLES[level] + ";padding:8px;font-weight:bold")
        self.banner.setVisible(True)

    def on_event(self, event: ev.SessionEvent) -> None:
        self.log.appendPlainText(_describe(event))
        handler = getattr(self, f"_on_{event.kind}", None)
        if handler is not None:
            handler(event)
        self._check_disk()

    def _on_SessionPaused(self, event: ev.SessionPaused) -> None:
        self.paused = True
        self.show_banner(f"PAUSED — {event.reason}. Press Space to resume.", "warn")

    def _on_SessionResumed(self, _event: ev.SessionResumed) -> None:
        self.paused = False
        self.banner.setVisible(False)

    def _on_CameraLost(self, event: ev.CameraLost) -> None:
        self.show_banner(
            f"PHONE LOST at item {event.idx}: {event.reason}. Check the phone app and Wi-Fi."
        )

    def _on_CaptureFailed(self, event: ev.CaptureFailed) -> None:
        self.show_banner(f"CAMERA FAILED at item {event.idx}: {event.reason}")

    def _on_CaptureRejected(self, event: ev.CaptureRejected) -> None:
        if "moved" in event.reason:
            self.show_banner(f"RIG MOVED: {event.reason}. Recalibrating.", "warn")

    def _on_Progressed(self, event: ev.Progressed) -> None:
        self.progress.setMaximum(max(event.total, 1))
        self.progress.setValue(event.verified)
        eta = f"{event.eta_s / 60:.1f} min" if event.eta_s is not None else "–"
        self.rate.setText(f"{event.rate_per_h:.0f} pairs/h · ETA {eta}")

    def _on_ItemShown(self, event: ev.ItemShown) -> None:
        self.progress.setFormat(f"%v / %m  (showing item {event.idx}, attempt {event.attempt})")

    def _on_CaptureStored(self, event: ev.CaptureStored) -> None:
        image = self._load(event.sha256)
        if image is not None:
            self._set(self.photo_view, image)

    def _on_CaptureVerified(self, event: ev.CaptureVerified) -> None:
        self.banner.setVisible(False) if not self.paused else None
        figures = [f"item {event.idx}"]
        if event.psnr_db is not None:
            figures.append(f"PSNR {event.psnr_db:.1f} dB")
        if event.ssim is not None:
            figures.append(f"SSIM {event.ssim:.3f}")
        if event.reproj_err_px is not None:
            figures.append(f"marker error {event.reproj_err_px:.2f} px")
        self.quality.setText(" · ".join(figures))
        aligned = self._load(event.aligned_sha256) if event.aligned_sha256 else None
        if aligned is not None and self._truth is not None and aligned.shape == self._truth.shape:
            self._set(self.overlay_view, checkerboard(aligned, self._truth))

    def set_truth(self, truth: np.ndarray) -> None:
        self._truth = truth
        self._set(self.truth_view, truth)

    def _on_SessionFinished(self, event: ev.SessionFinished) -> None:
        rec = event.reconciliation
        level = "ok" if rec.clean else "error"
        self.show_banner(
            f"session {event.state}: {rec.verified} of {rec.items} items verified"
            + ("" if rec.clean else f"; problems: {rec.problems}"),
            level,
        )

    def _load(self, sha: str | None) -> np.ndarray | None:
        if not sha or self.load_object is None:
            return None
        return codec.try_decode(self.load_object(sha))

    def _set(self, view: QLabel, image: np.ndarray) -> None:
        pixmap = QPixmap.fromImage(to_qimage(image))
        view.setPixmap(
            pixmap.scaled(
                view.size(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )

    def _check_disk(self) -> None:
        if self.project_root is None:
            return
        free = shutil.disk_usage(self.project_root).free
        if free < DISK_LOW_BYTES:
            self.show_banner(
                f"DISK NEARLY FULL: {free / 2**30:.1f} GiB left under {self.project_root}", "warn"
            )


def _describe(event: ev.SessionEvent) -> str:
    data: dict[str, Any] = {
        k: v for k, v in event.to_dict().items() if k not in ("kind", "session_id", "ts")
    }
    shown = {
        k: (f"{v:.3g}" if isinstance(v, float) else v)
        for k, v in data.items()
        if v is not None and not k.endswith(("sha256", "_at"))
    }
    return f"{event.kind} " + " ".join(f"{k}={v}" for k, v in shown.items())
