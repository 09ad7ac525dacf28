"""Session events told as one sentence each, for people (the console's log, later the CLI).

The raw events stay in ``rig.db`` (rig.store.db.log_event); this module only decides
how a technician reads them: a level (``info``, ``ok``, ``warn``, ``error``) that
views colour, and a plain sentence with the next step where one is needed. Pure
functions, no Qt, no I/O. Events are looked up by ``kind`` (their class name), so a
kind this table does not know yet still reads as a sentence, never as a dict dump.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rig.session.events import SessionEvent

LEVELS = ("info", "ok", "warn", "error")

# Session states from which ``rig session resume`` continues the same session.
RESUMABLE_STATES = ("planned", "running", "paused", "stopped", "failed")


@dataclass(frozen=True)
class Line:
    """One log line: how serious it is, and the sentence itself."""

    level: str
    text: str


# The session store names some events after captures and cameras (CaptureVerified,
# CameraLost …); both vocabularies read the same, so views dispatch on the canonical kind.
KIND_ALIASES = {
    "CaptureStored": "PhotoStored",
    "CapturePending": "PhotoPending",
    "CaptureVerified": "PhotoVerified",
    "CaptureRejected": "PhotoRejected",
    "CameraLost": "PhoneLost",
}


def canonical_kind(kind: str) -> str:
    return KIND_ALIASES.get(kind, kind)


def narrate(event: SessionEvent) -> Line:
    """The sentence a technician reads for ``event``."""
    tell = _TELLERS.get(canonical_kind(event.kind))
    return tell(event) if tell is not None else _generic(event)


def as_dict(record: Any) -> dict[str, Any]:
    """A reconciliation as a dict, whether it came as one or as a typed record."""
    return record if isinstance(record, dict) else dict(record.to_dict())


def resume_command(session_id: str) -> str:
    return f"rig session resume {session_id}"


def next_step(session_id: str, state: str) -> str:
    """What to do after a session ended (or stopped) in ``state``."""
    if state == "finished":
        return f"export the pairs with 'rig export {session_id} -o DIR'"
    if state == "awaiting-import":
        return (
            "copy the photos off the phone, then "
            f"'rig import-photos DIR --chexpeditor --session {session_id}'"
        )
    if state == "aborted":
        return "start a new session"
    return (
        f"resume it with '{resume_command(session_id)}' (or Resume in the sessions panel), "
        "or abort it there"
    )


def describe_problems(problems: dict[str, list[int]]) -> str:
    """``{"not_verified": [3, 4]}`` → ``"2 items not verified (3, 4)"``."""
    parts = []
    for name, items in problems.items():
        shown = ", ".join(str(i) for i in items[:8]) + (", …" if len(items) > 8 else "")
        noun = "item" if len(items) == 1 else "items"
        parts.append(f"{len(items)} {noun} {name.replace('_', ' ')} ({shown})")
    return "; ".join(parts)


def format_duration(seconds: float) -> str:
    """``42`` → ``"42 s"``, ``300`` → ``"5 min"``, ``5400`` → ``"1 h 30 min"``."""
    if not math.isfinite(seconds) or seconds < 0:
        return "an unknown time"
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


# -- one teller per event kind -------------------------------------------------------------
def _started(e: Any) -> Line:
    if e.resumed_at:
        return Line("info", f"Session {e.session_id} resumed at item {e.resumed_at} of {e.items}.")
    return Line("info", f"Session {e.session_id} started with {_items(e.items)}.")


def _shown(e: Any) -> Line:
    return Line("info", f"Item {e.idx} is on screen (attempt {e.attempt}, source {e.source_id}).")


def _requested(e: Any) -> Line:
    return Line("info", f"Asked the camera for a photo of item {e.idx} (attempt {e.attempt}).")


def _stored(e: Any) -> Line:
    return Line("info", f"The photo of item {e.idx} (attempt {e.attempt}) is stored.")


def _pending(e: Any) -> Line:
    return Line(
        "warn",
        f"The photo of item {e.idx} stays on the phone as {e.name} until 'rig import-photos'.",
    )


def _verified(e: Any) -> Line:
    figures = []
    if e.psnr_db is not None:
        figures.append(f"PSNR {e.psnr_db:.1f} dB")
    if e.ssim is not None:
        figures.append(f"SSIM {e.ssim:.3f}")
    if e.reproj_err_px is not None:
        figures.append(f"marker error {e.reproj_err_px:.2f} px")
    detail = f": {', '.join(figures)}" if figures else ""
    return Line("ok", f"Item {e.idx} verified{detail}.")


def _rejected(e: Any) -> Line:
    return Line(
        "warn", f"The photo of item {e.idx} was rejected ({_clause(e.reason)}); it will be retaken."
    )


def _capture_failed(e: Any) -> Line:
    return Line("error", f"The camera failed on item {e.idx}: {_clause(e.reason)}.")


def _phone_lost(e: Any) -> Line:
    return Line(
        "error",
        f"Lost the phone at item {e.idx} ({_clause(e.reason)}); "
        "check the phone app and the Wi-Fi — rig keeps retrying.",
    )


def _paused(e: Any) -> Line:
    return Line("warn", f"Session paused: {_clause(e.reason)}.")


def _resumed(e: Any) -> Line:
    return Line("info", "Session running again.")


def _progressed(e: Any) -> Line:
    known = e.eta_s is not None and math.isfinite(e.eta_s)
    eta = f", about {format_duration(e.eta_s)} left" if known else ""
    return Line(
        "info", f"{e.verified} of {_items(e.total)} verified ({e.rate_per_h:.0f} pairs/h{eta})."
    )


def _finished(e: Any) -> Line:
    rec = as_dict(e.reconciliation)
    counts = f"{rec.get('verified', 0)} of {_items(int(rec.get('items', 0)))} verified"
    if e.state == "finished" and rec.get("clean"):
        return Line("ok", f"Session {e.session_id} finished: {counts}.")
    problems = describe_problems(rec.get("problems") or {})
    detail = f"; {problems}" if problems else ""
    level = "warn" if e.state in ("stopped", "awaiting-import") else "error"
    return Line(
        level,
        f"Session {e.session_id} {e.state}: {counts}{detail}. "
        f"Next: {next_step(e.session_id, e.state)}.",
    )


def _item_failed(e: Any) -> Line:
    return Line("error", f"Item {e.idx} failed: {_clause(e.reason)}.")


def _paired(e: Any) -> Line:
    peer = getattr(e, "peer", None)
    return Line("ok", "The phone paired" + (f" from {peer}." if peer else "."))


_TELLERS: dict[str, Callable[[Any], Line]] = {
    "SessionStarted": _started,
    "ItemShown": _shown,
    "CaptureRequested": _requested,
    "PhotoStored": _stored,
    "PhotoPending": _pending,
    "PhotoVerified": _verified,
    "PhotoRejected": _rejected,
    "CaptureFailed": _capture_failed,
    "PhoneLost": _phone_lost,
    "SessionPaused": _paused,
    "SessionResumed": _resumed,
    "Progressed": _progressed,
    "SessionFinished": _finished,
    "PhonePaired": _paired,
    "ItemFailed": _item_failed,
}


# -- helpers --------------------------------------------------------------------------
def _items(n: int) -> str:
    return f"{n} item" if n == 1 else f"{n} items"


def _clause(text: str) -> str:
    """A reason as part of a sentence: no trailing full stop (we add our own)."""
    return str(text).strip().rstrip(".")


def _words(kind: str) -> str:
    """``PhoneReconnected`` → ``Phone reconnected``."""
    words = re.findall(r"[A-Z][a-z0-9]*|[a-z0-9]+", kind) or [kind]
    return " ".join([words[0], *(w.lower() for w in words[1:])])


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')} {_value(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_value(v) for v in value)
    return str(value)


def _generic(event: SessionEvent) -> Line:
    """A kind without its own sentence: its name in words and its facts, never a dict dump."""
    facts = {
        k: v
        for k, v in event.to_dict().items()
        if k not in ("kind", "session_id", "ts") and v is not None and not k.endswith("sha256")
    }
    detail = "; ".join(f"{k.replace('_', ' ')} {_value(v)}" for k, v in facts.items())
    return Line("info", f"{_words(event.kind)}" + (f" ({detail})." if detail else "."))
