"""A simulated rig-controller *device* on a pseudo-terminal.

``rig controller simulate`` (or ``python -m rig.devices.pty_device``) opens a new
pty, prints the slave path, and answers the documented protocol on it until
killed, so a session can be pointed at it exactly like at real hardware
(``serial:/dev/pts/N``). ``--link PATH`` keeps a stable symlink to the current pty
(like ``/dev/serial/by-id``), so a restarted simulator looks like a replugged board.
Like the firmware, it announces itself with ``#0 EVT boot`` when it starts, and on
SIGUSR1 it "resets" (all outputs off, ``EVT boot`` again, ``reset`` on stdout) like a
board after a brown-out. Fault injection for tests: ``--noise SEED`` sends a line of
random bytes before every reply; ``--corrupt-every K`` damages every K-th reply;
``--silent`` never answers.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import select
import signal
import sys
import tty
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rig.devices.controller_protocol import EVT, DeviceModel, Frame, encode_frame


@dataclass(frozen=True)
class Faults:
    noise_seed: int | None = None
    corrupt_every: int = 0
    silent: bool = False


def _noisy(reply: bytes, faults: Faults, rng: random.Random, count: int) -> bytes:
    if faults.corrupt_every and count % faults.corrupt_every == 0 and len(reply) > 3:
        i = rng.randrange(1, len(reply) - 1)  # never the newline: the damage stays in one line
        reply = reply[:i] + bytes([reply[i] ^ 0x21]) + reply[i + 1:]
    if faults.noise_seed is not None:
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
        reply = junk.replace(b"\n", b"?") + b"\n" + reply
    return reply


def open_pty(link: Path | None) -> tuple[int, int, str]:
    """A raw pty pair (master, slave) and the slave path; ``link`` points at it atomically."""
    master, slave = os.openpty()
    tty.setraw(slave)  # no echo, no line editing: bytes pass through untouched
    path = os.ttyname(slave)
    if link is not None:
        tmp = link.with_name(f".{link.name}.{os.getpid()}")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(path)
        tmp.replace(link)
    return master, slave, path


def boot_event(model: DeviceModel) -> bytes:
    return encode_frame(Frame(0, EVT, ("boot", f"fw={model.firmware}")))


def serve(master: int, model: DeviceModel, faults: Faults,
          should_stop: Callable[[], bool] = lambda: False,
          should_reset: Callable[[], bool] = lambda: False,
          on_reset: Callable[[], None] = lambda: None) -> None:
    """Answer requests on ``master`` until ``should_stop()`` or the pty fails."""
    rng = random.Random(faults.noise_seed or 0)
    count = 0
    os.write(master, boot_event(model))
    while not should_stop():
        if should_reset():
            model = DeviceModel(firmware=model.firmware)
            os.write(master, boot_event(model))
            on_reset()
        ready, _, _ = select.select([master], [], [], 0.05)
        if not ready:
            continue
        try:
            data = os.read(master, 4096)
        except OSError:
            return
        reply = model.feed(data)
        if not reply or faults.silent:
            continue
        for line in reply.splitlines(keepends=True):
            count += 1
            os.write(master, _noisy(line, faults, rng, count))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--link", type=Path)
    parser.add_argument("--firmware", default="rig-sim/1.0")
    parser.add_argument("--noise", type=int, default=None, dest="noise_seed")
    parser.add_argument("--corrupt-every", type=int, default=0)
    parser.add_argument("--silent", action="store_true")
    args = parser.parse_args(argv)
    run(args.link, args.firmware, Faults(args.noise_seed, args.corrupt_every, args.silent),
        announce=lambda path: print(path, flush=True))
    return 0


def run(link: Path | None, firmware: str, faults: Faults,
        announce: Callable[[str], None]) -> None:
    """Open the pty, announce its path, serve until SIGTERM/SIGINT; remove our link."""
    flags = {"stop": False, "reset": False}

    def stop(*_: object) -> None:
        flags["stop"] = True

    def reset(*_: object) -> None:
        flags["reset"] = True

    def take_reset() -> bool:
        requested, flags["reset"] = flags["reset"], False
        return requested

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGUSR1, reset)
    master, slave, path = open_pty(link)
    announce(str(link) if link else path)
    try:
        serve(master, DeviceModel(firmware=firmware), faults, lambda: flags["stop"],
              take_reset, lambda: print("reset", flush=True))
    except KeyboardInterrupt:
        pass
    finally:
        if link is not None and link.is_symlink() and os.readlink(link) == path:
            link.unlink()
        os.close(master)
        os.close(slave)


if __name__ == "__main__":
    sys.exit(main())
