"""Session events told as one sentence each, for people (the console's log, later the CLI).

The raw events stay in ``rig.db`` (rig.session.store); this module only decides
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
from rig.session.states import AWAITING_IMPORT, SessionState

LEVELS = ("info", "ok", "warn", "error")
# How an ended run reads (SessionFinished.state); a paused one waits for someone.
END_LEVELS = {
    SessionState.FINISHED: "ok",
    SessionState.PAUSED: "warn",
    SessionState.ABORTED: "warn",
    SessionState.FAILED: "error",
}


@dataclass(frozen=True)
class Line:
    """One log line: how serious it is, and the sentence itself."""

    level: str
    text: str


def narrate(event: SessionEvent) -> Line:
    """The sentence a technician reads for ``event``."""
    tell = _TELLERS.get(event.kind)
    return tell(event) if tell is not None else _generic(event)


def resume_command(session_id: str) -> str:
    return f"rig session resume {session_id}"


def next_step(session_id: str, state: str, reason: str | None = None) -> str:
    """What to do after a run ended in ``state`` (``reason``: why it is paused or failed)."""
    if state == SessionState.FINISHED:
        return f"export the pairs with 'rig export {session_id} -o DIR'"
    if state == SessionState.PAUSED and reason == AWAITING_IMPORT:
        return (
            "copy the photos off the phone, then "
            f"'rig import-photos DIR --chexpeditor --session {session_id}'"
        )
    if state == SessionState.ABORTED:
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


def _camera_lost(e: Any) -> Line:
    return Line(
        "error",
        f"Lost the camera at item {e.idx} ({_clause(e.reason)}); "
        "check the phone app (or the camera's cable) and the Wi-Fi — rig keeps retrying.",
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
    rec = e.reconciliation
    counts = f"{rec.verified} of {_items(rec.items)} verified"
    if e.state == SessionState.FINISHED and rec.clean:
        return Line("ok", f"Session {e.session_id} finished: {counts}.")
    problems = describe_problems(rec.problems)
    detail = f"; {problems}" if problems else ""
    # A failure's reason is often the reconciliation's own summary: say it once.
    why = f" ({_clause(e.reason)})" if e.reason and e.reason != rec.describe() else ""
    return Line(
        END_LEVELS.get(e.state, "error"),
        f"Session {e.session_id} {e.state}{why}: {counts}{detail}. "
        f"Next: {next_step(e.session_id, e.state, e.reason)}.",
    )


def _item_failed(e: Any) -> Line:
    return Line("error", f"Item {e.idx} failed: {_clause(e.reason)}.")


def _paired(e: Any) -> Line:
    return Line("ok", "The phone paired" + (f" from {_clause(e.peer)}." if e.peer else "."))


def _scored(e: Any) -> Line:
    # A background model's scores (rig.session.scoring): shown beside the item, never a dict.
    model = {"quality": "the quality model", "classify": "the classifier"}.get(
        e.model, _name(e.model) or "a model")
    if e.error:
        return Line("warn", f"Scoring item {e.idx} with {model} failed: {_clause(e.error)}.")
    scores = ", ".join(f"{_name(k).replace('_', ' ')} {float(v):.2f}"
                       for k, v in sorted(e.scores.items()))
    return Line("info", f"Item {e.idx} scored by {model}: {scores or 'no scores'}.")


_TELLERS: dict[str, Callable[[Any], Line]] = {
    "SessionStarted": _started,
    "ItemShown": _shown,
    "CaptureRequested": _requested,
    "CaptureStored": _stored,
    "CapturePending": _pending,
    "CaptureVerified": _verified,
    "CaptureRejected": _rejected,
    "CaptureFailed": _capture_failed,
    "CameraLost": _camera_lost,
    "SessionPaused": _paused,
    "SessionResumed": _resumed,
    "Progressed": _progressed,
    "SessionFinished": _finished,
    "PhonePaired": _paired,
    "ItemFailed": _item_failed,
    "CaptureScored": _scored,
}


# -- helpers --------------------------------------------------------------------------
def _items(n: int) -> str:
    return f"{n} item" if n == 1 else f"{n} items"


def _name(text: str) -> str:
    # A run or score name is free text: a typographic apostrophe keeps it from reading
    # like a dumped Python string ("'xception':").
    return _clause(text).replace("'", "\u2019")


def _clause(text: str) -> str:
    """A reason as part of a sentence: one line, no trailing full stop (we add our own)."""
    return " ".join(str(text).split()).rstrip(".")


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
