"""Atomic file writes: temp file in the same folder, fsync, rename, fsync the folder.

A reader (or a process killed half-way) sees either the old file or the whole
new one, never a torn write. A write the disk cannot take (full, read-only, not
permitted) leaves no temp file behind and raises ``StorageError`` naming the target.

Large writers (objects, uploaded photos) first ask ``ensure_free``: a write that would
leave less than ``RESERVE_BYTES`` free is refused before it starts, so SQLite and the
small state files can still record what happened (a session pauses, resumable).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from rig.errors import DiskFullError, storage_error

RESERVE_BYTES = 16 << 20  # kept free for rig.db (its WAL grows by ~4 MB) and state files


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged writer may still use on the file system holding ``path``
    (or its nearest existing parent)."""
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    st = os.statvfs(probe)
    return st.f_bavail * st.f_frsize


def ensure_free(path: Path, nbytes: int, reserve: int = RESERVE_BYTES) -> None:
    """``DiskFullError`` naming ``path`` unless ``nbytes`` fit with ``reserve`` to spare."""
    free = free_bytes(path)
    if free - nbytes < reserve:
        raise DiskFullError(
            f"{path}: disk full ({format_bytes(free)} free; writing {format_bytes(nbytes)} "
            f"would leave less than the {format_bytes(reserve)} kept free); free some space",
            path,
        )


def format_bytes(n: float) -> str:
    """``1234567`` -> ``1.2 MB`` (decimal units, as file managers show free space)."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def fsync_dir(folder: Path) -> None:
    """Persist a rename by syncing its directory entry (no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: Path | str, mode: str = "wb", durable: bool = True) -> Iterator[IO[Any]]:
    """Open a temp file beside ``path``; on clean exit it replaces ``path`` atomically.

    The rename alone makes the write atomic for a killed process; ``durable`` adds
    the fsyncs that make it survive power loss too.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        storage = storage_error(exc, target)
        if storage is None:
            raise
        raise storage from exc
    # mkstemp makes 0600 files; give the result the usual umask-derived mode instead.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, target)
        if durable:
            fsync_dir(target.parent)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)  # nothing half-written is kept
        storage = storage_error(exc, target) if isinstance(exc, OSError) else None
        if storage is not None:
            raise storage from exc
        raise


def write_bytes_atomic(path: Path | str, data: bytes, durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb", durable) as handle:
        handle.write(data)


def write_text_atomic(path: Path | str, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))
