"""The dataset card (dataset.json + dataset.md): what is in an export and how it was made."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

import sqlite_utils

import rig
from rig.export.pairs import Pair

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
    db: sqlite_utils.Database, pairs: list[Pair], fmt: str, scheme: str, files: dict[str, Any]
) -> dict[str, Any]:
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
        "registration_quality": {
            key: _quantiles([p.quality.get(key) for p in pairs])  # type: ignore[misc]
            for key in ("psnr_db", "ssim", "reproj_err_px", "residual_px")
        },
        "labels": sorted({k for p in pairs for k in p.labels}),
        "files": files,
        "privacy": "No patient identifiers: patients and studies are keyed pseudonyms; "
        "DICOM headers were de-identified (PS3.15 Basic Profile) at import.",
        "how_to_cite": CITATION,
    }


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
        "## How to cite",
        "",
        card["how_to_cite"],
        "",
    ]
    return "\n".join(lines)
