"""One error hierarchy for rig, and the one table of exit codes.

The CLI turns any ``RigError`` into a one-line message and its ``exit_code``;
tracebacks are shown only with ``--debug``. Messages name the file or field at
fault and say what to do, and never carry patient data. A stray ``OSError`` or
SQLite error that means "the disk cannot take this" (full, read-only, permission)
is turned into a ``StorageError`` by ``storage_error`` so it exits 5 like ours.
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

# The exit codes of every command (README "Exit codes"; tests/test_cli_exit_codes.py).
EXIT_OK = 0  # done
EXIT_PARTIAL = 1  # partly done: something was skipped, left unverified or failed a check
EXIT_USAGE = 2  # the command line is wrong (flag, value, missing file or project)
EXIT_REJECTED = 3  # an input was refused on its merits (corrupt file, photo that does not register)
EXIT_DEVICE = 4  # a camera, phone, rig controller or network peer failed or did not answer
EXIT_STORAGE = 5  # disk full, read-only or not permitted, or the project's files are damaged
EXIT_INTERNAL = 70  # a bug in rig (EX_SOFTWARE): please report it with `rig --debug …`
EXIT_INTERRUPTED = 130  # Ctrl-C

EXIT_CODES: dict[int, str] = {
    EXIT_OK: "done",
    EXIT_PARTIAL: "partly done: something was skipped, left unverified or failed a check",
    EXIT_USAGE: "usage: a wrong flag or value, a missing file or project",
    EXIT_REJECTED: "rejected: an input refused on its merits (corrupt file, photo that does "
    "not register, image that does not fit)",
    EXIT_DEVICE: "device or network: a camera, phone, rig controller or peer failed or did "
    "not answer",
    EXIT_STORAGE: "disk or permission: disk full, read-only or not permitted, damaged project "
    "files",
    EXIT_INTERNAL: "internal error (a bug): rerun with --debug and report it",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}


class RigError(Exception):
    """Base of every error rig raises on purpose."""

    exit_code: int = EXIT_PARTIAL

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else type(self).__name__


class UsageError(RigError):
    """The command line itself is wrong (bad flag value, missing project)."""

    exit_code = EXIT_USAGE


class InputError(RigError):
    """A file or value the user gave cannot be used (corrupt, unsupported, does not fit)."""

    exit_code = EXIT_REJECTED


class StoreError(RigError):
    """The project store is unreadable, inconsistent or fails its integrity checks."""

    exit_code = EXIT_STORAGE


class StorageError(StoreError):
    """The disk cannot take a write: read-only, not permitted, or full (``DiskFullError``).

    A session meeting one pauses (nothing half-written is kept) and is resumed once the
    disk is fixed; ``path`` is where the write failed.
    """

    def __init__(self, message: str, path: Path | str | None = None) -> None:
        super().__init__(message)
        self.path = None if path is None else Path(path)


class DiskFullError(StorageError):
    """No room left (ENOSPC, EDQUOT, SQLite 'database or disk is full', or below the
    space a session needs, rig.session.diskspace)."""


class DeviceError(RigError):
    """A camera, display or rig controller failed or did not answer in time."""

    exit_code = EXIT_DEVICE


class PhoneLostError(DeviceError):
    """The camera side stopped answering within its bounded waits (phone, camera link).

    The session pauses and retries the *same* attempt: the capture protocol makes a
    repeated request idempotent (a phone that already shot it re-uploads).
    """


class CameraFailedError(DeviceError):
    """The camera answered but could not take (or deliver) the photo: a new attempt."""


class ProtocolError(RigError):
    """Base of capture-protocol errors (a network peer: the device exit code)."""

    exit_code = EXIT_DEVICE


class LocalProtocolError(ProtocolError):
    """We broke the protocol (a bug on our side, or a call in the wrong state)."""


class RemoteProtocolError(ProtocolError):
    """The peer broke the protocol (malformed, forged or out-of-order messages)."""


class TransitionError(RigError):
    """A state change the session state machine does not allow (rig.session.states).

    Reaching the user it is a request that cannot be honoured (resume an aborted
    session, abort a finished one), hence a usage exit code.
    """

    exit_code = EXIT_USAGE


class RegistrationError(RigError):
    """A photo cannot be registered to its ground-truth frame."""

    exit_code = EXIT_REJECTED


_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_DENIED_ERRNOS = {
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}
_SQLITE_FULL = "database or disk is full"
_SQLITE_DENIED = ("readonly database", "disk i/o error", "unable to open database file")


def storage_error(exc: BaseException, path: Path | str | None = None) -> StorageError | None:
    """The ``StorageError`` a stray OS or SQLite error means, or None if it means another
    thing. ``path`` is where the write was going (named rather than a temp file); without
    it, an ``OSError``'s own file name (SQLite's errors name none)."""
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, OSError):
        where = path if path is not None else exc.filename
        if exc.errno in _FULL_ERRNOS:
            return disk_full(where, "no space left on the device")
        if exc.errno in _DENIED_ERRNOS:
            return not_writable(where, _DENIED_ERRNOS[exc.errno])
        return None
    if isinstance(exc, sqlite3.OperationalError | sqlite3.DatabaseError):
        text = str(exc).lower()
        if _SQLITE_FULL in text:
            return disk_full(path, text)
        if any(s in text for s in _SQLITE_DENIED):
            return not_writable(path, text)
    return None


def disk_full(path: Path | str | None, why: str) -> DiskFullError:
    where = f"{path}: " if path is not None else ""
    return DiskFullError(f"{where}disk full ({why}); free some space and run the command again", path)


def not_writable(path: Path | str | None, why: str) -> StorageError:
    where = f"{path}: " if path is not None else ""
    return StorageError(
        f"{where}cannot write ({why}); make it writable (remount read-write, fix the "
        "permissions) or work on a copy",
        path,
    )
