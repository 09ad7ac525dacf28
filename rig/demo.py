"""``rig demo``: the main job on the embedded default, with no hardware and no downloads.

Today's pipeline: create a project, generate sample radiographs (rig bundles no
patient images), import them with their labels (de-identified), render every
source to its ground-truth display frame, and compose the first one on the
screen. Each later stage (capture session, registration, export, training) plugs
in as one more step here.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rig.atomic import write_bytes_atomic
from rig.imaging.compositor import compose
from rig.library.frames import encode_png, ensure_frame
from rig.library.importer import import_paths
from rig.library.samples import write_samples
from rig.project import Project, init_project


@dataclass
class DemoResult:
    project: Path
    steps: list[tuple[str, str]] = field(default_factory=list)  # (step, outcome)
    figures: dict[str, Any] = field(default_factory=dict)


def choose_project_dir(option: Path | None, env: str | None) -> Path:
    """``--project`` / ``$RIG_PROJECT`` if given, else a new folder (its path is printed)."""
    if option is not None:
        return option
    if env:
        return Path(env)
    return Path(tempfile.mkdtemp(prefix="rig-demo-"))


def run_demo(
    root: Path, n_images: int, seed: int = 0, say: Callable[[str], None] = lambda _s: None
) -> DemoResult:
    project = init_project(root)
    result = DemoResult(project=project.root)
    _import_samples(project, n_images, seed, result, say)
    _render_all(project, result, say)
    return result


def _import_samples(
    project: Project, n: int, seed: int, result: DemoResult, say: Callable[[str], None]
) -> None:
    # The samples carry fictitious identifiers; they are generated outside the
    # project so that only de-identified copies ever live under it.
    with tempfile.TemporaryDirectory(prefix="rig-samples-") as tmp:
        say(f"generating {n} sample radiographs (rig bundles no patient images)")
        labels = write_samples(Path(tmp), n_images=n, seed=seed)
        report = import_paths(project, [Path(tmp)], labels_csv=labels, recursive=True)
    data = report.to_dict()
    result.figures["import"] = data
    result.steps.append(
        (
            "import",
            f"{data['imported_sources']} sources, {data['labelled_sources']} labelled, "
            f"{len(report.skipped)} skipped",
        )
    )


def _render_all(project: Project, result: DemoResult, say: Callable[[str], None]) -> None:
    db = project.db()
    try:
        ids = [row["id"] for row in db.query("SELECT id FROM sources ORDER BY id")]
    finally:
        db.close()
    say(f"rendering {len(ids)} ground-truth frames")
    first = None
    for source_id in ids:
        truth = ensure_frame(project, source_id)
        first = first or truth
    if first is None:
        return
    screen = (project.config.display.screen_width, project.config.display.screen_height)
    canvas, _placement = compose(first.pixels, screen, "fit", border_px=64)
    out = project.root / "demo" / "screen_first_source.png"
    write_bytes_atomic(out, encode_png(canvas))
    result.figures["render"] = {"frames": len(ids), "first_facts": first.facts}
    result.steps.append(("render", f"{len(ids)} frames; first screen frame: {out}"))
