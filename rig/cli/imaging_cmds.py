"""Commands of the imaging area: ``rig render`` and ``rig bench render``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from rig.atomic import write_bytes_atomic
from rig.cli.common import JsonOption, ProjectOption, console, print_json, project_from
from rig.errors import UsageError
from rig.imaging import codec


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this area's commands to the CLI."""
    app.command("render")(render_command)
    bench_app.command("render")(bench_render_command)


def render_command(
    src: Annotated[str, typer.Argument(help="DICOM/PNG/JPEG/TIFF file, or a source id.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG file to write.")],
    frame: Annotated[
        int | None, typer.Option("--frame", help="0-based frame (default: the source's, else 0).")
    ] = None,
    window: Annotated[
        tuple[float, float] | None,
        typer.Option("--window", help="Window CENTER WIDTH (overrides the stored VOI)."),
    ] = None,
    voi: Annotated[
        int | None, typer.Option("--voi", help="Use the N-th stored window / VOI LUT (0-based).")
    ] = None,
    overlays: Annotated[bool, typer.Option("--overlays", help="Burn in overlay planes.")] = False,
    json_out: JsonOption = False,
    project: ProjectOption = None,
) -> None:
    """Render SRC to the 8-bit display frame (native size, no resampling) as a PNG."""
    from rig.imaging.render import RenderOptions, render_path

    path, default_frame = _resolve(src, project)
    if frame is not None and frame < 0:
        raise UsageError(f"--frame must be >= 0, got {frame}")
    if voi is not None and voi < 0:
        raise UsageError(f"--voi must be >= 0, got {voi}")
    options = RenderOptions(
        frame=default_frame if frame is None else frame,
        window=window,
        voi_index=voi,
        burn_overlays=overlays,
    )
    rendered = render_path(path, options)
    write_bytes_atomic(output, encode_png(rendered.pixels))
    facts = {**rendered.facts, "output": str(output), "source": src}
    if json_out:
        print_json(facts)
    else:
        height, width = rendered.pixels.shape[:2]
        console.print(
            f"wrote {output} ({width}x{height}, {facts.get('photometric')}, "
            f"VOI {facts.get('voi_source')} c={facts.get('window_center')} "
            f"w={facts.get('window_width')})"
        )


def encode_png(pixels: np.ndarray) -> bytes:
    """Lossless PNG bytes of a uint8 gray (H, W) or RGB (H, W, 3) frame."""
    return codec.encode_png(pixels, order=codec.RGB)


def _resolve(src: str, project: Path | None) -> tuple[Path, int]:
    """A file path as given, or (all digits, no such file) a source id in the project."""
    path = Path(src)
    if path.exists():
        return path, 0
    if src.isdigit():
        from rig.library.sources import resolve_source

        ref = resolve_source(project_from(project), int(src))
        return ref.path, ref.frame
    raise UsageError(f"{src}: no such file (and not a source id)")


def bench_render_command(
    runs: Annotated[int, typer.Option("--runs", help="Timed runs per case (median).")] = 5,
    size: Annotated[int, typer.Option("--size", help="Image side in pixels.")] = 2048,
    import_files: Annotated[
        int, typer.Option("--import-files", help="Small DICOMs for the import throughput (0: skip).")
    ] = 1000,
    json_out: JsonOption = False,
) -> None:
    """Time rig's load+render against dcm2pnm on a synthetic 12-bit image, and import throughput."""
    from rig.bench.import_bench import run_import_bench
    from rig.bench.render_bench import run_render_bench

    if runs < 1 or size < 64 or import_files < 0:
        raise UsageError("--runs must be >= 1, --size >= 64 and --import-files >= 0")
    result = run_render_bench(runs=runs, size=size)
    if import_files:
        result["import"] = run_import_bench(import_files)
    if json_out:
        print_json(result)
        return
    for case, row in result["render"].items():
        console.print(
            f"{case}: rig {row['rig_ms']:.1f} ms, dcm2pnm {row.get('dcm2pnm_ms')} ms "
            f"(ratio {row.get('ratio_rig_to_dcm2pnm')}) {row.get('note', '')}"
        )
    if "import" in result:
        imp = result["import"]
        console.print(
            f"import: {imp['import_files_per_s']} files/s over {imp['files']} files "
            f"(read+decode alone: {imp['read_decode_files_per_s']} files/s)"
        )
