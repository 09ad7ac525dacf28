"""Commands of the camera area: ``rig simulate-photo`` and ``rig bench simulate``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import cv2
import numpy as np
import typer

from rig.atomic import write_bytes_atomic, write_text_atomic
from rig.cli.common import JsonOption, console, flag_value, print_json
from rig.errors import InputError, UsageError


def read_frame(path: Path) -> np.ndarray:
    """An 8-bit gray or colour image file as (H, W) or (H, W, 3) BGR."""
    if not path.is_file():
        raise UsageError(f"{path}: no such frame file")
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise InputError(f"{path}: cannot read it as an image (give an 8-bit PNG)")
    if image.dtype != np.uint8:
        raise InputError(f"{path}: frames must be 8-bit, got {image.dtype}; "
                         "render it to the display's 8-bit frame first")
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]  # the display ignores alpha
    return np.asarray(image)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this area's commands to the CLI."""

    @app.command("simulate-photo")
    def simulate_photo(
        frame: Annotated[Path, typer.Argument(help="Screen frame (8-bit gray or RGB PNG).")],
        output: Annotated[Path, typer.Option("-o", "--output", help="Photo to write (JPEG).")],
        preset: Annotated[str, typer.Option(help="Preset name or a .toml file.")] = (
            "tripod-ideal"),
        seed: Annotated[int, typer.Option(help="Random seed (noise); same seed, same bytes.")] = 0,
        truth: Annotated[Path | None, typer.Option(
            help="Write the ground truth (parameters, seed, OpenCV geometry) as JSON.")] = None,
        set_: Annotated[list[str] | None, typer.Option(
            "--set", help="Override a setting: section.key=value (repeatable).")] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Photograph a screen frame with the simulated camera."""
        from rig.camsim import SimCamera, load_preset
        from rig.camsim.params import parse_override

        with flag_value():  # --preset and --set are typed values: a wrong one is usage (2)
            params = load_preset(preset)
            if set_:
                params = params.with_values(dict(parse_override(item) for item in set_))
        photo = SimCamera(params, seed=seed).capture(read_frame(frame))
        write_bytes_atomic(output, photo.jpeg)
        if truth is not None:
            write_text_atomic(truth, json.dumps(photo.truth, indent=2, sort_keys=True) + "\n")
        summary = {"photo": str(output), "truth": str(truth) if truth else None,
                   "preset": params.name, "seed": seed, "image_size": photo.truth["image_size"],
                   "jpeg_bytes": len(photo.jpeg)}
        if as_json:
            print_json(summary)
        else:
            w, h = photo.truth["image_size"]
            console.print(f"wrote {output} ({w}x{h}, preset {params.name}, seed {seed})"
                          + (f" and {truth}" if truth else ""))

    @bench_app.command("simulate")
    def bench_simulate(
        preset: Annotated[str, typer.Option(help="Preset to time.")] = "paper-lcd-iphone",
        repeats: Annotated[int, typer.Option(min=1, help="Runs per timing (median).")] = 5,
        as_json: JsonOption = False,
    ) -> None:
        """Time a 12 MP simulated photo against a cv2.warpPerspective baseline."""
        from rig.camsim.bench import run_simulate_bench

        result = run_simulate_bench(preset, repeats)
        if as_json:
            print_json(result)
            return
        console.print(
            f"{result['megapixels']:.1f} MP photo from a {result['frame_size'][0]}x"
            f"{result['frame_size'][1]} frame: {result['photo_s'] * 1000:.0f} ms "
            f"(pose cached; first photo {result['first_photo_s'] * 1000:.0f} ms, pose tables "
            f"{result['scene_build_s'] * 1000:.0f} ms); baseline warpPerspective "
            f"{result['baseline_warp_perspective_s'] * 1000:.0f} ms; ratio "
            f"{result['ratio_photo_to_baseline']:.1f}x")
