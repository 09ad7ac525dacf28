"""Simulated-camera parameters: frozen typed dataclasses, loaded from TOML presets.

A preset is data (``rig/data/presets/<name>.toml``) with one table per section
(``[pose]``, ``[lens]``, ``[display]``, ``[ambient]``, ``[sensor]``) and an
optional ``[ranges]`` table (``"pose.distance_mm" = [500.0, 800.0]``) that
``CameraParams.sample`` draws from for condition sweeps. Unknown keys are an
error naming the key, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from rig.errors import InputError

# 35 mm film diagonal: focal lengths are given "35 mm-equivalent" as phone makers quote them.
FULL_FRAME_DIAGONAL_MM = math.hypot(36.0, 24.0)


@dataclass(frozen=True)
class PoseParams:
    """Where the camera is: it orbits the aim point at ``distance_mm`` and looks at it."""

    distance_mm: float = 600.0  # camera centre to aim point
    yaw_deg: float = 0.0  # orbit about the screen's vertical axis (+: camera moves right)
    pitch_deg: float = 0.0  # orbit about the screen's horizontal axis (+: camera moves up)
    roll_deg: float = 0.0  # rotation about the optical axis
    aim_x_mm: float = 0.0  # aim point, relative to the screen centre (x right)
    aim_y_mm: float = 0.0  # (y down)


@dataclass(frozen=True)
class LensParams:
    """Pinhole + OpenCV distortion (k1, k2, p1, p2, k3) + optical blur before sampling."""

    focal_equiv_mm: float = 26.0  # 35 mm-equivalent focal length (iPhone main camera: 26)
    k1: float = 0.0
    k2: float = 0.0
    p1: float = 0.0
    p2: float = 0.0
    k3: float = 0.0
    defocus_px: float = 0.6  # Gaussian PSF sigma on the sensor, in photosites
    motion_px: float = 0.0  # motion-blur streak length on the sensor, in photosites
    motion_angle_deg: float = 0.0  # streak direction in the photo (0 = along +x)
    vignetting: float = 0.25  # relative illumination loss in the image corner


@dataclass(frozen=True)
class DisplayParams:
    """The monitor: pixel grid with vertical RGB stripes, tone response, viewing angle."""

    pixel_pitch_mm: float = 0.2768  # 24-inch 1920x1080
    subpixels: str = "rgb-stripe"  # or "uniform" (no sub-pixel structure; for tests)
    fill_factor_x: float = 0.8  # emitting fraction of each sub-pixel stripe's width
    fill_factor_y: float = 0.9  # emitting fraction of each pixel row's height
    gamma: float = 2.2  # display EOTF exponent (8-bit value -> relative luminance)
    black_level: float = 0.002  # black luminance / white luminance (LCD backlight leak)
    angle_falloff: float = 0.3  # luminance loss factor at 90 degrees (times sin^2)
    angle_color_shift: float = 0.05  # blue-up / red-down per sin^2 of the viewing angle
    bezel_mm: float = 12.0  # frame around the active area
    bezel_radiance: float = 0.01  # bezel brightness relative to screen white
    background_radiance: float = 0.08  # wall behind the monitor, relative to screen white


@dataclass(frozen=True)
class AmbientParams:
    """Room light reflected by the screen: matte haze plus a glossy specular glare."""

    haze: float = 0.0  # diffuse reflection, relative to screen white
    glare: float = 0.0  # specular peak, relative to screen white
    light_x_mm: float = 0.0  # light source, mm from the screen centre (x right, y down)
    light_y_mm: float = -150.0
    light_z_mm: float = -800.0  # z < 0: in front of the screen
    glare_width_deg: float = 6.0  # angular width (sigma) of the specular lobe


@dataclass(frozen=True)
class SensorParams:
    """Bayer sensor, exposure, noise, white balance, tone curve and JPEG."""

    width_px: int = 4032
    height_px: int = 3024
    exposure: float = 0.8  # screen white fills this fraction of the full well
    full_well_e: float = 6000.0  # electrons at saturation (photon noise: Poisson)
    read_noise_e: float = 2.0  # Gaussian read noise, electrons rms
    digital_gain: float = 1.0  # ISP gain after read-out (amplifies noise too)
    wb_gain_r: float = 1.0  # white-balance error: red gain relative to green
    wb_gain_b: float = 1.0  # blue gain relative to green
    tone_gamma: float = 2.2  # encoding exponent of the output tone curve
    tone_contrast: float = 0.0  # S-curve strength (0: none)
    tone_lift: float = 0.0  # output black offset, fraction of 255
    jpeg_quality: int = 92
    jpeg_chroma: str = "420"  # chroma subsampling: "420" (phones), "422" or "444"


SECTIONS: dict[str, type] = {
    "pose": PoseParams,
    "lens": LensParams,
    "display": DisplayParams,
    "ambient": AmbientParams,
    "sensor": SensorParams,
}
SUBPIXEL_LAYOUTS = ("rgb-stripe", "uniform")
JPEG_CHROMA = ("420", "422", "444")


@dataclass(frozen=True)
class CameraParams:
    """Everything the simulator needs; ``ranges`` are the preset's sweep ranges."""

    pose: PoseParams = field(default_factory=PoseParams)
    lens: LensParams = field(default_factory=LensParams)
    display: DisplayParams = field(default_factory=DisplayParams)
    ambient: AmbientParams = field(default_factory=AmbientParams)
    sensor: SensorParams = field(default_factory=SensorParams)
    ranges: tuple[tuple[str, float, float], ...] = ()
    name: str = "custom"

    @property
    def focal_px(self) -> float:
        diag_px = math.hypot(self.sensor.width_px, self.sensor.height_px)
        return self.lens.focal_equiv_mm / FULL_FRAME_DIAGONAL_MM * diag_px

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ranges"] = {key: [lo, hi] for key, lo, hi in self.ranges}
        return out

    def with_values(self, values: dict[str, Any], where: str = "--set") -> CameraParams:
        """A copy with dotted keys (``"pose.distance_mm"``) replaced; values are checked."""
        sections: dict[str, dict[str, Any]] = {}
        for key, value in values.items():
            section, name = _split_key(key, where)
            sections.setdefault(section, {})[name] = value
        changes = {
            s: _build(SECTIONS[s], {**asdict(getattr(self, s)), **v}, f"{where} [{s}]")
            for s, v in sections.items()
        }
        return replace(self, **changes)

    def sample(
        self,
        rng: np.random.Generator,
        ranges: tuple[tuple[str, float, float], ...] | None = None,
    ) -> CameraParams:
        """Draw every ranged key uniformly from ``ranges`` (default: the preset's own)."""
        drawn: dict[str, Any] = {}
        for key, lo, hi in self.ranges if ranges is None else ranges:
            section, name = _split_key(key, "ranges")
            default = getattr(getattr(self, section), name)
            value = float(rng.uniform(lo, hi))
            drawn[key] = round(value) if isinstance(default, int) else value
        return self.with_values(drawn, "ranges")


def _split_key(key: str, where: str) -> tuple[str, str]:
    section, _, name = key.partition(".")
    if section not in SECTIONS or name not in {f.name for f in fields(SECTIONS[section])}:
        raise InputError(f"{where}: unknown camera setting '{key}' (use section.key, e.g. "
                         "'pose.distance_mm'; sections: " + ", ".join(SECTIONS) + ")")
    return section, name


def _coerce(value: Any, default: Any, where: str, key: str) -> Any:
    if isinstance(default, bool) or isinstance(value, bool):
        ok = isinstance(value, bool) and isinstance(default, bool)
    elif isinstance(default, float):
        ok = isinstance(value, int | float)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise InputError(f"{where}: '{key}' must be {type(default).__name__}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"{where}: '{key}' must be finite, got {value!r}")
    return value


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    defaults = cls()
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise InputError(f"{where}: unknown setting '{key}' (known: {', '.join(known)})")
        kwargs[key] = _coerce(value, getattr(defaults, key), where, key)
    obj = cls(**kwargs)
    _validate(obj, where)
    return obj


def _validate(obj: Any, where: str) -> None:
    """Reject values that would make the physics meaningless, naming the field."""
    checks: list[tuple[bool, str]] = []
    if isinstance(obj, PoseParams):
        checks = [(obj.distance_mm > 0, "distance_mm must be > 0"),
                  (abs(obj.yaw_deg) < 85 and abs(obj.pitch_deg) < 85,
                   "yaw_deg and pitch_deg must be within ±85 (the camera faces the screen)")]
    elif isinstance(obj, LensParams):
        checks = [(obj.focal_equiv_mm > 0, "focal_equiv_mm must be > 0"),
                  (obj.defocus_px >= 0 and obj.motion_px >= 0, "blur must be >= 0"),
                  (0 <= obj.vignetting < 1, "vignetting must be in [0, 1)")]
    elif isinstance(obj, DisplayParams):
        checks = [(obj.pixel_pitch_mm > 0, "pixel_pitch_mm must be > 0"),
                  (obj.subpixels in SUBPIXEL_LAYOUTS,
                   f"subpixels must be one of {', '.join(SUBPIXEL_LAYOUTS)}"),
                  (0 < obj.fill_factor_x <= 1 and 0 < obj.fill_factor_y <= 1,
                   "fill factors must be in (0, 1]"),
                  (obj.gamma > 0, "gamma must be > 0"),
                  (0 <= obj.black_level < 1, "black_level must be in [0, 1)")]
    elif isinstance(obj, SensorParams):
        checks = [(16 <= obj.width_px <= 20000 and 16 <= obj.height_px <= 20000,
                   "sensor size must be 16..20000 px"),
                  (obj.width_px % 2 == 0 and obj.height_px % 2 == 0,
                   "sensor size must be even (Bayer quads)"),
                  (obj.exposure > 0 and obj.full_well_e > 0, "exposure/full_well_e must be > 0"),
                  (obj.read_noise_e >= 0, "read_noise_e must be >= 0"),
                  (obj.digital_gain > 0, "digital_gain must be > 0"),
                  (obj.wb_gain_r > 0 and obj.wb_gain_b > 0, "white-balance gains must be > 0"),
                  (obj.tone_gamma > 0, "tone_gamma must be > 0"),
                  (1 <= obj.jpeg_quality <= 100, "jpeg_quality must be 1..100"),
                  (obj.jpeg_chroma in JPEG_CHROMA, f"jpeg_chroma must be one of "
                   f"{', '.join(JPEG_CHROMA)}")]
    for ok, message in checks:
        if not ok:
            raise InputError(f"{where}: {message}")


def params_from_dict(data: dict[str, Any], where: str) -> CameraParams:
    """Build ``CameraParams`` from a parsed preset; unknown sections or keys are errors."""
    kwargs: dict[str, Any] = {}
    for section, table in data.items():
        if section == "name":
            kwargs["name"] = str(table)
        elif section == "ranges":
            kwargs["ranges"] = _parse_ranges(table, where)
        elif section in SECTIONS:
            if not isinstance(table, dict):
                raise InputError(f"{where}: '{section}' must be a table")
            kwargs[section] = _build(SECTIONS[section], table, f"{where} [{section}]")
        else:
            raise InputError(f"{where}: unknown section '{section}' "
                             f"(known: name, ranges, {', '.join(SECTIONS)})")
    return CameraParams(**kwargs)


def _parse_ranges(table: Any, where: str) -> tuple[tuple[str, float, float], ...]:
    if not isinstance(table, dict):
        raise InputError(f"{where}: 'ranges' must be a table")
    out = []
    for key, pair in table.items():
        _split_key(key, f"{where} [ranges]")
        if (not isinstance(pair, list) or len(pair) != 2
                or not all(isinstance(v, int | float) for v in pair) or pair[0] > pair[1]):
            raise InputError(f"{where} [ranges]: '{key}' must be [low, high] numbers")
        out.append((key, float(pair[0]), float(pair[1])))
    return tuple(out)


def preset_names() -> list[str]:
    """Names of the bundled presets."""
    folder = resources.files("rig") / "data" / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_preset(name_or_path: str | Path) -> CameraParams:
    """A bundled preset by name, or a TOML file by path."""
    text_path = Path(name_or_path)
    if text_path.suffix == ".toml" or text_path.exists():
        where = str(text_path)
        try:
            text = text_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{where}: cannot read preset ({exc.strerror})") from exc
        default_name = text_path.stem
    else:
        name = str(name_or_path)
        if name not in preset_names():
            raise InputError(f"unknown camera preset '{name}' "
                             f"(bundled: {', '.join(preset_names())}; or give a .toml path)")
        resource = resources.files("rig") / "data" / "presets" / f"{name}.toml"
        text, where, default_name = resource.read_text(encoding="utf-8"), f"preset {name}", name
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{where}: not valid TOML ({exc})") from exc
    data.setdefault("name", default_name)
    return params_from_dict(data, where)


def parse_override(text: str) -> tuple[str, Any]:
    """``"pose.distance_mm=700"`` -> ``("pose.distance_mm", 700)`` (value read as TOML)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise InputError(f"--set '{text}': expected section.key=value")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # bare words are strings: --set display.subpixels=uniform
    return key.strip(), value
