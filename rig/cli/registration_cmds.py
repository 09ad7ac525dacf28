"""Commands of the registration area: compose, register-photo, calibrate, bench registration."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import numpy as np
import typer

from calibration.fiducials import FiducialLayout, LayoutError
from calibration.framecode import FrameCode
from calibration.patterns import CharucoSpec, charuco_spec_for
from calibration.registration import SessionCalibration
from rig.atomic import write_bytes_atomic, write_text_atomic
from rig.cli.common import JsonOption, ProjectOption, console, print_json, project_from
from rig.errors import EXIT_REJECTED, InputError, UsageError
from rig.imaging import codec
from rig.imaging.compositor import resolve_placement
from rig.imaging.screen import read_photo, write_png

T = TypeVar("T")

ScreenOption = Annotated[str, typer.Option("--screen", help="Screen size WxH in pixels.")]
LayoutOption = Annotated[
    Path | None, typer.Option("--layout", help="Fiducial layout JSON (default: built-in).")
]


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this area's commands to the CLI."""
    app.command("compose")(compose_command)
    app.command("register-photo")(register_photo_command)
    calibrate = typer.Typer(help="Session calibration: patterns, lens, tone.", no_args_is_help=True)
    calibrate.command("patterns")(patterns_command)
    calibrate.command("session")(calibrate_session_command)
    calibrate.command("tone")(calibrate_tone_command)
    calibrate.command("camera")(calibrate_camera_command)
    app.add_typer(calibrate, name="calibrate")
    bench_app.command("registration")(bench_registration_command)


# --- parsing helpers -------------------------------------------------------------------


def parse_screen(text: str) -> tuple[int, int]:
    """'1920x1080' -> (1920, 1080)."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise UsageError(f"--screen '{text}': expected WxH, e.g. 1920x1080")
    width, height = int(parts[0]), int(parts[1])
    if width < 64 or height < 64:
        raise UsageError(f"--screen {text}: too small")
    return width, height


def parse_code_fields(text: str) -> dict[str, int]:
    """'{"index": 3}' or 'index=3,attempt=0' -> {'index': 3, 'attempt': 0}."""
    allowed = set(FrameCode.__dataclass_fields__)
    try:
        raw: Any = json.loads(text) if text.strip().startswith("{") else None
        if raw is None:
            raw = dict(item.split("=", 1) for item in text.split(",") if item.strip())
        fields = {str(k).strip(): int(v) for k, v in raw.items()}
    except (ValueError, AttributeError) as exc:
        raise UsageError(f"--expect-code '{text}': use JSON or session=S,index=I,...") from exc
    unknown = set(fields) - allowed
    if unknown:
        raise UsageError(f"--expect-code: unknown field(s) {', '.join(sorted(unknown))}")
    return fields


def load_layout(path: Path | None) -> FiducialLayout:
    return FiducialLayout.from_dict(_read_json(path)) if path is not None else FiducialLayout()


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable JSON file ({exc})") from exc
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object")
    return data


def _load_source_image(src: str, project: Path | None) -> np.ndarray:
    """Render SRC (file or source id) to the display frame, BGR if in colour."""
    from rig.imaging.render import RenderOptions, render_path

    path, frame = Path(src), 0
    if not path.exists():
        if not src.isdigit():
            raise InputError(f"{src}: no such file (and not a source id)")
        from rig.library.sources import resolve_source

        ref = resolve_source(project_from(project), int(src))
        path, frame = ref.path, ref.frame
    pixels = render_path(path, RenderOptions(frame=frame)).pixels
    return codec.to_bgr(pixels, codec.RGB)


# --- compose ---------------------------------------------------------------------------


def compose_command(
    src: Annotated[str, typer.Argument(help="DICOM/PNG/JPEG/TIFF file, or a source id.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Screen frame PNG to write.")],
    screen: ScreenOption,
    index: Annotated[int, typer.Option("--index", help="Item index in the session.")] = 0,
    session: Annotated[int, typer.Option("--session", help="Session number (0-65535).")] = 0,
    attempt: Annotated[int, typer.Option("--attempt", help="Attempt number (0-15).")] = 0,
    placement: Annotated[
        str | None,
        typer.Option(
            "--placement",
            help="auto | 1:1 | integer | fit (default: rig.toml [display] of the project, "
            "else auto).",
        ),
    ] = None,
    layout_path: LayoutOption = None,
    json_out: JsonOption = False,
    project: ProjectOption = None,
) -> None:
    """Write the exact screen frame the display would show: image, fiducials, frame code."""
    from rig.imaging.screen import compose_screen_frame, encode_screen_png

    screen_wh = parse_screen(screen)
    placement = resolve_placement(placement, None, _configured_placement(project))
    try:
        code = FrameCode(session, index, attempt, 0)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    layout = load_layout(layout_path)
    image = _load_source_image(src, project)
    frame = compose_screen_frame(image, screen_wh, layout, code, placement)
    write_bytes_atomic(output, encode_screen_png(frame))
    if json_out:
        print_json({**frame.meta(), "output": str(output), "source": src})
    else:
        p = frame.placement
        console.print(
            f"wrote {output} ({screen_wh[0]}x{screen_wh[1]}; image {p.width}x{p.height} at "
            f"({p.offset_x},{p.offset_y}) scale {p.scale:g} ({p.mode}"
            f"{f', reduced {p.reduction}x' if p.reduction > 1 else ''}); code index {index})"
        )


def _configured_placement(project: Path | None) -> str | None:
    """``[display] placement`` of the project's rig.toml, if there is a project."""
    from rig.project import locate_project

    try:
        return locate_project(project).config.display.placement
    except UsageError:
        if project is not None:
            raise
        return None  # composing outside any project: the default applies


# --- register-photo --------------------------------------------------------------------


def register_photo_command(
    photo: Annotated[Path, typer.Argument(help="Photo of the screen (JPEG/PNG).")],
    frame_path: Annotated[Path, typer.Option("--frame", help="Screen frame PNG it should show.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Aligned photo PNG to write.")],
    mask_path: Annotated[
        Path | None, typer.Option("--mask", help="Also write the valid-pixel mask PNG.")
    ] = None,
    calibration_path: Annotated[
        Path | None, typer.Option("--session-calibration", help="Session calibration JSON.")
    ] = None,
    expect: Annotated[
        str | None,
        typer.Option("--expect-code", help="Expected code: JSON or index=I,attempt=A,..."),
    ] = None,
    layout_path: LayoutOption = None,
    refine: Annotated[
        bool, typer.Option("--refine/--no-refine", help="ECC refinement on the content.")
    ] = False,
    drift_px: Annotated[
        float, typer.Option("--drift-px", help="Drift threshold vs the calibration pose.")
    ] = 3.0,
    tone_path: Annotated[
        Path | None,
        typer.Option("--tone-curve", help="Map the aligned photo to display levels (JSON)."),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Register PHOTO to FRAME; exit 0 if the pair is accepted, 3 if rejected."""
    from calibration.photometric import ToneCurve
    from rig.registration import read_frame_file, register_photo_file

    fields = None if expect is None else parse_code_fields(expect)  # usage errors first
    frame = read_frame_file(frame_path)
    try:
        layout = load_layout(layout_path) if layout_path else None
    except (TypeError, LayoutError) as exc:
        raise InputError(f"fiducial layout: {exc}") from exc
    calibration = None
    if calibration_path is not None:
        calibration = _from_json(
            SessionCalibration.from_dict, calibration_path, "a session calibration"
        )
    tone = None if tone_path is None else _from_json(ToneCurve.from_dict, tone_path, "a tone curve")
    reg = register_photo_file(
        photo,
        frame,
        layout=layout,
        code_fields=fields,
        calibration=calibration,
        refine=refine,
        drift_threshold_px=drift_px,
        tone=tone,
    )
    out: dict[str, Any] = {**reg.to_dict(), "photo": str(photo), "frame": str(frame_path)}
    if reg.accepted and reg.aligned is not None and reg.mask is not None:
        write_png(output, reg.aligned)
        if mask_path is not None:
            write_png(mask_path, reg.mask.astype(np.uint8) * 255)
        out["output"] = str(output)
    if json_out:
        print_json(out)
    else:
        r = reg.result
        console.print(
            f"{r.verdict}: {r.reason} (markers {r.markers_found}/{r.markers_expected}, "
            f"reproj rms {_fmt(r.reproj_rms_px)} px, PSNR {_fmt(r.psnr_db)} dB, "
            f"SSIM {_fmt(r.ssim)})"
        )
    if not reg.accepted:
        raise typer.Exit(code=EXIT_REJECTED)


def _from_json(build: Callable[[dict[str, Any]], T], path: Path, what: str) -> T:
    try:
        return build(_read_json(path))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: not {what} ({exc})") from exc


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


# --- calibrate ---------------------------------------------------------------------------


def patterns_command(
    outdir: Annotated[Path, typer.Argument(help="Folder for the calibration frames.")],
    screen: ScreenOption,
    square_px: Annotated[int, typer.Option("--square-px", help="ChArUco square size.")] = 64,
    session: Annotated[int, typer.Option("--session", help="Session number.")] = 0,
    layout_path: LayoutOption = None,
    json_out: JsonOption = False,
) -> None:
    """Write charuco.png (+ charuco.json), grey-steps.png and ramp.png screen frames."""
    from calibration.patterns import draw_charuco, draw_grey_steps, draw_ramp
    from rig.imaging.screen import compose_screen_frame, encode_screen_png

    screen_wh = parse_screen(screen)
    layout = load_layout(layout_path)
    try:
        spec = charuco_spec_for(screen_wh, square_px)
    except ValueError as exc:
        raise UsageError(f"--square-px: {exc}") from exc
    b = layout.border_px
    inner = (screen_wh[0] - 2 * b, screen_wh[1] - 2 * b)
    write_png(outdir / "charuco.png", draw_charuco(screen_wh, spec))
    write_text_atomic(outdir / "charuco.json", json.dumps(spec.to_dict(), indent=2) + "\n")
    written = {"charuco": str(outdir / "charuco.png")}
    for k, (name, image) in enumerate(
        (("grey-steps", draw_grey_steps(inner)), ("ramp", draw_ramp(inner)))
    ):
        frame = compose_screen_frame(image, screen_wh, layout, FrameCode(session, k, 0, 0))
        write_bytes_atomic(outdir / f"{name}.png", encode_screen_png(frame))
        written[name] = str(outdir / f"{name}.png")
    if json_out:
        print_json({"files": written, "charuco": spec.to_dict(), "layout": layout.to_dict()})
    else:
        console.print(f"wrote {', '.join(written.values())}")


def _charuco_spec(spec_path: Path | None, screen_wh: tuple[int, int]) -> CharucoSpec:
    """The ChArUco board a calibration photo shows: from --charuco, else the screen's default."""
    return (
        CharucoSpec.from_dict(_read_json(spec_path)) if spec_path else charuco_spec_for(screen_wh)
    )


def calibrate_session_command(
    photo: Annotated[Path, typer.Argument(help="Photo of charuco.png on the screen.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Calibration JSON to write.")],
    screen: ScreenOption,
    spec_path: Annotated[
        Path | None, typer.Option("--charuco", help="charuco.json (default: from --screen).")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Fit the session's lens distortion and reference pose from a ChArUco photo."""
    from calibration.session import calibrate_session

    screen_wh = parse_screen(screen)
    spec = _charuco_spec(spec_path, screen_wh)
    try:
        cal = calibrate_session(read_photo(photo), spec, screen_wh)
    except ValueError as exc:
        raise InputError(f"{photo}: {exc}") from exc
    write_text_atomic(output, json.dumps(cal.to_dict(), indent=2) + "\n")
    if json_out:
        print_json({**cal.to_dict(), "output": str(output)})
    else:
        console.print(f"wrote {output} (fit rms {cal.rms_px:.3f} px)")


def calibrate_camera_command(
    photos: Annotated[list[Path], typer.Argument(help="3+ photos of charuco.png, varied tilts.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Calibration JSON to write.")],
    screen: ScreenOption,
    pitch_mm: Annotated[float, typer.Option("--pitch-mm", help="Screen pixel pitch in mm.")],
    spec_path: Annotated[
        Path | None, typer.Option("--charuco", help="charuco.json (default: from --screen).")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Camera intrinsics and lens from several ChArUco views (a session calibration file)."""
    from calibration.session import calibrate_camera

    screen_wh = parse_screen(screen)
    if pitch_mm <= 0:
        raise UsageError(f"--pitch-mm must be > 0, got {pitch_mm}")
    spec = _charuco_spec(spec_path, screen_wh)
    try:
        cal, matrix, rms = calibrate_camera(
            [read_photo(p) for p in photos], spec, screen_wh, pitch_mm
        )
    except ValueError as exc:
        raise InputError(f"camera calibration: {exc}") from exc
    out = {**cal.to_dict(), "camera_matrix": matrix.tolist(), "rms_px": rms}
    write_text_atomic(output, json.dumps(out, indent=2) + "\n")
    if json_out:
        print_json({**out, "output": str(output)})
    else:
        console.print(f"wrote {output} (reprojection rms {rms:.3f} px over {len(photos)} photos)")


def calibrate_tone_command(
    photo: Annotated[Path, typer.Argument(help="Photo of grey-steps.png on the screen.")],
    frame_path: Annotated[Path, typer.Option("--frame", help="The grey-steps.png frame.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Tone curve JSON to write.")],
    json_out: JsonOption = False,
) -> None:
    """Fit the display-to-camera tone curve from a photo of the grey steps."""
    from rig.registration import fit_tone_from_photo, read_frame_file

    fit = fit_tone_from_photo(photo, read_frame_file(frame_path))
    write_text_atomic(output, json.dumps(fit.to_dict(), indent=2) + "\n")
    if json_out:
        print_json({**fit.to_dict(), "output": str(output)})
    else:
        console.print(f"wrote {output} ({fit.levels} grey levels)")


# --- bench -------------------------------------------------------------------------------


def bench_registration_command(
    n: Annotated[int, typer.Option("--n", help="Photos per preset.")] = 4,
    preset: Annotated[
        list[str] | None, typer.Option("--preset", help="Camera preset (repeatable; default all).")
    ] = None,
    refine: Annotated[bool, typer.Option("--refine/--no-refine", help="ECC refinement.")] = False,
    corpus: Annotated[
        bool,
        typer.Option(
            "--corpus", help="The conformance matrix: real-like corpus x presets x seeds."
        ),
    ] = False,
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds per preset (--corpus).")] = 3,
    workers: Annotated[int, typer.Option("--workers", help="Processes (--corpus).")] = 2,
    image: Annotated[
        list[str] | None,
        typer.Option("--image", help="Corpus image by name (repeatable; default all)."),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Registration accuracy, code decode and rejection rates, time per photo, per preset.

    With --corpus: every corpus image (generated hospital-like files plus the real public
    files installed packages ship) through compose -> every preset x seeds -> verify, and
    wrong / stale / half-refreshed / torn photos through rejection.
    """
    from rig.bench.registration_bench import run_registration_bench

    if n < 1 or seeds < 1 or workers < 1:
        raise UsageError("--n, --seeds and --workers must be >= 1")
    if corpus:
        _bench_corpus(preset or None, image or None, seeds, workers, json_out)
        return
    result = run_registration_bench(n=n, presets=preset or None, refine=refine)
    if json_out:
        print_json(result)
        return
    for name, row in result["presets"].items():
        console.print(
            f"{name}: rms {row['rms_px']:.3f} px, max {row['max_px']:.3f} px, decode "
            f"{row['decode_rate']:.0%}, good accepted {row['good_accept_rate']:.0%}, wrong "
            f"rejected {row['wrong_reject_rate']:.0%}, {row['time_s_median']:.2f} s/photo"
        )


def _bench_corpus(
    presets: list[str] | None,
    images: list[str] | None,
    seeds: int,
    workers: int,
    json_out: bool,
) -> None:
    import tempfile

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from rig.bench.conformance import run_conformance
    from rig.camsim import preset_names
    from rig.library.corpus import public_files, write_corpus

    with tempfile.TemporaryDirectory(prefix="rig-corpus-") as folder:
        files = [*write_corpus(Path(folder), names=images), *public_files()]
        if images:
            unknown = sorted(set(images) - {f.name for f in files})
            if unknown:
                raise UsageError(
                    f"--image {unknown[0]}: not in the corpus; known: "
                    + ", ".join(f.name for f in files)
                )
            files = [f for f in files if f.name in images]
        names = presets or preset_names()
        if unknown_presets := sorted(set(names) - set(preset_names())):
            raise UsageError(
                f"--preset {unknown_presets[0]}: use one of {', '.join(preset_names())}"
            )
        with Progress(
            "conformance", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=console
        ) as progress:
            task = progress.add_task("cells", total=len(names) * seeds)
            result = run_conformance(
                files,
                names,
                seeds,
                workers=workers,
                on_cell=lambda done, _total, _rows: progress.update(task, completed=done),
            )
    if json_out:
        print_json(result)
        return
    for name, row in result["by_image"].items():
        console.print(
            f"{name:34s} {row['modality']:4s} {row['placement']:20s} accepted first "
            f"{row['accepted_first']}/{row['photos']}, wrong rejected {row['wrong_rejected']}/"
            f"{row['wrong_total']}, rms {_fmt(row['rms_px_median'])} px"
        )
    console.print(
        f"{result['images']} images x {result['presets']} presets x {result['seeds']} seeds: "
        f"accepted first {result['accepted_first']}/{result['photos']}, false rejects "
        f"{result['false_rejects']}, wrong rejected {result['wrong_rejected']}/"
        f"{result['wrong_total']}, rms median {_fmt(result['rms_px_median'])} px"
    )
