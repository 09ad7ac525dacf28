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

    def validate(self, where: str) -> None:
        from rig.imaging.compositor import PLACEMENTS

        if self.placement not in PLACEMENTS:
            raise InputError(
                f"{where} [display]: placement '{self.placement}' unknown; "
                f"use one of {', '.join(PLACEMENTS)}"
            )
        if self.screen_width < 64 or self.screen_height < 64:
            raise InputError(f"{where} [display]: screen_width and screen_height must be >= 64")


@dataclass(frozen=True)
class RenderConfig:
    """How sources become 8-bit display frames (see rig.imaging)."""

    burn_overlays: bool = False


@dataclass(frozen=True)
class ProjectConfig:
    name: str = "rig-project"
    display: DisplayConfig = field(default_factory=DisplayConfig)
    render: RenderConfig = field(default_factory=RenderConfig)


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
