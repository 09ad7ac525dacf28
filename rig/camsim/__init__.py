"""The virtual camera: a physically motivated screen-photo simulator with exact truth.

    from rig.camsim import SimCamera, load_preset
    cam = SimCamera(load_preset("paper-lcd-iphone"), seed=7)
    photo = cam.capture(frame)          # frame: uint8 (H, W) or (H, W, 3) BGR
    photo.jpeg, photo.image, photo.truth

Condition sweeps: ``params.sample(rng)`` draws every key of the preset's
``[ranges]`` table uniformly (or pass your own ranges); ``params.with_values``
sets dotted keys (``{"pose.distance_mm": 700.0}``).
"""

from rig.camsim.geometry import project_screen_points, warp_photo_to_screen
from rig.camsim.params import CameraParams, load_preset, preset_names
from rig.camsim.simulate import Photo, SimCamera

__all__ = [
    "CameraParams",
    "Photo",
    "SimCamera",
    "load_preset",
    "preset_names",
    "project_screen_points",
    "warp_photo_to_screen",
]
