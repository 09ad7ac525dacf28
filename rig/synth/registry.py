"""The registry of transforms, the library entry point and chaining.

``apply_transform(image, name, level, rng, scale)`` is what augmentation code
calls; ``apply_chain`` is what the CLI calls per image (one child generator per
chain step, all derived from the image seed, so a result depends only on the
base seed, the image's relative path, the chain and the level).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rig.errors import InputError, UsageError
from rig.synth import geometry, overlays, photometric

TransformFn = Callable[
    [np.ndarray, int, np.random.Generator, float], tuple[np.ndarray, dict[str, Any]]
]

LEVELS = (1, 2, 3, 4)
MAX_CHAIN = 3
# Pixel-sized parameters were tuned on full-resolution CheXpert radiographs
# (typically 2320 × 2828); see docs/synth.md, "Reference resolution".
REFERENCE_LONG_SIDE_PX = 2828


@dataclass(frozen=True)
class TransformSpec:
    """One published transform: its function and whether it moves pixels."""

    fn: TransformFn
    geometric: bool
    summary: str


TRANSFORMS: dict[str, TransformSpec] = {
    "identity": TransformSpec(photometric.identity, False, "no change"),
    "brightness_up": TransformSpec(
        photometric.brightness_up, False, "PIL brightness ×(1+0.2k±0.01)"
    ),
    "brightness_down": TransformSpec(
        photometric.brightness_down, False, "PIL brightness ×1/(1+0.4k±0.01)"
    ),
    "contrast_up": TransformSpec(photometric.contrast_up, False, "PIL contrast ×(1+0.2k±0.01)"),
    "contrast_down": TransformSpec(
        photometric.contrast_down, False, "PIL contrast ×1/(1+0.4k±0.01)"
    ),
    "random-digital": TransformSpec(
        photometric.random_digital, False, "random contrast up/down, then brightness up/down"
    ),
    "exposure": TransformSpec(photometric.exposure, False, "sigmoid, cutoff 0.5, gain 5"),
    "blur": TransformSpec(photometric.blur, False, "Gaussian σ 1.5/3/6/10 px"),
    "motion": TransformSpec(photometric.motion, False, "horizontal box 2/10/25/45 px"),
    "glare_matte": TransformSpec(overlays.glare_matte, False, "white Gaussian glare, σ 50·L px"),
    "glare_glossy": TransformSpec(overlays.glare_glossy, False, "white rectangle, 9 positions"),
    "moire": TransformSpec(overlays.moire, False, "two fanned line masks at ~90°"),
    "tilt": TransformSpec(geometry.tilt, True, "corners inward by U(0, 0.05·L), perspective"),
    "rotation": TransformSpec(geometry.rotation, True, "±5·L°, expanded black canvas"),
    "translation": TransformSpec(geometry.translation, True, "100 px inset quad shifted ±20·L px"),
}


def check_transform_name(name: str) -> TransformSpec:
    """The spec of ``name``, or a UsageError listing the valid names."""
    try:
        return TRANSFORMS[name]
    except KeyError:
        valid = ", ".join(sorted(TRANSFORMS))
        raise UsageError(f"unknown transform '{name}'; valid: {valid}") from None


def check_level(level: int) -> None:
    if level not in LEVELS:
        raise UsageError(f"level {level} is out of range; use 1, 2, 3 or 4")


def check_image(image: np.ndarray) -> None:
    """Accept 8-bit grayscale (H, W) or RGB (H, W, 3) only."""
    if image.dtype != np.uint8 or not (
        image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)
    ):
        raise InputError(
            f"image of dtype {image.dtype} and shape {image.shape} is not supported; "
            "give 8-bit grayscale (H, W) or RGB (H, W, 3)"
        )


def apply_transform(
    image: np.ndarray, name: str, level: int, rng: np.random.Generator, scale: float = 1.0
) -> tuple[np.ndarray, dict[str, Any]]:
    """Apply one published transform; returns the image and its drawn parameters.

    The dict always has ``H`` (3×3 float64 ndarray, input→output pixel centres;
    identity for photometric transforms unless they shift content).
    """
    spec = check_transform_name(name)
    check_level(level)
    check_image(image)
    out, params = spec.fn(np.ascontiguousarray(image), level, rng, scale)
    params.setdefault("H", np.eye(3))
    params["scale"] = scale
    return out, params


def image_seed(base_seed: int, relative_path: str) -> int:
    """A 64-bit seed from the run's seed and the image's relative path (POSIX form)."""
    digest = hashlib.sha256(f"{base_seed}\0{relative_path}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def step_rng(seed: int, step: int) -> np.random.Generator:
    """The generator of chain step ``step`` (0-based) for an image seed."""
    return np.random.default_rng([seed, step])


def apply_chain(
    image: np.ndarray, names: Sequence[str], level: int, seed: int, scale: float = 1.0
) -> tuple[np.ndarray, list[dict[str, Any]], np.ndarray]:
    """Apply up to three transforms in order; returns image, per-step records, composed H."""
    if not 1 <= len(names) <= MAX_CHAIN:
        raise UsageError(f"give 1 to {MAX_CHAIN} transforms, not {len(names)}")
    steps: list[dict[str, Any]] = []
    h_total = np.eye(3)
    out = image
    for k, name in enumerate(names):
        in_h, in_w = out.shape[:2]
        out, params = apply_transform(out, name, level, step_rng(seed, k), scale)
        h_total = params["H"] @ h_total
        steps.append(
            {
                "transform": name,
                "level": level,
                "step": k,
                "input_size_wh": [in_w, in_h],
                "output_size_wh": [out.shape[1], out.shape[0]],
                "params": params,
            }
        )
    return out, steps, h_total / h_total[2, 2]


def resolution_scale(width: int, height: int) -> float:
    """Scale of pixel-sized parameters for an image of this size (long side / reference)."""
    return max(width, height) / REFERENCE_LONG_SIDE_PX
