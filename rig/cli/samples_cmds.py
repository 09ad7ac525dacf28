"""Commands of the samples area: ``rig samples`` and ``rig bench samples``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from rig.cli.common import JsonOption, console, print_json
from rig.errors import UsageError
from rig.library.samples import CR_SIZE, DEFAULT_DIFFICULTY, SampleSpec, write_samples

SIZE_NAMES = {"demo": (720, 600), "cr": CR_SIZE}


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this area's commands to the CLI."""
    app.command("samples")(samples_command)
    bench_app.command("samples")(bench_samples_command)


def parse_size(text: str) -> tuple[int, int]:
    """``demo``, ``cr`` or ``ROWSxCOLUMNS`` → (rows, columns)."""
    if text in SIZE_NAMES:
        return SIZE_NAMES[text]
    match = re.fullmatch(r"(\d+)[xX](\d+)", text.strip())
    if not match or min(int(match[1]), int(match[2])) < 16:
        raise UsageError(f"--size {text!r}: use demo, cr or ROWSxCOLUMNS (each at least 16)")
    return int(match[1]), int(match[2])


def samples_command(
    out_dir: Annotated[Path, typer.Argument(help="Folder for the DICOMs and labels.csv.")],
    n_images: Annotated[int, typer.Option("--n", help="Number of images (2 per patient).")] = 24,
    seed: Annotated[int, typer.Option("--seed", help="Seed: same seed, same bytes.")] = 0,
    size: Annotated[str, typer.Option("--size", help="demo (720x600), cr (2500x2048) or ROWSxCOLUMNS.")] = "demo",
    bits: Annotated[int, typer.Option("--bits", help="Bits stored, 8–16.")] = 12,
    difficulty: Annotated[
        float, typer.Option("--difficulty", help="0 obvious findings … 1 most at the label threshold.")
    ] = DEFAULT_DIFFICULTY,
    monochrome1: Annotated[
        bool | None,
        typer.Option("--monochrome1/--monochrome2", help="Photometric interpretation of every image "
                     "(default: every fifth is MONOCHROME1)."),
    ] = None,
    identifiers_in_pixels: Annotated[
        bool, typer.Option("--identifiers-in-pixels", help="Burn the fictitious name/ID/date into the pixels.")
    ] = False,
    cases_csv: Annotated[
        Path | None, typer.Option("--cases-csv", help="Also write each image's severities, CTR and devices.")
    ] = None,
) -> None:
    """Write generated chest radiographs (DICOM) with a CheXpert-style labels.csv."""
    rows, cols = parse_size(size)
    if not 8 <= bits <= 16:
        raise UsageError(f"--bits {bits}: bits stored must be 8–16")
    if not 0.0 <= difficulty <= 1.0:
        raise UsageError(f"--difficulty {difficulty}: must be in [0, 1]")
    if n_images < 1:
        raise UsageError(f"--n {n_images}: must be at least 1")
    spec = SampleSpec(rows, cols, bits, difficulty, monochrome1, identifiers_in_pixels)
    with console.status(f"rendering {n_images} images of {rows}x{cols}"):
        labels = write_samples(out_dir, n_images, seed, spec, cases_csv)
    console.print(f"wrote {n_images} images and {labels}")


def bench_samples_command(
    n: Annotated[int, typer.Option("--n", help="Demo-size images (a third as many at CR size).")] = 6,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the drawn cases.")] = 0,
    difficulty: Annotated[float, typer.Option("--difficulty", help="Difficulty of the drawn cases.")] = DEFAULT_DIFFICULTY,
    figure: Annotated[
        Path | None, typer.Option("--figure", help="Also write a PNG: real radiographs beside generated ones.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Time the sample generator and compare its statistics with real radiographs."""
    from rig.bench.samples_bench import run_samples_bench, write_comparison_figure

    if n < 1:
        raise UsageError(f"--n {n}: must be at least 1")
    if figure is not None:
        console.print(f"figure: {write_comparison_figure(figure, seed)}")
    with console.status("rendering and measuring samples"):
        result = run_samples_bench(n, seed, difficulty)
    if as_json:
        print_json(result)
        return
    for name, size in result["generated"].items():
        console.print(f"{name} {size['rows']}x{size['columns']}: {size['render_s']:.3f} s per image "
                      f"(DICOM write {size['write_dicom_s']:.3f} s); inside bands {size['inside_bands']}")
    keys = ("psd_slope_low", "psd_slope_high", "edge_density", "mean", "sd")
    console.print("image            " + "  ".join(f"{k:>14s}" for k in keys))
    for name, stats in result["real"].items():
        console.print(f"{name:16s} " + "  ".join(f"{stats[k]:14.4f}" for k in keys))
    for name, size in result["generated"].items():
        console.print(f"{'generated ' + name:16s} " + "  ".join(f"{size['stats'][k]['mean']:14.4f}" for k in keys))
