"""Fault specifications and the pure, seeded decision of what happens to each datagram.

One spec string is parsed by ``parse_faults`` everywhere (phone-sim, netem, bench, tests):
``loss=0.2,dup=0.05,reorder=0.1,delay_ms=20,jitter_ms=10,restart_at=100;250,camera_fail=0.01``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, fields, replace

from rig.errors import InputError

_PROBS = ("loss", "dup", "reorder", "camera_fail", "slow_camera", "early", "upload_fail")
_MS = ("delay_ms", "jitter_ms", "reorder_ms", "slow_ms", "early_ms")


@dataclass(frozen=True)
class FaultSpec:
    """Network and device faults; probabilities in [0, 1], times in milliseconds."""

    loss: float = 0.0  # datagram dropped
    dup: float = 0.0  # datagram delivered twice
    reorder: float = 0.0  # datagram held back by reorder_ms so later ones overtake it
    delay_ms: float = 0.0  # base one-way delay
    jitter_ms: float = 0.0  # uniform extra delay in [0, jitter_ms]
    reorder_ms: float = 30.0
    camera_fail: float = 0.0  # shot fails with an error
    slow_camera: float = 0.0  # shot takes slow_ms longer
    slow_ms: float = 1500.0
    early: float = 0.0  # shutter fires early_ms too early (photographs the previous frame)
    early_ms: float = 500.0
    upload_fail: float = 0.0  # an upload request breaks off half-way
    restart_at: tuple[int, ...] = ()  # phone crashes after saving the photo of these indices

    @property
    def network_clean(self) -> bool:
        return not (self.loss or self.dup or self.reorder or self.delay_ms or self.jitter_ms)

    def to_spec(self) -> str:
        """The spec string that parses back to this value."""
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value != f.default:
                text = ";".join(map(str, value)) if f.name == "restart_at" else f"{value:g}"
                parts.append(f"{f.name}={text}")
        return ",".join(parts)


def parse_faults(spec: str | None) -> FaultSpec:
    """Parse a fault spec; a bad one raises InputError naming the field."""
    if not spec or not spec.strip():
        return FaultSpec()
    values: dict[str, object] = {}
    restarts: list[int] = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, text = item.partition("=")
        name, text = name.strip(), text.strip()
        if not sep:
            raise InputError(f"fault spec: '{item}' is not NAME=VALUE")
        if name == "restart_at":
            restarts.extend(_parse_indices(text))
        elif name in _PROBS:
            values[name] = _parse_number(name, text, upper=1.0)
        elif name in _MS:
            values[name] = _parse_number(name, text, upper=600_000.0)
        else:
            known = ", ".join((*_PROBS, *_MS, "restart_at"))
            raise InputError(f"fault spec: unknown field '{name}' (known: {known})")
    return replace(FaultSpec(), restart_at=tuple(sorted(set(restarts))), **values)  # type: ignore[arg-type]


def _parse_number(name: str, text: str, upper: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"fault spec: field '{name}' must be a number, got '{text}'") from None
    if not 0.0 <= value <= upper:
        raise InputError(f"fault spec: field '{name}' must be in [0, {upper:g}], got {text}")
    return value


def _parse_indices(text: str) -> list[int]:
    out = []
    for part in text.split(";"):
        part = part.strip()
        if not part.isdigit():
            raise InputError(
                f"fault spec: field 'restart_at' wants indices like 100;250, got '{text}'"
            )
        out.append(int(part))
    return out


def plan_datagram(spec: FaultSpec, rng: random.Random) -> list[float]:
    """Delays in ms of each copy to deliver: [] = dropped, two entries = duplicated.

    Pure given the rng state, so a seeded run is reproducible. A fixed number of draws is
    made per datagram whatever the outcome, so one decision never shifts the next ones.
    """
    u_loss, u_dup, u_reo, u_j1, u_j2 = (rng.random() for _ in range(5))
    if u_loss < spec.loss:
        return []
    base = spec.delay_ms + (spec.reorder_ms if u_reo < spec.reorder else 0.0)
    delays = [base + u_j1 * spec.jitter_ms]
    if u_dup < spec.dup:
        delays.append(base + u_j2 * spec.jitter_ms)
    return delays
