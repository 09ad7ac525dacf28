"""The adaptive settle: how long to wait between "frame presented" and "shoot" (no I/O).

Theory of operation
- Every photo proves which frame it shows (the frame code, calibration.framecode), so the
  wait need not be guessed generously: it starts at the physical minimum — presentation
  confirmed by the display, plus the panel's response, about two refresh intervals — and
  is raised only when a photo shows the *previous* frame (or a frame torn between two).
  That photo is never a pair: its code names another item or attempt, so registration
  rejects it and the item is retaken with a new attempt (rig.session.runner).
- A stale shot at settle s marks s as too short: the settle jumps to at least 2·s (and
  one step more than the current value), so a few stale shots at most find the panel's
  real response. After ``shrink_after`` good shots in a row it steps down again, but
  never to within one step of a value seen too short, until that memory is forgotten after
  ``forget_after`` good shots (a panel that warmed up may get faster).
- Bounds are the plan's ``settle_ms_min``/``settle_ms_max``; the plan's ``settle_ms`` is the
  first value (and the only one with ``settle_adaptive = false``). The value learnt is
  stored per display in the session's calibrations (kind ``settle``) and is where the
  next run on that display starts.
- Verdicts may arrive after later shots were taken (registration runs in the background):
  each one is judged by the settle *its* shot used, not the current one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SETTLE_KIND = "settle"  # calibrations.kind of the learnt settle
REFRESH_MS = 1000 / 60  # one refresh interval of a 60 Hz panel
PHYSICAL_MIN_MS = 2 * REFRESH_MS  # presentation confirmed + the panel's response
# What a verdict says when the photo shows another frame of this session (or two at once):
# calibration.verification.explain_mismatch and calibration.registration's disagreement.
_STALE_MARKS = ("photo shows item", "photo shows attempt", "screen changed during the exposure")


@dataclass(frozen=True)
class SettleBounds:
    initial_ms: float
    min_ms: float
    max_ms: float
    adaptive: bool = True

    def clamp(self, value_ms: float) -> float:
        return min(self.max_ms, max(self.min_ms, value_ms))


class SettleController:
    """``settle_ms`` now; ``record(settle_used_ms, stale)`` after each verdict."""

    def __init__(
        self,
        bounds: SettleBounds,
        start_ms: float | None = None,
        step_ms: float = REFRESH_MS / 2,
        shrink_after: int = 10,
        forget_after: int = 100,
    ) -> None:
        self.bounds = bounds
        self.step_ms, self.shrink_after, self.forget_after = step_ms, shrink_after, forget_after
        first = bounds.initial_ms if start_ms is None or not bounds.adaptive else start_ms
        self._settle_ms = bounds.clamp(first)
        self._too_short_ms = -1.0  # the longest settle a stale photo was taken with
        self._good_run = 0
        self._good_since_stale = 0
        self.stale = 0

    @property
    def settle_ms(self) -> float:
        return self._settle_ms

    def record(self, settle_used_ms: float, stale: bool) -> float:
        """One verdict on a photo shot after ``settle_used_ms``; the settle from now on."""
        if not self.bounds.adaptive:
            return self._settle_ms
        if stale:
            self.stale += 1
            self._too_short_ms = max(self._too_short_ms, settle_used_ms)
            self._good_run = self._good_since_stale = 0
            raised = max(2 * settle_used_ms, self._settle_ms + self.step_ms, self.step_ms)
            self._settle_ms = self.bounds.clamp(max(raised, self._settle_ms))
            return self._settle_ms
        self._good_run += 1
        self._good_since_stale += 1
        if self._good_since_stale >= self.forget_after:
            self._too_short_ms, self._good_since_stale = -1.0, 0
        if self._good_run >= self.shrink_after:
            self._good_run = 0
            lower = self.bounds.clamp(self._settle_ms - self.step_ms)
            if lower > self._too_short_ms + self.step_ms:  # a margin above the stale one
                self._settle_ms = lower
        return self._settle_ms

    def to_dict(self, display: str) -> dict[str, Any]:
        """What the session's calibrations keep (kind ``settle``)."""
        return {"display": display, "settle_ms": round(self._settle_ms, 2), "stale": self.stale}


def is_stale(seen: dict[str, Any] | None, expected: dict[str, Any], reason: str | None) -> bool:
    """True if the photo shows another frame of the same session, or two frames at once:
    the sign of a shot taken before the panel showed the new frame."""
    if seen is not None and seen.get("session") == expected.get("session"):
        return (seen.get("index"), seen.get("attempt")) != (
            expected.get("index"),
            expected.get("attempt"),
        )
    return is_stale_reason(reason or "") and "photo shows" not in (reason or "")


def is_stale_reason(reason: str) -> bool:
    """The same judgement from a stored verdict's reason text (reports, the benchmark)."""
    return any(mark in reason for mark in _STALE_MARKS)


def display_key(kind: str, screen_wh: tuple[int, int]) -> str:
    """Which display a learnt settle belongs to: its kind and its screen size."""
    return f"{kind}:{screen_wh[0]}x{screen_wh[1]}"
