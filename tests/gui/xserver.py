"""A real X server for GUI tests: Xvfb, input through xdotool, screenshots through xwd.

Nothing here is simulated: Xvfb is the X.Org server with a memory framebuffer, Qt
talks to it through its xcb platform plugin exactly as on a desktop, xdotool sends
key and button events through XTEST, and xwd reads the framebuffer back. The XWD
file format is read from its definition (X11/XWDFile.h, X Window System Release 6).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

TOOLS = ("Xvfb", "xdotool", "xwd")


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


@dataclass(frozen=True)
class XDisplay:
    name: str  # ":N"

    def env(self) -> dict[str, str]:
        """The environment of a program that must draw on this server with Qt's xcb plugin."""
        env = {**os.environ, "DISPLAY": self.name, "QT_QPA_PLATFORM": "xcb"}
        env.pop("WAYLAND_DISPLAY", None)
        return env

    def xdotool(self, *args: str, timeout_s: float = 20.0) -> str:
        out = subprocess.run(
            ["xdotool", *args], env=self.env(), capture_output=True, text=True,
            timeout=timeout_s, check=True,
        )  # fmt: skip
        return out.stdout

    def window(self, title: str, timeout_s: float = 30.0) -> Window:
        """Wait (``xdotool search --sync``) for a visible window whose title matches."""
        wid = self.xdotool("search", "--sync", "--onlyvisible", "--name", title,
                           timeout_s=timeout_s).split()[0]  # fmt: skip
        shell = self.xdotool("getwindowgeometry", "--shell", wid)
        geo = dict(line.split("=", 1) for line in shell.split())
        return Window(wid, int(geo["X"]), int(geo["Y"]), int(geo["WIDTH"]), int(geo["HEIGHT"]))

    def click(self, x: int, y: int) -> None:
        self.xdotool("mousemove", "--sync", str(x), str(y), "click", "1")

    def keys(self, *keys: str) -> None:
        self.xdotool("key", "--delay", "30", *keys)

    def type(self, text: str) -> None:
        self.xdotool("type", "--delay", "30", text)

    def screenshot(self) -> np.ndarray:
        """The whole screen as (H, W, 3) RGB uint8."""
        raw = subprocess.run(["xwd", "-root", "-silent"], env=self.env(), capture_output=True,
                             timeout=20, check=True).stdout  # fmt: skip
        return read_xwd(raw)


@dataclass(frozen=True)
class Window:
    id: str
    x: int
    y: int
    width: int
    height: int

    def crop(self, screen: np.ndarray) -> np.ndarray:
        return screen[self.y : self.y + self.height, self.x : self.x + self.width]


@contextmanager
def xvfb(width: int, height: int) -> Iterator[XDisplay]:
    """Start Xvfb on a free display number (it reports the number when it is ready)."""
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x24",
         "-nolisten", "tcp", "-noreset"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as ready:
            number = ready.readline().strip()  # written once the server accepts clients
        if not number:
            raise RuntimeError("Xvfb did not start")
        yield XDisplay(f":{number}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def read_xwd(data: bytes) -> np.ndarray:
    """An XWD (version 7) ZPixmap with 24 or 32 bits per pixel → (H, W, 3) RGB uint8."""
    fields = struct.unpack(">25I", data[:100])
    header_size, version, pixmap_format = fields[0], fields[1], fields[2]
    width, height, byte_order = fields[4], fields[5], fields[7]
    bits_per_pixel, bytes_per_line = fields[11], fields[12]
    masks, ncolors = fields[14:17], fields[19]
    if version != 7 or pixmap_format != 2 or bits_per_pixel not in (24, 32):
        raise ValueError(f"unsupported XWD: version {version}, format {pixmap_format}, "
                         f"{bits_per_pixel} bpp")  # fmt: skip
    start = header_size + 12 * ncolors  # XWDColor entries are 12 bytes each
    rows = np.frombuffer(data, np.uint8, height * bytes_per_line, start).reshape(height, -1)
    step = bits_per_pixel // 8
    octets = rows[:, : width * step].reshape(height, width, step).astype(np.uint32)
    if byte_order != 0:  # MSBFirst: most significant byte first
        octets = octets[..., ::-1]
    pixels = sum(octets[..., i] << (8 * i) for i in range(step))
    channels = [(pixels & m) >> (int(m).bit_length() - 8) for m in masks]
    return np.stack(channels, axis=-1).astype(np.uint8)


def wait_until(
    predicate: Callable[[], object],
    what: str,
    timeout_s: float = 30.0,
    proc: subprocess.Popen[bytes] | None = None,
) -> object:
    """Poll an outside process's visible state (screen, database) until the predicate
    returns something other than None or False; return that."""
    end = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value is not None and value is not False:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: rig gui ended early with exit {proc.returncode}")
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(0.2)


def colour_box(
    image: np.ndarray, rgb: tuple[int, int, int], tol: int = 12, min_px: int = 200
) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1) of the pixels within ``tol`` of ``rgb``, if enough."""
    near = (np.abs(image.astype(np.int16) - np.array(rgb, np.int16)) <= tol).all(axis=-1)
    if near.sum() < min_px:
        return None
    ys, xs = np.nonzero(near)
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())
