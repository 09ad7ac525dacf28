"""Content-addressed files: ``objects/ab/cdef…`` named by their SHA-256.

Writes are atomic (temp + fsync + rename), so an object either exists whole or
not at all; reads verify the hash, so silent corruption becomes a StoreError. A write
that would leave less than ``rig.atomic.RESERVE_BYTES`` free is refused before it
starts (``DiskFullError``, naming the folder), so the database can still record it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from rig.atomic import ensure_free, fsync_dir, write_bytes_atomic
from rig.errors import StoreError


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class ObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise StoreError(f"not a SHA-256 object name: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:]

    def put(self, data: bytes, durable: bool = True) -> str:
        """Store ``data``; return its SHA-256. Storing the same bytes twice is a no-op.

        ``durable=False`` skips the fsyncs (still atomic against a killed process)
        for bulk work that can be redone; a damaged object is caught by ``get``.
        """
        sha = sha256_bytes(data)
        path = self.path_for(sha)
        if not path.exists():
            ensure_free(self.root, len(data))
            write_bytes_atomic(path, data, durable)
        return sha

    def adopt(self, path: Path, data: bytes) -> str:
        """Store a file that is already durably on disk (same content as ``data``) by linking it.

        A hard link costs no copy and no second fsync; where linking is impossible
        (another file system) it falls back to a durable copy.
        """
        sha = sha256_bytes(data)
        target = self.path_for(sha)
        if target.exists():
            return sha
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, target)
            fsync_dir(target.parent)
        except FileExistsError:
            pass
        except OSError:  # another file system, links not allowed, no room: a durable copy
            ensure_free(self.root, len(data))  # (which says why, if it cannot be made either)
            write_bytes_atomic(target, data)
        return sha

    def contains(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def get(self, sha256: str) -> bytes:
        """Read an object back, verifying its hash."""
        path = self.path_for(sha256)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise StoreError(f"{path}: object missing ({exc.strerror})") from exc
        if sha256_bytes(data) != sha256:
            raise StoreError(f"{path}: content does not match its hash (corrupted object)")
        return data

    def delete(self, sha256: str) -> bool:
        """Remove an object no row names any more; False if it was not there."""
        try:
            self.path_for(sha256).unlink()
        except FileNotFoundError:
            return False
        return True

    def verified_path(self, sha256: str) -> Path:
        """The object's path after checking its hash (for readers that need a file)."""
        self.get(sha256)
        return self.path_for(sha256)
