"""Project settings: frozen dataclasses loaded from ``rig.toml``, passed explicitly.

Unknown keys are an error naming the key, so a typo never silently falls back
to a default.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

import tomli_w

from rig.errors import InputError

T = TypeVar("T")


@dataclass(frozen=True)
class DisplayConfig:
    """The monitor the rig shows images on."""

    # The screen size sessions use unless their plan or the GUI says otherwise
    # (rig.imaging.compositor.resolve_screen).
    screen_width: int = 1920
    screen_height: int = 1080
    # "auto": 1:1 when the image fits, else the smallest integer reduction (box filter)
    # that fits, else "fit"; "1:1" keeps image pixels = screen pixels (the image must
    # fit); "integer" scales by a whole factor (up, or down by a box filter); "fit"
    # letterboxes with nearest-neighbour sampling at a recorded non-integer scale.
    # Used by every command and the GUI unless the command line or the plan says
    # otherwise (rig.imaging.compositor.resolve_placement).
    placement: str = "auto"
    border_px: int = 0

    @property
    def screen_wh(self) -> tuple[int, int]:
        return (self.screen_width, self.screen_height)

    def validate(self, where: str) -> None:
        from rig.imaging.compositor import check_placement, check_screen

        check_placement(f"{where} [display]: placement", self.placement, InputError)
        check_screen(f"{where} [display]: screen", self.screen_wh, InputError)


@dataclass(frozen=True)
class RenderConfig:
    """How sources become 8-bit display frames (see rig.imaging)."""

    burn_overlays: bool = False


GRADE_CUTS = ("good", "acceptable", "poor")  # the lowest cut-off reached gives grade 4, 3, 2


@dataclass(frozen=True)
class QualityConfig:
    """Cut-offs mapping a verified pair's full-reference figures to grades 4 (good),
    3 (acceptable), 2 (poor), 1 (unusable); a figure reaching a cut-off earns that grade
    and the pair's grade is its worst figure's (docs/quality.md says how each was set)."""

    min_grade: int = 2  # grades below this are retaken by the live gate (2: "unusable" only)
    ssim_good: float = 0.70  # tone-normalised SSIM vs the ground truth (higher is better)
    ssim_acceptable: float = 0.60
    ssim_poor: float = 0.45
    psnr_good_db: float = 26.0  # tone-normalised PSNR
    psnr_acceptable_db: float = 23.0
    psnr_poor_db: float = 19.0
    glare_good: float = 0.01  # fraction of the image washed out or clipped (lower is better)
    glare_acceptable: float = 0.04
    glare_poor: float = 0.12
    sharpness_good: float = 0.55  # fine detail kept, as a fraction of the ground truth's
    sharpness_acceptable: float = 0.42
    sharpness_poor: float = 0.28
    residual_good_px: float = 2.0  # marker reprojection RMS in photo pixels (lower is better)
    residual_acceptable_px: float = 3.0
    residual_poor_px: float = 5.0
    coverage_good: float = 0.98  # fraction of the image inside the photo (higher is better)
    coverage_acceptable: float = 0.90
    coverage_poor: float = 0.75
    glare_delta: float = 40.0  # grey levels above the ground truth that count as glare
    saturation_level: int = 250  # camera level taken as clipped

    def __post_init__(self) -> None:
        if not 1 <= self.min_grade <= 4:
            raise InputError(f"rig.toml [quality]: min_grade must be 1..4, got {self.min_grade}")
        for stem, higher in (("ssim", True), ("psnr", True), ("glare", False),
                             ("sharpness", True), ("residual", False), ("coverage", True)):
            cuts = [v for k, v in asdict(self).items()
                    if k.startswith(stem + "_") and k.split("_")[1] in GRADE_CUTS]
            if cuts != sorted(cuts, reverse=higher):
                raise InputError(f"rig.toml [quality]: {stem} cut-offs must run good, acceptable, "
                                 f"poor in {'falling' if higher else 'rising'} order, got {cuts}")


@dataclass(frozen=True)
class RigConfig:
    """Which rig this project captures on, for datasets merged from several rigs
    (``rig merge``): recorded with every pair and listed in the dataset card."""

    name: str = ""  # e.g. "rig-a"; empty: the project's name
    monitor: str = ""  # make, model and settings of the display, e.g. "EIZO RX250, DICOM GSDF"
    room: str = ""  # where it stands (lighting differs between rooms)


@dataclass(frozen=True)
class ProjectConfig:
    name: str = "rig-project"
    display: DisplayConfig = field(default_factory=DisplayConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    rig: RigConfig = field(default_factory=RigConfig)

    @property
    def rig_name(self) -> str:
        """The rig's name: ``[rig] name``, else the project's name."""
        return self.rig.name or self.name

    @property
    def rig_conditions(self) -> dict[str, str]:
        """What every pair made on this rig records about it (``rig merge``, the card)."""
        return {"rig": self.rig_name} | {
            k: v for k, v in (("monitor", self.rig.monitor), ("room", self.rig.room)) if v
        }


def _build(cls: type[T], data: dict[str, Any], where: str) -> T:
    known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise InputError(f"{where}: unknown setting '{key}' (known: {', '.join(known)})")
        default = getattr(cls(), key)
        if hasattr(default, "__dataclass_fields__"):
            if not isinstance(value, dict):
                raise InputError(f"{where}: '{key}' must be a table")
            kwargs[key] = _build(type(default), value, f"{where} [{key}]")
        else:
            if not isinstance(value, type(default)) or isinstance(value, bool) != isinstance(
                default, bool
            ):
                raise InputError(
                    f"{where}: '{key}' must be {type(default).__name__}, got {value!r}"
                )
            kwargs[key] = value
    return cls(**kwargs)


def load_config(path: Path) -> ProjectConfig:
    """Read ``rig.toml``; a malformed file is an InputError naming it."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read settings ({exc}); fix or recreate it") from exc
    config = _build(ProjectConfig, data, str(path))
    config.display.validate(str(path))
    return config


def dump_config(config: ProjectConfig) -> str:
    """TOML text for ``config`` (every setting written out, so users see what exists)."""
    return tomli_w.dumps(asdict(config))
