"""``rig library export/import``: the library travels whole and verified, or not at all.

Round trips of real imported radiographs and of generated libraries (hypothesis); every
single damaged byte and every cut either is refused, adding nothing, or (tar padding)
changes nothing; the secret moves only when asked, and then pseudonyms agree.
"""

from __future__ import annotations

import json
import tarfile
import tempfile
from pathlib import Path

import pydicom
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rigs_library import Library, rig_project

from rig.cli import main
from rig.library.archive import ArchiveError, export_library, import_library
from rig.library.deid import pseudonym
from rig.library.importer import import_paths
from rig.library.rows import read_library
from rig.project import Project, init_project, open_project
from rig.store.db import utc_now


def library_of(project: Project) -> dict[str, list[dict[str, object]]]:
    db = project.db()
    try:
        return read_library(db)
    finally:
        db.close()


def objects_of(project: Project) -> set[str]:
    root = project.root / "objects"
    return {p.parent.name + p.name for p in root.glob("*/*") if not p.name.startswith(".")}


def test_a_library_round_trips_with_its_secret(library: Library, tmp_path: Path) -> None:
    rig = rig_project(tmp_path / "rig", "rig-a", library.with_secret)
    assert library_of(rig) == library_of(library.project)  # same ids, pseudonyms, labels
    assert objects_of(rig) == objects_of(library.project)
    assert rig.secret == library.project.secret
    assert (rig.root / "secret.key").stat().st_mode & 0o777 == 0o600
    # Pseudonyms of files imported later agree with the library's own project.
    import_paths(rig, [library.extra])
    patient = pseudonym(library.project.secret, "patient", pydicom.dcmread(library.extra).PatientID)
    sources = library_of(rig)["sources"]
    assert len({s["patient_id"] for s in sources}) == 5
    assert any(s["patient_id"] == patient for s in sources)


def test_without_the_secret_the_rig_keeps_its_own(library: Library, tmp_path: Path) -> None:
    rig = init_project(tmp_path / "rig")
    own = rig.secret
    done = import_library(rig, library.without_secret)
    assert done.secret == "none in archive" and open_project(rig.root).secret == own
    assert library_of(rig) == library_of(library.project)
    # Importing it again adds nothing.
    again = import_library(rig, library.without_secret)
    assert again.added.sources_added == 0 and again.added.sources_present == 8
    assert again.objects_added == 0


def test_a_secret_is_not_adopted_over_files_keyed_with_another(
    library: Library, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rig = init_project(tmp_path / "rig")
    import_paths(rig, [library.extra])
    before = library_of(rig)
    code = main(["-p", str(rig.root), "library", "import", str(library.with_secret)])
    err = capsys.readouterr().err
    assert code == 2 and "another project secret" in err and len(err.strip().splitlines()) == 1
    assert library_of(rig) == before and open_project(rig.root).secret == rig.secret


def test_the_cli_exports_with_a_warning_and_refuses_to_overwrite(
    library: Library, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "lib.tar"
    args = ["-p", str(library.project.root), "library", "export", "-o", str(out)]
    assert main([*args, "--with-secret", "--json"]) == 0
    captured = capsys.readouterr()
    assert "holds the project secret" in captured.err
    assert json.loads(captured.out)["with_secret"] is True
    assert main(args) == 2 and "exists" in capsys.readouterr().err
    with tarfile.open(out) as tar:
        names = tar.getnames()
    assert names[0] == "manifest.json" and names[-1] == "manifest.sha256"
    assert "secret.key" in names and sum(n.startswith("objects/") for n in names) == 8


# -- damaged archives ------------------------------------------------------------------


def assert_refused(archive: Path, tmp: Path, what: str = "") -> None:
    project = init_project(tmp)
    with pytest.raises(ArchiveError) as info:
        import_library(project, archive)
    assert what in info.value.message and "nothing was imported" in info.value.message
    assert not objects_of(project) and not any(library_of(project).values())


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(where=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
def test_any_flipped_bit_is_refused_or_harmless(library: Library, where: float, bit: int) -> None:
    data = bytearray(library.without_secret.read_bytes())
    data[int(where * len(data))] ^= 1 << bit
    with tempfile.TemporaryDirectory() as tmp:
        bad = Path(tmp) / "bad.tar"
        bad.write_bytes(bytes(data))
        project = init_project(Path(tmp) / "p")
        try:
            import_library(project, bad)
        except ArchiveError:
            assert not objects_of(project) and not any(library_of(project).values())
            return
        # Only tar padding and unused header bytes can change without harm.
        assert library_of(project) == library_of(library.project)
        assert objects_of(project) == objects_of(library.project)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(keep=st.floats(0, 1, exclude_max=True))
def test_a_cut_archive_is_refused(library: Library, keep: float) -> None:
    data = library.without_secret.read_bytes()
    with tarfile.open(library.without_secret) as tar:
        last = tar.getmembers()[-1]
    cut = int(keep * (last.offset_data + last.size))  # after that: end-of-archive zeros only
    with tempfile.TemporaryDirectory() as tmp:
        bad = Path(tmp) / "cut.tar"
        bad.write_bytes(data[:cut])
        assert_refused(bad, Path(tmp) / "p")


def test_foreign_and_extra_members_are_refused(library: Library, tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.tar"
    with tarfile.open(foreign, "w") as tar:
        tar.add(library.extra, arcname="x.dcm")
    assert_refused(foreign, tmp_path / "a", "does not start with manifest.json")
    notatar = tmp_path / "text.tar"
    notatar.write_text("hello")
    assert_refused(notatar, tmp_path / "b", "cannot be read")
    extra = tmp_path / "extra.tar"
    with tarfile.open(library.without_secret) as src, tarfile.open(extra, "w") as out:
        for member in src.getmembers():
            if member.name == "manifest.sha256":
                out.addfile(tarfile.TarInfo("../evil"), None)
            out.addfile(member, src.extractfile(member))
    assert_refused(extra, tmp_path / "c", "unexpected member '../evil'")
    cut = tmp_path / "cut.tar"  # cut exactly before its last member: every other one whole
    with tarfile.open(library.without_secret) as src, tarfile.open(cut, "w") as out:
        for member in src.getmembers()[:-1]:
            out.addfile(member, src.extractfile(member))
    assert_refused(cut, tmp_path / "d", "cut short")


def test_the_cli_refuses_a_damaged_archive_in_one_line(
    library: Library, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = bytearray(library.without_secret.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside an object
    bad = tmp_path / "bad.tar"
    bad.write_bytes(bytes(data))
    project = init_project(tmp_path / "p")
    assert main(["-p", str(project.root), "library", "import", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rig: error:") and len(err.splitlines()) == 1 and str(bad) in err


# -- generated libraries (hypothesis) --------------------------------------------------

label_values = st.sampled_from([1.0, 0.0, -1.0, None])
source_spec = st.tuples(
    st.integers(0, 5),  # patient
    st.binary(min_size=1, max_size=300),  # the de-identified copy's bytes
    st.dictionaries(st.sampled_from(["Cardiomegaly", "Edema", "No Finding"]), label_values),
    st.sampled_from([None, "PA", "AP"]),
)


def fill(
    project: Project, specs: list[tuple[int, bytes, dict[str, float | None], str | None]]
) -> None:
    """Library rows as ``rig import`` writes them, for generated content."""
    db, now = project.db(), utc_now()
    try:
        with db.conn:
            for n, (patient, blob, labels, view) in enumerate(specs):
                sha = project.objects.put(blob)
                pid, sid = f"P-{patient:016x}", f"S-{n:016x}"
                db.table("patients").insert({"id": pid, "created_at": now}, ignore=True)
                db.table("studies").insert({"id": sid, "patient_id": pid, "created_at": now})
                file_sha = f"{n:064x}"
                db.table("files").insert({"sha256": file_sha, "object_sha256": sha, "kind": "raster",
                                          "size_bytes": len(blob), "path_key": f"F-{n}",
                                          "imported_at": now})  # fmt: skip
                source = db.table("sources").insert({
                    "file_sha256": file_sha, "frame": 0, "n_frames": 1, "patient_id": pid,
                    "study_id": sid, "view": view, "modality": None, "photometric": "MONOCHROME2",
                    "rows": 10 + n, "columns": 12, "bits_stored": 8, "samples_per_pixel": 1,
                    "transfer_syntax": None, "imported_at": now,
                }).last_pk  # fmt: skip
                for name, value in labels.items():
                    db.table("labels").insert({"source_id": source, "name": name, "value": value,
                                               "origin": "F-labels"})  # fmt: skip
    finally:
        db.close()


@settings(max_examples=12, deadline=None)
@given(specs=st.lists(source_spec, min_size=0, max_size=6), secret=st.booleans())
def test_generated_libraries_round_trip(
    specs: list[tuple[int, bytes, dict[str, float | None], str | None]], secret: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source = init_project(Path(tmp) / "src")
        fill(source, specs)
        archive = Path(tmp) / "lib.tar"
        exported = export_library(source, archive, with_secret=secret)
        target = init_project(Path(tmp) / "dst")
        done = import_library(target, archive)
        assert library_of(target) == library_of(source)
        assert objects_of(target) == objects_of(source)
        assert done.secret == ("adopted" if secret else "none in archive")
        assert exported.objects == len({blob for _, blob, _, _ in specs})  # one per content
