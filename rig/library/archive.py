"""``rig library export/import``: a project's source library as one verified archive.

Several rigs capture the same images by importing one library, so their sources, patient
and study pseudonyms and labels are the same rows. The archive is a tar file:

    manifest.json      format, version, schema, rig version, counts, and the SHA-256 and
                       size of every other member
    library.json       the library rows (rig.library.rows): no identifier, pseudonyms only
    secret.key         only with --with-secret: the project secret that keys pseudonyms
    objects/<sha256>   each file's de-identified copy, named by its content hash
    manifest.sha256    the manifest's own hash, last: an archive cut short lacks it

It is written atomically (temp file + rename: a killed export leaves no archive). An
import reads it once, checking every member against the manifest and every object
against its name; anything missing, extra, damaged or cut short is one error line and
exit 2, and nothing stays behind: objects added on the way are removed again, and the
rows are added in one transaction at the end.

The secret is shared only on request (``--with-secret``, which warns): with it, files a
rig imports later get the same pseudonyms on every rig, so a patient imported at two
rigs is one patient in the merged dataset. A project adopts an archive's secret only
while it holds no file keyed with its own.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import rig
from rig.atomic import atomic_open
from rig.errors import StoreError, UsageError
from rig.library.rows import (
    LIBRARY_TABLES,
    LibraryAdded,
    Rows,
    add_library,
    library_objects,
    read_library,
)
from rig.library.sharedsecret import adopt_secret, restore_secret
from rig.project import Project
from rig.store.db import log_event, utc_now
from rig.store.objects import sha256_bytes
from rig.store.versions import schema_names

FORMAT = "rig-library"
VERSION = 1
MANIFEST = "manifest.json"
LIBRARY = "library.json"
SECRET = "secret.key"
TRAILER = "manifest.sha256"
OBJECTS = "objects/"


class ArchiveError(UsageError):
    """A library archive that is not whole: damaged, cut short, or from another format."""


@dataclass(frozen=True)
class ExportedLibrary:
    path: Path
    sources: int
    patients: int
    objects: int
    size_bytes: int
    with_secret: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "archive": str(self.path),
            "sources": self.sources,
            "patients": self.patients,
            "objects": self.objects,
            "size_bytes": self.size_bytes,
            "with_secret": self.with_secret,
        }


def export_library(
    project: Project,
    out: Path,
    with_secret: bool = False,
    on_object: Callable[[int, int], None] | None = None,
) -> ExportedLibrary:
    """Write ``project``'s library to ``out`` (atomically); ``on_object(done, total)``."""
    db = project.db()
    try:
        db.execute("BEGIN")  # one snapshot, while a session may be writing
        rows = read_library(db)
        db.execute("COMMIT")
    finally:
        db.close()
    objects = library_objects(rows)
    library = json.dumps(rows, sort_keys=True).encode()
    secret = project.secret.hex().encode() if with_secret else None
    sizes = {sha: _size(project, sha) for sha in objects}
    manifest = _manifest(rows, library, secret, sizes)
    with atomic_open(out, "wb") as handle, tarfile.open(fileobj=handle, mode="w|") as tar:
        _add(tar, MANIFEST, manifest)
        _add(tar, LIBRARY, library)
        if secret is not None:
            _add(tar, SECRET, secret, mode=0o600)
        for done, sha in enumerate(objects, 1):
            _add(tar, OBJECTS + sha, project.objects.get(sha))  # hash-checked as read
            if on_object is not None:
                on_object(done, len(objects))
        _add(tar, TRAILER, sha256_bytes(manifest).encode())
    return ExportedLibrary(
        out, len(rows["sources"]), len(rows["patients"]), len(objects), out.stat().st_size,
        with_secret,
    )  # fmt: skip


def _size(project: Project, sha: str) -> int:
    path = project.objects.path_for(sha)
    try:
        return path.stat().st_size
    except OSError as exc:
        raise StoreError(
            f"{path}: object missing ({exc.strerror}); the library is damaged"
        ) from exc


def _manifest(rows: Rows, library: bytes, secret: bytes | None, sizes: dict[str, int]) -> bytes:
    members = {LIBRARY: _entry(library)} | ({SECRET: _entry(secret)} if secret else {})
    return json.dumps(
        {
            "format": FORMAT,
            "version": VERSION,
            "rig_version": rig.__version__,
            "schema": schema_names(),
            "created_at": utc_now(),
            "members": members,
            "objects": sizes,
            "counts": {table: len(items) for table, items in rows.items()},
        },
        indent=1,
        sort_keys=True,
    ).encode()


def _entry(data: bytes) -> dict[str, Any]:
    return {"sha256": sha256_bytes(data), "size": len(data)}


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, 0  # the same library, the same bytes
    tar.addfile(info, io.BytesIO(data))


@dataclass
class ImportedLibrary:
    added: LibraryAdded
    objects_added: int
    secret: str  # 'adopted' | 'same' | 'none in archive'
    manifest: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.added.to_dict(),
            "objects_added": self.objects_added,
            "secret": self.secret,
            "archive_rig_version": self.manifest.get("rig_version"),
        }


@dataclass
class _Read:
    """What one pass over an archive found."""

    manifest: dict[str, Any]
    rows: Rows
    secret: bytes | None
    new_objects: list[str]


def import_library(
    project: Project, archive: Path, on_object: Callable[[int, int], None] | None = None
) -> ImportedLibrary:
    """Add the archive's library to ``project``; an archive that is not whole adds nothing."""
    new_objects: list[str] = []
    try:
        read = _read_archive(project, archive, new_objects, on_object)
        return _add_rows(project, archive, read)
    except BaseException:
        for sha in new_objects:  # objects are added before rows: take back this run's
            project.objects.delete(sha)
        raise


def _add_rows(project: Project, archive: Path, read: _Read) -> ImportedLibrary:
    db = project.db()
    try:
        status = adopt_secret(project, db, read.secret, str(archive))
        try:
            db.execute("BEGIN IMMEDIATE")
            added = add_library(db, read.rows, str(archive))
            log_event(db, "LibraryImported", {**added.to_dict(), "secret": status})
            db.execute("COMMIT")
            if read.secret is not None:
                project.secret = read.secret
        except BaseException:
            if db.conn.in_transaction:
                db.execute("ROLLBACK")
            restore_secret(project, status)
            raise
    finally:
        db.close()
    return ImportedLibrary(added, len(read.new_objects), status, read.manifest)


def _read_archive(
    project: Project,
    archive: Path,
    new_objects: list[str],
    on_object: Callable[[int, int], None] | None,
) -> _Read:
    if not archive.is_file():
        raise UsageError(f"{archive}: no such archive")
    try:
        with archive.open("rb") as handle:
            return _read_members(project, archive, handle, new_objects, on_object)
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise _bad(archive, f"cannot be read ({type(exc).__name__}: {exc})") from exc


def _read_members(
    project: Project,
    archive: Path,
    handle: IO[bytes],
    new_objects: list[str],
    on_object: Callable[[int, int], None] | None,
) -> _Read:
    members = _members(archive, handle)
    name, manifest_bytes = next(members, ("", b""))
    if name != MANIFEST:
        raise _bad(archive, f"does not start with {MANIFEST}")
    manifest = _check_manifest(archive, manifest_bytes)
    expected: dict[str, Any] = manifest["members"]
    objects: dict[str, int] = manifest["objects"]
    found: dict[str, bytes] = {}
    seen_objects: set[str] = set()
    trailer = b""
    for name, data in members:
        if trailer:
            raise _bad(archive, f"has {name} after its end ({TRAILER})")
        if name == TRAILER:
            trailer = data
        elif name in expected and name not in found:
            if _entry(data) != expected[name]:
                raise _bad(archive, f"member {name} does not match its manifest entry (damaged)")
            found[name] = data
        elif name.startswith(OBJECTS) and name[len(OBJECTS) :] in objects:
            sha = name[len(OBJECTS) :]
            if sha in seen_objects or sha256_bytes(data) != sha or len(data) != objects[sha]:
                raise _bad(archive, f"object {sha[:12]}… is damaged (its content is not its hash)")
            seen_objects.add(sha)
            if not project.objects.contains(sha):
                project.objects.put(data)
                new_objects.append(sha)
            if on_object is not None:
                on_object(len(seen_objects), len(objects))
        else:
            raise _bad(archive, f"holds an unexpected member {name!r}")
    if trailer.decode("ascii", "replace") != sha256_bytes(manifest_bytes):
        raise _bad(archive, "is cut short or its manifest is damaged (no matching manifest.sha256)")
    missing = sorted(set(expected) - set(found)) + sorted(set(objects) - seen_objects)
    if missing:
        raise _bad(archive, f"lacks {len(missing)} member(s), e.g. {missing[0][:20]}")
    rows = json.loads(found[LIBRARY])
    if not isinstance(rows, dict) or any(not isinstance(rows.get(t), list) for t in LIBRARY_TABLES):
        raise _bad(archive, f"has a {LIBRARY} without the library tables")
    secret = bytes.fromhex(found[SECRET].decode()) if SECRET in found else None
    return _Read(manifest, rows, secret, new_objects)


def _members(archive: Path, handle: IO[bytes]) -> Iterator[tuple[str, bytes]]:
    """(name, content) of each member, in order; only plain files are allowed."""
    with tarfile.open(fileobj=handle, mode="r|") as tar:
        for member in tar:
            if not member.isfile():
                raise _bad(archive, f"member {member.name!r} is not a plain file")
            extracted = tar.extractfile(member)
            assert extracted is not None  # a plain file always has content
            data = extracted.read()
            if len(data) != member.size:
                raise _bad(archive, f"is cut short inside {member.name}")
            yield member.name, data


def _check_manifest(archive: Path, data: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(data)
        fmt, version = manifest["format"], manifest["version"]
        schema = list(manifest["schema"])
        if not isinstance(manifest["members"], dict) or not isinstance(manifest["objects"], dict):
            raise TypeError("members/objects")
    except (ValueError, KeyError, TypeError) as exc:
        raise _bad(archive, f"has a damaged manifest ({type(exc).__name__}: {exc})") from exc
    if fmt != FORMAT:
        raise _bad(archive, f"is a {fmt!r} archive, not a rig library archive")
    if version != VERSION:
        raise _bad(archive, f"is library archive version {version}; this rig reads {VERSION}")
    if newer := [m for m in schema if m not in schema_names()]:
        raise _bad(archive, f"was made by a newer rig (schema {newer[-1]}); upgrade rig")
    if LIBRARY not in manifest["members"]:
        raise _bad(archive, f"has no {LIBRARY} in its manifest")
    return dict(manifest)


def _bad(archive: Path, what: str) -> ArchiveError:
    return ArchiveError(
        f"{archive}: {what}; nothing was imported; export the library again "
        "(rig library export -o FILE)"
    )
