"""The dataset card (dataset.json + dataset.md): what is in an export and how it was made."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

import sqlite_utils

import rig
from rig.export.pairs import Pair
from rig.library.sources import burned_in_of

CITATION = (
    "Exported with rig (https://example.invalid/rig), an automated screen-photo pairing rig. "
    "Please cite rig and the CheXphoto dataset paper (Phillips et al., 2020) when you use "
    "this data."
)


def _quantiles(values: list[float]) -> dict[str, float] | None:
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    qs = statistics.quantiles(values, n=20) if len(values) > 1 else [values[0]] * 19
    return {
        "min": values[0],
        "p05": qs[0],
        "median": statistics.median(values),
        "p95": qs[-1],
        "max": values[-1],
        "mean": statistics.fmean(values),
    }


def build_card(
    db: sqlite_utils.Database,
    pairs: list[Pair],
    fmt: str,
    scheme: str,
    files: dict[str, Any],
    this_rig: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The card; ``this_rig`` (``ProjectConfig.rig_conditions``) describes the rig of pairs that
    do not name theirs (an unmerged project's)."""
    sessions = sorted({p.session_id for p in pairs})
    rows = {r["id"]: r for r in db.query("SELECT id, camera, created_at, state FROM sessions")}
    conditions: dict[str, Counter[str]] = {}
    for pair in pairs:
        for key, value in pair.conditions.items():
            conditions.setdefault(key, Counter())[str(value)] += 1
    split_sizes = Counter(p.split for p in pairs)
    return {
        "software": {"name": "rig", "version": rig.__version__},
        "format": fmt,
        "split_scheme": scheme,
        "sessions": [
            {"id": s, **{k: rows[s][k] for k in ("camera", "created_at", "state")}}
            for s in sessions
            if s in rows
        ],
        "counts": {
            "pairs": len(pairs),
            "verified_pairs": sum(p.verified for p in pairs),
            "patients": len({p.patient for p in pairs}),
            "studies": len({p.study for p in pairs}),
            "sources": len({p.source_id for p in pairs}),
        },
        "split_sizes": {
            s: {"pairs": n, "patients": len({p.patient for p in pairs if p.split == s})}
            for s, n in sorted(split_sizes.items())
        },
        "conditions": {k: dict(v) for k, v in sorted(conditions.items())},
        "rigs": rigs_summary(pairs, this_rig or {}),
        "registration_quality": {
            key: _quantiles([p.quality.get(key) for p in pairs])  # type: ignore[misc]
            for key in ("psnr_db", "ssim", "reproj_err_px", "residual_px")
        },
        "labels": sorted({k for p in pairs for k in p.labels}),
        "files": files,
        "burned_in_text": (text := burned_in_summary(db, {p.source_id for p in pairs})),
        "privacy": privacy_statement(text),
        "how_to_cite": CITATION,
    }


def rigs_summary(pairs: list[Pair], this_rig: dict[str, str]) -> list[dict[str, Any]]:
    """One entry per rig (rig.merge records ``rig`` with every merged pair; other pairs
    were made on ``this_rig``): its monitors, cameras, sessions, pairs, patients and pairs
    per split."""
    by_rig: dict[str, list[Pair]] = {}
    for pair in pairs:
        by_rig.setdefault(str(_of(pair, this_rig, "rig", "-")), []).append(pair)
    return [
        {
            "rig": name,
            "monitors": _counts(_of(p, this_rig, "monitor", "not recorded") for p in group),
            "cameras": _counts(_camera(p) for p in group),
            "sessions": len({p.session_id for p in group}),
            "pairs": len(group),
            "patients": len({p.patient for p in group}),
            "splits": _counts(p.split for p in group),
        }
        for name, group in sorted(by_rig.items())
    ]


def _of(pair: Pair, this_rig: dict[str, str], key: str, missing: str) -> str:
    """A rig fact of the pair: its own (merged), else this rig's (unless it names another)."""
    if key in pair.conditions:
        return str(pair.conditions[key])
    own = "rig" not in pair.conditions or pair.conditions["rig"] == this_rig.get("rig")
    return this_rig.get(key, missing) if own else missing


def _camera(pair: Pair) -> str:
    """The camera that took the pair: its model where merged, else the preset or URL."""
    c = pair.conditions
    return str(c.get("camera_model") or c.get("preset") or c.get("camera") or "-")


def _counts(values: Any) -> dict[str, int]:
    return dict(sorted(Counter(str(v) for v in values).items()))


def _rigs_table(rigs: list[dict[str, Any]]) -> list[str]:
    def cell(counts: dict[str, int]) -> str:
        return ", ".join(f"{k} ({n})" for k, n in counts.items())

    return [
        "| rig | monitors | cameras | sessions | pairs | patients | pairs per split |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {r['rig']} | {cell(r['monitors'])} | {cell(r['cameras'])} | {r['sessions']} | "
            f"{r['pairs']} | {r['patients']} | {cell(r['splits'])} |"
            for r in rigs
        ),
        "",
    ]


TEXT_STATUSES = ("masked", "clear", "kept", "not_at_risk", "unchecked")


def burned_in_summary(db: sqlite_utils.Database, source_ids: set[int]) -> dict[str, Any]:
    """What the import's burned-in text check did to the exported sources, per modality."""
    checks = burned_in_of(db)
    modality = {
        int(r["id"]): r["modality"] or "raster/unknown"
        for r in db.query("SELECT id, modality FROM sources")
    }
    by_modality: dict[str, Counter[str]] = {}
    modes: Counter[str] = Counter()
    engines: set[str] = set()
    regions = 0
    for source_id in sorted(source_ids):
        check = checks.get(source_id, {"status": "unchecked"})
        counts = by_modality.setdefault(modality.get(source_id, "raster/unknown"), Counter())
        counts["sources"] += 1
        counts[str(check["status"])] += 1
        counts["regions"] += len(check.get("regions") or [])
        regions += len(check.get("regions") or [])
        if "mode" in check:
            modes[str(check["mode"])] += 1
        if check.get("engine"):
            engines.add(str(check["engine"]))
    totals: Counter[str] = sum(by_modality.values(), Counter())
    return {
        "modes": dict(sorted(modes.items())),
        "engines": sorted(engines),
        "masked_in": "stored pixel data (ground truth, displayed frames and photos)",
        "by_modality": {
            m: {k: c[k] for k in ("sources", *TEXT_STATUSES, "regions")}
            for m, c in sorted(by_modality.items())
        },
        "totals": {k: totals[k] for k in ("sources", *TEXT_STATUSES)} | {"regions": regions},
    }


def privacy_statement(text: dict[str, Any]) -> str:
    """What was done, and what was not: no blanket claim (issue 23)."""
    t = text["totals"]
    checked = t["masked"] + t["clear"]
    engine = ", ".join(text["engines"]) or "no OCR"
    lines = [
        "Patients and studies are keyed pseudonyms; DICOM headers were de-identified "
        "(PS3.15 Basic Profile) at import.",
        f"Burned-in text: {checked} of {t['sources']} sources were read by OCR ({engine}, "
        f"modes: {', '.join(f'{m} {n}' for m, n in text['modes'].items()) or 'none'}); "
        f"{t['masked']} had {t['regions']} text regions masked in the stored pixel data, "
        "so they are masked in ground truth and photos alike.",
    ]
    if t["kept"]:
        lines.append(
            f"{t['kept']} sources were imported with --burned-in keep and were NOT checked: "
            "they may show names, ids or dates."
        )
    if t["unchecked"]:
        lines.append(
            f"{t['unchecked']} sources were imported before the burned-in text check and "
            "were NOT checked."
        )
    if t["not_at_risk"]:
        lines.append(
            f"{t['not_at_risk']} sources were not read (their modality and BurnedInAnnotation "
            "NO say they carry no burned-in text)."
        )
    lines.append("OCR finds legible text, not every identifier: review images before sharing.")
    return " ".join(lines)


def _text_table(text: dict[str, Any]) -> list[str]:
    header = ("modality", "sources", *TEXT_STATUSES, "regions")
    rows = [
        f"| {m} | " + " | ".join(str(c[k]) for k in header[1:]) + " |"
        for m, c in text["by_modality"].items()
    ]
    return [
        "Burned-in text check per modality (sources; regions masked):",
        "",
        "| " + " | ".join(h.replace("_", " ") for h in header) + " |",
        "|" + "---|" * len(header),
        *rows,
        "",
    ]


def card_markdown(card: dict[str, Any]) -> str:
    lines = [
        "# Dataset card",
        "",
        f"Exported by rig {card['software']['version']} as `{card['format']}`; "
        f"split scheme `{card['split_scheme']}`.",
        "",
        "## Counts",
        "",
        *(f"- {k.replace('_', ' ')}: {v}" for k, v in card["counts"].items()),
        "",
        "## Splits",
        "",
        "| split | pairs | patients |",
        "|---|---|---|",
        *(f"| {s} | {v['pairs']} | {v['patients']} |" for s, v in card["split_sizes"].items()),
        "",
        "## Rigs",
        "",
        *_rigs_table(card.get("rigs", [])),
        "## Sessions",
        "",
        *(
            f"- `{s['id']}`: camera `{s['camera']}`, {s['state']}, created {s['created_at']}"
            for s in card["sessions"]
        ),
        "",
        "## Capture conditions",
        "",
        *(
            f"- {k}: " + ", ".join(f"{val} ({n})" for val, n in v.items())
            for k, v in card["conditions"].items()
        ),
        "",
        "## Registration quality",
        "",
        "| measure | min | median | p95 | max |",
        "|---|---|---|---|---|",
    ]
    for key, q in card["registration_quality"].items():
        if q:
            lines.append(
                f"| {key} | {q['min']:.3g} | {q['median']:.3g} | {q['p95']:.3g} | {q['max']:.3g} |"
            )
    lines += [
        "",
        "## Labels",
        "",
        ", ".join(card["labels"]) or "none",
        "",
        "## Warnings",
        "",
        *(f"- {w}" for w in card.get("warnings", [])),
        *([] if card.get("warnings") else ["none"]),
        "",
        "## Privacy",
        "",
        card["privacy"],
        "",
        *_text_table(card["burned_in_text"]),
        "## How to cite",
        "",
        card["how_to_cite"],
        "",
    ]
    return "\n".join(lines)
