"""``rig export``: select pairs, split by patient, write a layout and its card atomically.

The export is built in a sibling temp folder and renamed into place at the end,
so a killed export never leaves a half-written dataset under the final name.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rig.errors import UsageError
from rig.export.card import build_card, card_markdown
from rig.export.layouts import LAYOUTS
from rig.export.pairs import SessionChoice, choose_sessions, select_pairs, stratum
from rig.export.splits import load_or_assign, parse_split, scheme_name
from rig.project import Project


@dataclass(frozen=True)
class ExportOptions:
    out: Path
    fmt: str = "chexphoto"
    split: str = "train=0.8,valid=0.1,test=0.1"
    seed: int = 0
    sessions: tuple[str, ...] = ()  # empty: the finished capture sessions
    include_unverified: bool = False
    force: bool = False
    include_replays: bool = False  # with no sessions named: QA replays too


def export(
    project: Project,
    options: ExportOptions,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Write the dataset; return its card (``warnings`` lists empty splits, skipped sessions).

    ``on_progress(done, total)`` is told each pair written (for a progress bar)."""
    if options.fmt not in LAYOUTS:
        raise UsageError(f"--format '{options.fmt}' unknown; use one of {', '.join(LAYOUTS)}")
    fractions = parse_split(options.split)
    out = options.out.resolve()
    if out.exists() and any(out.iterdir()) and not options.force:
        raise UsageError(f"{out} exists and is not empty; choose a new folder or pass --force")
    db = project.db()
    try:
        choice = choose_sessions(db, options.sessions, options.include_replays)
        pairs = (
            select_pairs(db, choice.sessions, options.include_unverified) if choice.sessions else []
        )
        if not pairs:
            raise UsageError(_nothing_to_export(choice))
        strata = _patient_strata(pairs)
        assignment = load_or_assign(db, strata, fractions, options.seed)
        for pair in pairs:
            pair.split = assignment[pair.patient]
        warnings = _warnings(pairs, fractions, choice)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        try:
            fetch = _counting_fetch(project.objects.get, pairs, on_progress)
            files = LAYOUTS[options.fmt]().write(tmp, pairs, fetch, list(fractions))
            card = build_card(db, pairs, options.fmt, scheme_name(fractions, options.seed), files,
                              project.config.rig_conditions)
            card["split_sizes"] = {
                name: card["split_sizes"].get(name, {"pairs": 0, "patients": 0})
                for name in fractions
            }
            card["skipped_sessions"] = list(choice.skipped)
            card["warnings"] = warnings
            (tmp / "dataset.json").write_text(json.dumps(card, indent=2, sort_keys=True))
            (tmp / "dataset.md").write_text(card_markdown(card))
            _replace_dir(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    finally:
        db.close()
    return card


def _counting_fetch(
    get: Callable[[str], bytes], pairs: Sequence[Any], on_progress: Callable[[int, int], None] | None
) -> Callable[[str], bytes]:
    """``get``, telling ``on_progress`` each time a pair's photo is fetched: every layout
    fetches each pair's photo exactly once, so layouts need not know about progress."""
    if on_progress is None:
        return get
    photos, total, done = {p.photo_sha256 for p in pairs}, len(pairs), [0]
    on_progress(0, total)

    def fetch(sha: str) -> bytes:
        data = get(sha)
        if sha in photos:
            done[0] += 1
            on_progress(min(done[0], total), total)
        return data

    return fetch


def _nothing_to_export(choice: SessionChoice) -> str:
    if choice.sessions:
        return "nothing to export: no verified pairs in the chosen sessions"
    skipped = f" (left out: {', '.join(choice.skipped[:5])})" if choice.skipped else ""
    return (
        f"nothing to export: no finished capture session{skipped}; name sessions "
        "(rig export ID… or --sessions ID,…) or pass --include-replays"
    )


def _warnings(
    pairs: Sequence[Any], fractions: dict[str, float], choice: SessionChoice
) -> list[str]:
    """One line per empty split and for sessions left out of a default export."""
    used = {pair.split for pair in pairs}
    patients = len({pair.patient for pair in pairs})
    out = [
        f"split '{name}' is empty ({patients} patient(s) for {len(fractions)} splits at "
        f"{name}={frac:g}); its file holds the header only"
        for name, frac in fractions.items()
        if name not in used
    ]
    if choice.skipped:
        out.append(
            f"left out {len(choice.skipped)} session(s) that are not finished capture sessions: "
            f"{', '.join(choice.skipped[:5])}{' …' if len(choice.skipped) > 5 else ''} "
            "(name them, or --include-replays)"
        )
    return out


def _patient_strata(pairs: Sequence[Any]) -> dict[str, str]:
    """One stratum per patient: the union of the positive labels of its sources."""
    positives: dict[str, set[str]] = {}
    for pair in pairs:
        found = stratum(pair.labels)
        positives.setdefault(pair.patient, set()).update(found.split("|") if found != "-" else [])
    return {p: "|".join(sorted(v)) or "-" for p, v in positives.items()}


def _replace_dir(tmp: Path, out: Path) -> None:
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
