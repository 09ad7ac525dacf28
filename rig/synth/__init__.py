"""CheXphoto's synthetic photographic transformations, reimplemented (see docs/synth.md).

Library use::

    from rig.synth import apply_transform, TRANSFORMS
    out, params = apply_transform(image, "tilt", 2, np.random.default_rng(0))
    params["H"]  # 3×3, input → output pixel centres (OpenCV convention)
"""

from __future__ import annotations

from rig.synth.registry import (
    LEVELS,
    REFERENCE_LONG_SIDE_PX,
    TRANSFORMS,
    TransformSpec,
    apply_chain,
    apply_transform,
    image_seed,
    resolution_scale,
    step_rng,
)

__all__ = [
    "LEVELS",
    "REFERENCE_LONG_SIDE_PX",
    "TRANSFORMS",
    "TransformSpec",
    "apply_chain",
    "apply_transform",
    "image_seed",
    "resolution_scale",
    "step_rng",
]
