"""Commands of the hardware area: ``rig devices list|snapshot``, ``rig controller ...``."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from rig.atomic import write_bytes_atomic
from rig.cli.common import JsonOption, console, print_json
from rig.errors import InputError, UsageError

ControllerOption = Annotated[
    str | None,
    typer.Option("--controller", "-c", help="serial:PORT (e.g. serial:/dev/ttyACM0) or sim: "
                 "(default: $RIG_CONTROLLER)", show_default=False),
]


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this area's commands to the CLI."""
    devices = typer.Typer(help="Cameras and controllers attached to this computer.",
                          no_args_is_help=True)
    devices.command("list")(list_command)
    devices.command("snapshot")(snapshot_command)
    app.add_typer(devices, name="devices")
    controller = typer.Typer(help="The serial rig controller (lights, LED ring, bias light).",
                             no_args_is_help=True)
    controller.command("status")(status_command)
    controller.command("set")(set_command)
    controller.command("simulate")(simulate_command)
    app.add_typer(controller, name="controller")
    bench_app.command("controller")(bench_controller_command)


def list_command(json_out: JsonOption = False) -> None:
    """List video devices, libgphoto2 cameras and serial ports."""
    from rig.devices.discovery import list_devices

    found = list_devices()
    if json_out:
        print_json(found)
        return
    for kind, items in found.items():
        console.print(f"{kind}: {len(items) or 'none found'}")
        for item in items:
            note = "" if item.get("capture_node", True) else "  (metadata node, not a camera)"
            console.print(f"  {item['url']:<36} {item.get('name') or item.get('model')}{note}")


def snapshot_command(
    url: Annotated[str, typer.Argument(help="Camera URL: usb:0, usb:/dev/video2?width=3840, "
                                       "usb:clip.avi, gphoto:, sim:paper-lcd-iphone")],
    output: Annotated[Path, typer.Option("--output", "-o", help="JPEG file to write.")],
    frame: Annotated[Path | None, typer.Option(
        "--frame", help="Screen image the simulated camera photographs "
        "(sim: only; default: a generated test pattern).")] = None,
    json_out: JsonOption = False,
) -> None:
    """Take one photo with any camera backend and save it as a JPEG."""
    from rig.devices.urls import open_camera

    camera = open_camera(url)
    shown = _load_frame(frame) if frame else None
    if shown is None and url.startswith("sim:"):
        from rig.camsim.testframes import xray_like_frame

        shown = xray_like_frame(seed=0)

    async def shoot() -> Any:
        await camera.connect()
        try:
            return await camera.capture(shown)
        finally:
            await camera.close()

    photo = asyncio.run(shoot())
    write_bytes_atomic(output, photo.jpeg)
    facts = {"output": str(output), "bytes": len(photo.jpeg), "captured_at": photo.captured_at,
             "size": [int(photo.image.shape[1]), int(photo.image.shape[0])],
             "device": photo.device}
    if json_out:
        print_json(facts)
    else:
        console.print(f"wrote {output} ({facts['size'][0]}x{facts['size'][1]}, "
                      f"{facts['bytes']} bytes) from {photo.device.get('model', url)}")


def _load_frame(path: Path) -> Any:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"{path}: not a readable image (give a PNG/JPEG screen frame)")
    return image


def _controller_url(option: str | None) -> str:
    url = option or os.environ.get("RIG_CONTROLLER")
    if not url:
        raise UsageError("no controller given: use --controller serial:/dev/ttyACM0 (see "
                         "'rig devices list') or --controller sim:, or set RIG_CONTROLLER")
    return url


def status_command(controller: ControllerOption = None, json_out: JsonOption = False) -> None:
    """Show the controller's firmware, output levels and light sensor reading."""
    from rig.devices.urls import open_controller

    ctl: Any = open_controller(_controller_url(controller))

    async def ask() -> dict[str, Any]:
        await ctl.connect()
        try:
            return {"version": await ctl.version(), "outputs": await ctl.state(),
                    "sensor": await ctl.read_sensor()}
        finally:
            await ctl.close()

    status = asyncio.run(ask())
    if json_out:
        print_json(status)
        return
    v = status["version"]
    console.print(f"firmware {v.get('fw')} (protocol {v.get('proto')})")
    console.print("outputs  " + " ".join(f"{k}={x}" for k, x in status["outputs"].items()))
    console.print("sensor   " + " ".join(f"{k}={x:g}" for k, x in status["sensor"].items()))


def set_command(
    pairs: Annotated[list[str], typer.Argument(help="channel=value, e.g. light=dim ring=120 "
                                               "backlight=on (light/ring: off|dim|half|on|0-255)")],
    controller: ControllerOption = None,
    json_out: JsonOption = False,
) -> None:
    """Set controller outputs, e.g. ``rig controller set light=dim backlight=on``."""
    from rig.devices.urls import open_controller

    conditions = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key or not value:
            raise UsageError(f"'{pair}': expected channel=value, e.g. light=dim")
        conditions[key] = value
    ctl = open_controller(_controller_url(controller))

    async def apply() -> dict[str, str]:
        await ctl.connect()
        try:
            return await ctl.set(**conditions)
        finally:
            await ctl.close()

    applied = asyncio.run(apply())
    if json_out:
        print_json({"applied": applied})
    else:
        console.print("applied  " + " ".join(f"{k}={v}" for k, v in applied.items()))


def simulate_command(
    link: Annotated[Path | None, typer.Option(
        "--link", help="Also keep a symlink here to the pty (a stable path across restarts).")] = None,
    noise: Annotated[int | None, typer.Option(
        "--noise", help="Send random garbage before every reply (seed).")] = None,
    corrupt_every: Annotated[int, typer.Option(
        "--corrupt-every", help="Damage every N-th reply (0: never).")] = 0,
    silent: Annotated[bool, typer.Option("--silent", help="Never answer.")] = False,
) -> None:
    """Run a simulated controller on a new pseudo-terminal and print its path (until Ctrl-C)."""
    from rig.devices.pty_device import Faults, run

    def announce(path: str) -> None:
        print(path, flush=True)
        console.print(f"simulated rig controller on {path}; use --controller serial:{path} "
                      "(Ctrl-C to stop)")

    run(link, "rig-sim/1.0", Faults(noise, corrupt_every, silent), announce)


def bench_controller_command(
    requests: Annotated[int, typer.Option("--requests", "-n", help="SET requests per backend.")] = 200,
    json_out: JsonOption = False,
) -> None:
    """Round-trip time of controller requests: a pty-attached simulated board vs in-process."""
    from rig.devices.bench import bench_controller

    if requests < 1:
        raise UsageError(f"--requests must be >= 1, got {requests}")
    result = bench_controller(requests)
    if json_out:
        print_json(result)
    else:
        console.print(f"pty board: median {result['pty_median_ms']:.3f} ms per request; "
                      f"in-process: {result['inprocess_median_ms']:.4f} ms "
                      f"({result['pty_over_inprocess']:.0f}x)")
