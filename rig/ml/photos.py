"""Photos as inputs to a trained model (``rig restore``, ``rig classify``): registered
photos are used as they are; a raw photo of a rig screen (its fiducial border visible)
is registered to the screen frame it shows first, and refused with a clear message when
that frame is not given or the registration fails — a model fed the whole screen photo
(border, bezel, room) would answer about the wrong pixels without a word.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from rig.errors import InputError


def shows_fiducials(gray: np.ndarray) -> bool:
    """Whether ``gray`` shows enough of rig's fiducial border to be a raw screen photo."""
    from calibration.fiducials import FiducialLayout
    from calibration.markers import detect_markers
    from calibration.registration import MIN_MARKERS

    return len(detect_markers(gray, FiducialLayout())) >= MIN_MARKERS


def registered_to_frame(photo_path: Path, frame_path: Path) -> np.ndarray:
    """The photo registered to the image area of the screen frame it shows, 8-bit grey
    (markers, frame code and placement come from the frame's ``rig-frame`` metadata)."""
    from calibration.registration import register_photo
    from rig.imaging.screen import read_photo
    from rig.registration import read_frame_file

    frame = read_frame_file(frame_path)
    reg = register_photo(read_photo(photo_path), frame.pixels, frame.layout(), area=frame.area)
    if not reg.result.accepted or reg.aligned is None:
        raise InputError(f"{photo_path}: not registered to {frame_path.name}: {reg.result.reason}")
    aligned = reg.aligned
    return aligned if aligned.ndim == 2 else cv2.cvtColor(aligned, cv2.COLOR_BGR2GRAY)


def read_photo_input(path: Path, frame: Path | None) -> tuple[np.ndarray, bool]:
    """(8-bit grey registered photo, whether rig registered it here) for one photo file."""
    if frame is not None:
        return registered_to_frame(path, frame), True
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise InputError(f"{path}: missing or not a readable image")
    if shows_fiducials(image):
        raise InputError(f"{path}: an unregistered photo of a rig screen (fiducial border found); "
                         "give --frame FRAME.png (the frame it shows) to register it first")
    return np.asarray(image, np.uint8), False
