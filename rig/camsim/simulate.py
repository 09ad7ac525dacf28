"""The simulated camera: photographs a screen frame through a known geometry.

Theory of operation, per photo (see docs/camsim.md for the physics):

1. Scene (cached per pose): every photosite's ray is traced to the screen plane
   (``geometry``), giving its screen coordinate, viewing angle, glare, vignetting
   and the ambient light of bezel and wall. Stored per Bayer plane as fixed-point
   remap tables, so later photos from the same pose skip the ray tracing.
2. Display: the 8-bit frame becomes relative radiance per colour (EOTF), blurred by
   the lens PSF mapped into screen space.
3. Sampling: each photosite reads its colour's radiance at its own screen point,
   times the sub-pixel stripe pattern at its phase within the screen pixel (blurred
   by the same PSF and the photosite aperture). Point-sampling that periodic pattern
   on the Bayer lattice is what produces aliasing moiré.
4. Sensor: Poisson–Gaussian noise on the raw mosaic, white balance, demosaic, tone
   curve, JPEG (``sensor``).

Shot k of a camera seeded s draws its noise from SeedSequence([s, k]): the same
inputs and seed give byte-identical photos in any process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import cv2
import numpy as np

from rig.camsim import display as disp
from rig.camsim import optics
from rig.camsim.geometry import (
    CameraPose,
    RayHits,
    camera_pose,
    dense_from_lattice,
    local_jacobian,
    trace_rays,
)
from rig.camsim.params import CameraParams
from rig.camsim.sensor import BAYER_PLANES, decode_jpeg, develop, encode_jpeg, expose_plane
from rig.errors import InputError

TRUTH_VERSION = 1
SCENE_CACHE_SIZE = 2


@dataclass(frozen=True)
class Photo:
    """A simulated photo: the JPEG bytes, and the ground truth that produced them."""

    jpeg: bytes
    truth: dict[str, Any]
    timestamp_s: float | None = None

    @cached_property
    def image(self) -> np.ndarray:
        """The decoded JPEG, (H, W, 3) uint8 BGR."""
        return decode_jpeg(self.jpeg)


@dataclass(frozen=True)
class PlaneScene:
    """Pose-dependent tables for one Bayer plane (photosites (row::2, col::2))."""

    row: int
    col: int
    channel: int
    content_map: tuple[np.ndarray, np.ndarray]  # fixed-point remap into the frame
    phase_map: tuple[np.ndarray, np.ndarray]  # fixed-point remap into the stripe texture
    gain: np.ndarray  # vignetting x viewing-angle gain, (h/2, w/2) float32
    ambient: np.ndarray  # reflected room light / bezel / wall radiance, (h/2, w/2) float32


@dataclass(frozen=True)
class Scene:
    pose: CameraPose
    jacobian: np.ndarray  # d(photo)/d(screen pixel) at the aim point, (2, 2)
    planes: tuple[PlaneScene, ...]
    textures: tuple[np.ndarray, ...]  # per BGR channel, (K, K) float32
    kernel: np.ndarray | None  # lens PSF in screen pixels


def _fixed_point(map_x: np.ndarray, map_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m1, m2 = cv2.convertMaps(map_x, map_y, cv2.CV_16SC2)
    return m1, m2


def _ambient(params: CameraParams, sx: np.ndarray, sy: np.ndarray, glare: np.ndarray,
             screen_wh: tuple[int, int]) -> np.ndarray:
    """Radiance that does not come from the pixels: reflections on the screen, the
    bezel, the wall behind."""
    d, a = params.display, params.ambient
    bezel_px = d.bezel_mm / d.pixel_pitch_mm
    w, h = screen_wh
    on_screen = (sx >= -0.5) & (sx < w - 0.5) & (sy >= -0.5) & (sy < h - 0.5)
    on_monitor = ((sx >= -0.5 - bezel_px) & (sx < w - 0.5 + bezel_px)
                  & (sy >= -0.5 - bezel_px) & (sy < h - 0.5 + bezel_px))
    out = np.full(sx.shape, d.background_radiance, np.float32)
    out[on_monitor] = d.bezel_radiance + a.haze
    out[on_monitor] += glare[on_monitor]  # the bezel is glossy plastic as well
    out[on_screen] = a.haze + glare[on_screen]
    return out


def _plane_grid(w: int, h: int, row: int, col: int) -> tuple[np.ndarray, np.ndarray]:
    """Photo coordinates of one Bayer plane's photosites, as broadcastable float32 grids."""
    u = np.arange(col, w, 2, dtype=np.float32)[None, :]
    v = np.arange(row, h, 2, dtype=np.float32)[:, None]
    return u, v


def _texture_coord(screen_px: np.ndarray, samples: int) -> np.ndarray:
    """Screen pixel coordinate -> coordinate in a one-pixel texture (K samples, wrapped).

    Wrapping here (not with a huge coordinate and BORDER_WRAP) keeps the values inside
    the int16 range of OpenCV's fixed-point maps.
    """
    out = screen_px + np.float32(0.5)  # pixel x spans [x - 0.5, x + 0.5): phase 0 at its edge
    out -= np.floor(out)  # the fractional part (np.mod is ~5x slower)
    out *= np.float32(samples)
    out -= np.float32(0.5)  # texture sample i is centred at phase (i + 0.5) / K
    return out


def build_scene(params: CameraParams, screen_wh: tuple[int, int]) -> Scene:
    """Trace the photosites of every Bayer plane to the screen (the expensive part)."""
    pose = camera_pose(params, screen_wh)
    d, pitch = params.display, params.display.pixel_pitch_mm
    aim_px = (screen_wh[0] / 2 + params.pose.aim_x_mm / pitch - 0.5,
              screen_wh[1] / 2 + params.pose.aim_y_mm / pitch - 0.5)
    jac = local_jacobian(pose, aim_px)
    transfer = optics.transfer_function(params.lens, jac)
    textures = tuple(disp.subpixel_texture(d, c, transfer) for c in range(3))
    k = disp.TEXTURE_SAMPLES

    def fields_at(u: np.ndarray, v: np.ndarray) -> list[np.ndarray]:
        hits: RayHits = trace_rays(pose, u, v)
        if params.ambient.glare <= 0:
            return [hits.screen_x, hits.screen_y, 1 - hits.view_z**2]
        glare = optics.glare_radiance(params.ambient,
                                      (hits.screen_x + 0.5 - screen_wh[0] / 2) * pitch,
                                      (hits.screen_y + 0.5 - screen_wh[1] / 2) * pitch,
                                      (hits.view_x, hits.view_y, hits.view_z))
        return [hits.screen_x, hits.screen_y, 1 - hits.view_z**2, glare]

    w, h = pose.image_wh
    planes = []
    for row, col, channel in BAYER_PLANES:
        sx, sy, sin2, *rest = dense_from_lattice(fields_at, (w // 2, h // 2),
                                                 origin=(col, row), spacing=2.0)
        glare = rest[0] if rest else np.zeros_like(sx)
        vig = optics.vignetting_gain(params.lens, *_plane_grid(w, h, row, col), pose.image_wh)
        content = _fixed_point(sx - np.float32(disp.stripe_offset_px(d, channel)), sy)
        phase = _fixed_point(_texture_coord(sx, k), _texture_coord(sy, k))
        gain = vig * disp.viewing_angle_gain(d, sin2, channel)
        ambient = _ambient(params, sx, sy, glare, screen_wh) * vig
        planes.append(PlaneScene(row, col, channel, content, phase, gain, ambient))
    kernel = optics.screen_blur_kernel(params.lens, jac)
    return Scene(pose, jac, tuple(planes), textures, kernel)


def _scene_key(params: CameraParams, screen_wh: tuple[int, int]) -> tuple[Any, ...]:
    s = params.sensor
    return (screen_wh, params.pose, params.lens, params.display, params.ambient,
            s.width_px, s.height_px)


@dataclass
class SimCamera:
    """A deterministic simulated camera; the constructor is inert (no work, no I/O)."""

    params: CameraParams
    seed: int = 0
    shots: int = 0  # photos taken so far; shot k uses the sub-seed (seed, k)
    _scenes: dict[tuple[Any, ...], Scene] = field(default_factory=dict, repr=False, init=False)

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise InputError(f"seed must be >= 0, got {self.seed}")

    def scene(self, screen_wh: tuple[int, int]) -> Scene:
        """The pose tables for a screen size (built on first use, then cached)."""
        key = _scene_key(self.params, screen_wh)
        if key not in self._scenes:
            while len(self._scenes) >= SCENE_CACHE_SIZE:
                self._scenes.pop(next(iter(self._scenes)))
            self._scenes[key] = build_scene(self.params, screen_wh)
        return self._scenes[key]

    def capture(self, shown_frame: np.ndarray) -> Photo:
        """Photograph what the screen shows: uint8 (H, W) gray or (H, W, 3) BGR."""
        frame = disp.as_bgr(shown_frame)
        screen_wh = (frame.shape[1], frame.shape[0])
        scene = self.scene(screen_wh)
        shot = self.shots
        self.shots += 1
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, shot])))
        mosaic = render_mosaic(self.params, scene, frame, rng)
        bgr = develop(mosaic, self.params.sensor)
        jpeg = encode_jpeg(bgr, self.params.sensor.jpeg_quality, self.params.sensor.jpeg_chroma)
        return Photo(jpeg, make_truth(self.params, scene, screen_wh, self.seed, shot))


def render_mosaic(params: CameraParams, scene: Scene, frame_bgr: np.ndarray,
                  rng: np.random.Generator) -> np.ndarray:
    """The raw RGGB mosaic (H, W) uint16 of a photo of ``frame_bgr``."""
    radiance = optics.blur_screen(disp.relative_luminance(frame_bgr, params.display),
                                  scene.kernel)
    channels = [np.ascontiguousarray(radiance[:, :, c]) for c in range(3)]
    w, h = scene.pose.image_wh
    mosaic = np.empty((h, w), np.uint16)
    striped = params.display.subpixels != "uniform"
    for plane in scene.planes:
        c = plane.channel
        irr = cv2.remap(channels[c], *plane.content_map, cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        if striped:
            pattern = cv2.remap(scene.textures[c], *plane.phase_map, cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_WRAP)
            np.multiply(irr, pattern, out=irr)
        irr *= plane.gain
        irr += plane.ambient
        mosaic[plane.row :: 2, plane.col :: 2] = expose_plane(irr, c, params.sensor, rng)
    return mosaic


def make_truth(params: CameraParams, scene: Scene, screen_wh: tuple[int, int], seed: int,
               shot: int) -> dict[str, Any]:
    """TRUTH.json: every parameter, the seed, and the geometry in OpenCV conventions."""
    truth = scene.pose.truth()
    truth.update({
        "truth_version": TRUTH_VERSION,
        "preset": params.name,
        "seed": seed,
        "shot": shot,
        "params": params.to_dict(),
        "screen_size_px": list(screen_wh),
        "bayer_pattern": "RGGB",
        "frame_channel_order": "BGR",
        "photo_px_per_screen_px": math.sqrt(abs(float(np.linalg.det(scene.jacobian)))),
        "conventions": "screen plane z=0, x right, y down, mm, origin at the top-left corner "
                       "of screen pixel (0,0); centre of pixel (x,y) at ((x+0.5)p, (y+0.5)p, 0); "
                       "photo pixel centres at integers (cv2.projectPoints)",
    })
    return truth
