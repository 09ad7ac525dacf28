"""The console's plan form: pickers that list what exists, and the capture conditions.

Every picker is an editable combo box filled from rig.gui.catalog, so the common
choices are one click away and anything else (``usb:/dev/video4?width=3840``,
``ids:3,7-9``) can still be typed. Mnemonics (Alt+C camera, Alt+S sources, Alt+L
limit …) let a technician fill it from the keyboard.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PyQt6.QtWidgets import QComboBox, QFormLayout, QLabel, QLineEdit, QSpinBox, QWidget

from rig.gui.catalog import Choice
from rig.session.plan import CONDITION_KEYS, split_camera

NO_PRESET = "none"  # the simulated phone sends the tapped frame without a camera model


@dataclass(frozen=True)
class PlanFields:
    """What the operator chose; the app turns it into a CapturePlan."""

    camera: str
    sources: str
    placement: str
    limit: int | None
    conditions: dict[str, str] = field(default_factory=dict)


def camera_with_preset(camera: str, preset: str) -> str:
    """``sim`` + preset → ``sim?preset=P``; other cameras (and typed queries) unchanged."""
    base, query = split_camera(camera)
    if base != "sim" or "preset" in query or not preset:
        return camera
    return f"{camera}{'&' if '?' in camera else '?'}preset={preset}"


class PlanForm(QWidget):
    def __init__(self) -> None:
        super().__init__()
        form = QFormLayout(self)
        self.camera = _picker()
        self.preset = QComboBox()
        self.sources = _picker()
        self.placement = QComboBox()
        self.limit = QSpinBox()
        self.limit.setRange(0, 1_000_000)
        self.limit.setSpecialValueText("no limit")
        self.camera.currentTextChanged.connect(self._camera_changed)
        for label, widget in (
            ("&Camera", self.camera),
            ("Phone &preset", self.preset),
            ("&Sources", self.sources),
            ("Place&ment", self.placement),
            ("&Limit", self.limit),
        ):
            form.addRow(_buddy(label, widget), widget)
        self.conditions: dict[str, QLineEdit] = {}
        for key in CONDITION_KEYS:
            self.conditions[key] = QLineEdit()
            form.addRow(key.replace("_", " "), self.conditions[key])

    def set_choices(
        self,
        cameras: list[Choice],
        presets: list[str],
        sources: list[Choice],
        placements: list[str],
        default_placement: str,
        default_preset: str,
    ) -> None:
        """Refill the lists; what the operator already chose or typed is kept."""
        _fill(self.camera, cameras)
        _fill(self.sources, sources)
        _refill(self.preset, [*presets, NO_PRESET], default_preset)
        _refill(self.placement, placements, default_placement)
        self._camera_changed(self.camera.currentText())

    def fields(self) -> PlanFields:
        camera = _value(self.camera) or "sim"
        return PlanFields(
            camera=camera_with_preset(camera, self.preset.currentText()),
            sources=_value(self.sources) or "all",
            placement=self.placement.currentText(),
            limit=self.limit.value() or None,
            conditions={
                k: w.text().strip() for k, w in self.conditions.items() if w.text().strip()
            },
        )

    def _camera_changed(self, _text: str) -> None:
        base, query = split_camera(_value(self.camera))
        self.preset.setEnabled(base == "sim" and "preset" not in query)


def _picker() -> QComboBox:
    box = QComboBox()
    box.setEditable(True)
    box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
    box.setMinimumContentsLength(24)
    box.activated.connect(lambda i: box.setEditText(str(box.itemData(i))))
    return box


def _fill(box: QComboBox, choices: list[Choice]) -> None:
    """Items show the label; the edit line shows (and returns) the value itself."""
    typed = _value(box)
    box.clear()
    for choice in choices:
        box.addItem(choice.label, choice.value)
    box.setEditText(typed or (choices[0].value if choices else ""))


def _refill(box: QComboBox, items: list[str], default: str) -> None:
    chosen = box.currentText()
    box.clear()
    box.addItems(items)
    if items:
        box.setCurrentText(chosen if chosen in items else default if default in items else items[0])


def _value(box: QComboBox) -> str:
    """The typed text, or the value of the chosen item when the text is its label."""
    text = box.currentText().strip()
    index = box.findText(text)
    return str(box.itemData(index)) if index >= 0 else text


def _buddy(text: str, widget: QWidget) -> QLabel:
    label = QLabel(text)
    label.setBuddy(widget)
    return label
