"""Geometric transforms of the CheXphoto set: tilt, rotation, translation.

Every transform here is defined by a 3×3 homography ``H`` that maps *input*
pixel coordinates to *output* pixel coordinates in the OpenCV convention
(pixel centres at integer coordinates, x right, y down). The image is warped
with exactly that ``H`` so the sidecar can be trusted for registration tests.

The original scripts built tilt and translation with PIL's
``Image.transform(PERSPECTIVE)``, whose coefficients map *output* points to
*input* points in PIL's pixel-*edge* convention (pixel centres at +0.5). We
keep their geometry (same corner correspondences) and convert once:
``H_centre = T(-0.5) · H_edge · T(+0.5)``.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from rig.errors import InputError

# Published constants (cheXphoto tilt.py / rotation.py / translation.py).
TILT_FRACTION_PER_LEVEL = 0.05  # each corner moves inward by U(0, 0.05·L) of the size
ROTATION_DEG_PER_LEVEL = 5.0  # exactly ±5·L degrees, sign from a coin flip
TRANSLATION_BUFFER_PX = 100.0  # inset of the target quad on every side (reference pixels)
TRANSLATION_PX_PER_LEVEL = 20.0  # shift of the quad, ±20·L px per axis (reference pixels)


def translation_matrix(tx: float, ty: float) -> np.ndarray:
    """3×3 homography of a pure translation."""
    return np.array([[1.0, 0.0, tx], [0.0, 1.0, ty], [0.0, 0.0, 1.0]])


def edge_to_centre(h_edge: np.ndarray) -> np.ndarray:
    """Convert a homography between pixel-edge coordinates to pixel-centre coordinates."""
    return translation_matrix(-0.5, -0.5) @ h_edge @ translation_matrix(0.5, 0.5)


def frame_to_quad(width: int, height: int, quad_edge: np.ndarray) -> np.ndarray:
    """Homography (centre convention) taking the image frame's corners onto ``quad_edge``.

    ``quad_edge`` is (4, 2): where the frame corners TL, TR, BR, BL land, in
    edge coordinates (the frame's own corners are (0,0), (w,0), (w,h), (0,h)).
    """
    frame = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float64)
    h_edge = cv2.getPerspectiveTransform(frame.astype(np.float32), quad_edge.astype(np.float32))
    # getPerspectiveTransform works in float32; refine in float64 with a DLT solve.
    h_edge = _solve_homography(frame, np.asarray(quad_edge, dtype=np.float64), h_edge)
    return edge_to_centre(h_edge)


def _solve_homography(src: np.ndarray, dst: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Exact 4-point homography in float64 (h33 = 1)."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.extend([u, v])
    try:
        sol = np.linalg.solve(np.array(rows), np.array(rhs))
    except np.linalg.LinAlgError:
        return np.asarray(fallback, dtype=np.float64)
    return np.append(sol, 1.0).reshape(3, 3)


def warp(image: np.ndarray, h: np.ndarray, size_wh: tuple[int, int], flags: int) -> np.ndarray:
    """Warp ``image`` so that input pixel p lands at ``h·p``; black outside the source."""
    return cv2.warpPerspective(
        image, h, size_wh, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )


def tilt(
    image: np.ndarray, level: int, rng: np.random.Generator, scale: float = 1.0
) -> tuple[np.ndarray, dict[str, Any]]:
    """Perspective 'tilt': the frame's corners move inward by U(0, 0.05·L) of the size.

    As in the original, the whole input frame is squeezed into the inner
    quadrilateral (black wedges appear at the border); the output keeps the
    input size. Fractions are relative, so ``scale`` does not apply.
    """
    height, width = image.shape[:2]
    degree = TILT_FRACTION_PER_LEVEL * level
    # Inward fraction per corner and axis, TL, TR, BR, BL; (4, 2) as (fx, fy).
    inset = rng.uniform(0.0, degree, size=(4, 2))
    sign_x = np.array([0, 1, 1, 0])
    sign_y = np.array([0, 0, 1, 1])
    quad = np.empty((4, 2))
    quad[:, 0] = np.where(sign_x == 0, inset[:, 0] * width, width * (1.0 - inset[:, 0]))
    quad[:, 1] = np.where(sign_y == 0, inset[:, 1] * height, height * (1.0 - inset[:, 1]))
    h = frame_to_quad(width, height, quad)
    out = warp(image, h, (width, height), cv2.INTER_CUBIC)
    params = {"inset_frac": inset.tolist(), "corners_edge_px": quad.tolist(), "H": h}
    return out, params


def rotation(
    image: np.ndarray, level: int, rng: np.random.Generator, scale: float = 1.0
) -> tuple[np.ndarray, dict[str, Any]]:
    """Rotate by exactly ±5·L degrees (counter-clockwise positive) on an expanded black canvas.

    Same centre ``(w//2, h//2)``, canvas size ``int(h·sin + w·cos)`` and bilinear
    interpolation as the original's ``cv2.warpAffine`` call.
    """
    height, width = image.shape[:2]
    angle_deg = ROTATION_DEG_PER_LEVEL * level * (1.0 if rng.integers(0, 2) else -1.0)
    affine = cv2.getRotationMatrix2D((float(width // 2), float(height // 2)), angle_deg, 1.0)
    cos, sin = abs(affine[0, 0]), abs(affine[0, 1])
    new_w = int(height * sin + width * cos)
    new_h = int(height * cos + width * sin)
    affine[0, 2] += new_w / 2 - width // 2
    affine[1, 2] += new_h / 2 - height // 2
    h = np.vstack([affine, [0.0, 0.0, 1.0]])
    out = warp(image, h, (new_w, new_h), cv2.INTER_LINEAR)
    return out, {"angle_deg": angle_deg, "H": h}


def translation(
    image: np.ndarray, level: int, rng: np.random.Generator, scale: float = 1.0
) -> tuple[np.ndarray, dict[str, Any]]:
    """Squeeze the frame into a quad inset by 100 px and shifted by ±20·L px per axis.

    The pixel distances are reference pixels times ``scale``.
    """
    height, width = image.shape[:2]
    buffer_px = TRANSLATION_BUFFER_PX * scale
    step_px = TRANSLATION_PX_PER_LEVEL * level * scale
    dx = step_px * (1.0 if rng.integers(0, 2) else -1.0)
    dy = step_px * (1.0 if rng.integers(0, 2) else -1.0)
    if width <= 2 * buffer_px or height <= 2 * buffer_px:
        raise InputError(
            f"image {width}x{height} is too small for translation's {buffer_px:g} px inset; "
            "use --scale-to-resolution (or scale) for small images"
        )
    quad = np.array(
        [
            [buffer_px + dx, buffer_px + dy],
            [width - buffer_px + dx, buffer_px + dy],
            [width - buffer_px + dx, height - buffer_px + dy],
            [buffer_px + dx, height - buffer_px + dy],
        ]
    )
    h = frame_to_quad(width, height, quad)
    out = warp(image, h, (width, height), cv2.INTER_CUBIC)
    return out, {"dx_px": dx, "dy_px": dy, "buffer_px": buffer_px, "H": h}
