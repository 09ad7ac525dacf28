"""What is attached: V4L2 video nodes, serial ports, libgphoto2 cameras (for ``rig devices list``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rig.devices.gphoto_camera import list_gphoto_cameras

SYS_V4L = Path("/sys/class/video4linux")


def list_video_devices(dev: Path = Path("/dev"), sys_v4l: Path = SYS_V4L) -> list[dict[str, Any]]:
    """``/dev/video*`` with the driver's device name; UVC cameras also expose metadata
    nodes (index > 0), which cannot capture frames and are flagged."""
    out = []
    nodes = sorted(dev.glob("video*"), key=lambda p: int(re.sub(r"\D", "", p.name) or 0))
    for node in nodes:
        info = sys_v4l / node.name
        name = _read(info / "name") or node.name
        index = _read(info / "index")
        out.append({"url": f"usb:{node}", "path": str(node), "name": name,
                    "capture_node": index in (None, "0")})
    return out


def list_serial_ports() -> list[dict[str, Any]]:
    """Serial ports pyserial sees (Arduino-style controllers show up as ttyACM/ttyUSB)."""
    try:
        from serial.tools import list_ports
    except ImportError:
        return []
    return [{"url": f"serial:{p.device}", "path": p.device, "name": p.description or "",
             "usb_id": f"{p.vid:04x}:{p.pid:04x}" if p.vid is not None and p.pid is not None
             else None} for p in list_ports.comports()]


def list_devices() -> dict[str, list[dict[str, Any]]]:
    gphoto = [{"url": f"gphoto:?port={c['port']}", **c} for c in list_gphoto_cameras()]
    return {"cameras": list_video_devices() + gphoto, "controllers": list_serial_ports()}


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
