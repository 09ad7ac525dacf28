"""Issue 24, "Done when": two projects captured independently, at the same time, merge into
one export whose splits are patient-disjoint and whose card lists both rigs.

Two rigs are made from one exported library (with its secret); each runs a headless
session with the simulated phone over real loopback sockets, in its own process, both at
once. Their items overlap (sources 4 and 5 are shot on both rigs: a conflict kept as two
pairs). The merge is idempotent, the export's splits hold every patient in one split
across rigs, and the card says which rig, monitor and camera made how many pairs.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import tarfile
from collections import defaultdict
from pathlib import Path

import pytest
from rigs_library import Library, rig_project

from rig.cli import main
from rig.export.run import ExportOptions, export
from rig.library.importer import import_paths
from rig.merge.run import merge_projects
from rig.merge.sessions import pair_names
from rig.project import Project, init_project, open_project

PLAN = 'screen_width = 1280\nscreen_height = 800\nsettle_ms = 0\ncamera = "sim?preset=none"\n'
SPLIT = "train=0.5,valid=0.25,test=0.25"


def start_session(project: Project, sources: str, plan: Path, log: Path) -> subprocess.Popen[bytes]:
    """``rig session start --headless`` in its own process (its own sockets and phone)."""
    return subprocess.Popen(
        [sys.executable, "-m", "rig", "-p", str(project.root), "session", "start", "--headless",
         "--plan", str(plan), "--sources", sources],
        stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def counts(project: Project) -> dict[str, int]:
    with sqlite3.connect(project.db_path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: conn.execute(f"SELECT count(*) FROM '{t}'").fetchone()[0] for t in tables
                if t != "events"}  # fmt: skip


def span(project: Project) -> tuple[float, float]:
    """When the project's one session started and finished (its event log)."""
    with sqlite3.connect(project.db_path) as conn:
        rows = dict(conn.execute("SELECT kind, ts FROM events WHERE kind IN "
                                 "('SessionStarted', 'SessionFinished')").fetchall())  # fmt: skip
    return rows["SessionStarted"], rows["SessionFinished"]


@pytest.fixture(scope="module")
def rigs(library: Library, tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, Project]:
    root = tmp_path_factory.mktemp("rigs")
    a = rig_project(root / "a", "rig-a", library.with_secret, monitor="EIZO RX250")
    b = rig_project(root / "b", "rig-b", library.with_secret, monitor="Dell U2720Q")
    # A patient outside the library, imported by each rig on its own: the shared secret
    # gives it the same pseudonym on both.
    for rig in (a, b):
        assert not import_paths(rig, [library.extra]).skipped
    plan = root / "plan.toml"
    plan.write_text(PLAN)
    procs = [start_session(a, "ids:1-5", plan, root / "a.log"),
             start_session(b, "ids:4-9", plan, root / "b.log")]  # fmt: skip
    for proc, log in zip(procs, ("a.log", "b.log"), strict=True):
        assert proc.wait(timeout=600) == 0, (root / log).read_text()[-2000:]
    return a, b


def test_two_rigs_captured_at_once_merge_into_one_patient_disjoint_export(
    rigs: tuple[Project, Project], tmp_path: Path
) -> None:
    a, b = rigs
    (a_start, a_end), (b_start, b_end) = span(a), span(b)
    assert a_start < b_end and b_start < a_end  # the two sessions really ran at the same time

    report = merge_projects([a.root, b.root], tmp_path / "research")
    assert [len(r.added) for r in report.rigs] == [1, 1] and report.secret == "adopted"
    research = open_project(tmp_path / "research")
    assert research.secret == a.secret == b.secret
    # The conflict: sources 4 and 5 verified on both rigs, kept as one pair per rig.
    assert sorted(c["source_id"] for c in report.conflicts) == [4, 5]
    assert all(c["rigs"] == {"rig-a": 1, "rig-b": 1} for c in report.conflicts)

    card = export(research, ExportOptions(tmp_path / "ds", fmt="folders", split=SPLIT))
    rows = (tmp_path / "ds" / "manifest.csv").read_text().splitlines()
    header, *pairs = [r.split(",") for r in rows]
    col = {name: i for i, name in enumerate(header)}
    assert len(pairs) == 5 + 6 == card["counts"]["pairs"]
    splits_of: dict[str, set[str]] = defaultdict(set)
    for pair in pairs:
        splits_of[pair[col["patient"]]].add(pair[col["split"]])
    assert all(len(s) == 1 for s in splits_of.values()), splits_of  # patient-disjoint
    assert len(splits_of) == 5 and {s for v in splits_of.values() for s in v} == {
        "train", "valid", "test"}  # fmt: skip
    # Pairs of the same source from both rigs: two pairs, each with its rig's conditions.
    by_source: dict[tuple[str, str], list[list[str]]] = defaultdict(list)
    for pair in pairs:
        by_source[(pair[col["patient"]], pair[col["study"]])].append(pair)
    doubles = [v for v in by_source.values() if len(v) == 2]
    assert len(doubles) == 2
    for double in doubles:
        assert {p[col["cond_rig"]] for p in double} == {"rig-a", "rig-b"}
        assert {p[col["cond_monitor"]] for p in double} == {"EIZO RX250", "Dell U2720Q"}
        assert len({p[col["split"]] for p in double}) == 1

    rigs_card = {r["rig"]: r for r in card["rigs"]}
    assert set(rigs_card) == {"rig-a", "rig-b"}
    assert rigs_card["rig-a"]["pairs"] == 5 and rigs_card["rig-b"]["pairs"] == 6
    assert rigs_card["rig-a"]["monitors"] == {"EIZO RX250": 5}
    assert rigs_card["rig-b"]["cameras"] == {"simulated phone (no camera model)": 6}
    markdown = (tmp_path / "ds" / "dataset.md").read_text()
    assert "| rig-a | EIZO RX250 (5) |" in markdown and "| rig-b | Dell U2720Q (6) |" in markdown

    # Merging again adds nothing.
    before = counts(research)
    again = merge_projects([a.root, b.root], tmp_path / "research")
    assert again.added == 0 and [r.unchanged for r in again.rigs] == [r.added for r in report.rigs]
    assert counts(research) == before


def test_the_cli_merges_and_reports_in_json(
    rigs: tuple[Project, Project], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = rigs
    args = ["merge", str(a.root), str(b.root), "--into", str(tmp_path / "r"), "--json"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["sessions_added"] == 2 and len(first["conflicts"]) == 2
    assert main(args) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["sessions_added"] == 0 and again["sessions_unchanged"] == 2
    assert main(["merge", str(a.root), "-o", str(tmp_path / "x"), "--into", "y"]) == 2
    capsys.readouterr()
    assert main(["merge", str(tmp_path / "r"), "-o", str(tmp_path / "r2")]) == 2
    assert "research project made by 'rig merge'" in capsys.readouterr().err


def test_rigs_with_different_secrets_are_refused_unless_told(
    rigs: tuple[Project, Project], library: Library, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    a, _ = rigs
    c = rig_project(tmp_path / "c", "rig-c", library.without_secret)
    import_paths(c, [library.extra])  # the same patient, under c's own secret
    assert main(["merge", str(a.root), str(c.root), "-o", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "different secrets" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()
    # Told they share no patient, the merge goes on, and sees that they do.
    code = main(["merge", str(a.root), str(c.root), "-o", str(tmp_path / "r"),
                 "--different-secrets"])  # fmt: skip
    assert code == 2 and "another patient pseudonym" in capsys.readouterr().err


def test_a_changed_session_is_copied_again(rigs: tuple[Project, Project], tmp_path: Path) -> None:
    a, b = rigs
    merge_projects([a.root, b.root], tmp_path / "r")
    copy = tmp_path / "a2"
    subprocess.run(["cp", "-a", str(a.root), str(copy)], check=True)
    with sqlite3.connect(copy / "rig.db") as conn:  # a rater graded a pair on the rig since
        sid, idx = conn.execute("SELECT session_id, idx FROM captures LIMIT 1").fetchone()
        conn.execute("INSERT INTO quality_ratings VALUES ('ann', ?, 3, 'rate', 'now')",
                     [f"{sid}-{idx:05d}-a1"])  # fmt: skip
    report = merge_projects([copy, b.root], tmp_path / "r")
    assert [len(r.updated) for r in report.rigs] == [1, 0] and report.added == 1
    research = open_project(tmp_path / "r")
    db = research.db()
    try:
        ratings = list(db.query("SELECT rater, photo FROM quality_ratings"))
        verified = next(iter(db.query("SELECT count(*) AS n FROM captures WHERE state='verified'")))
    finally:
        db.close()
    assert ratings == [{"rater": "ann", "photo": f"{sid}-{idx:05d}-a1"}]
    assert verified["n"] == 11  # nothing doubled


@pytest.mark.parametrize("change", ["newer", "older"])
def test_schema_versions_are_checked(
    rigs: tuple[Project, Project], tmp_path: Path, change: str, capsys: pytest.CaptureFixture[str]
) -> None:
    a, _ = rigs
    copy = tmp_path / "a2"
    subprocess.run(["cp", "-a", str(a.root), str(copy)], check=True)
    with sqlite3.connect(copy / "rig.db") as conn:
        if change == "newer":
            conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                         "VALUES ('rig', 'm999_future', 'now')")  # fmt: skip
        else:
            conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm007_rigs'")
    assert main(["merge", str(copy), "-o", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert f"{change} schema" in err and len(err.strip().splitlines()) == 1
    if change == "older":
        assert f"rig -p {copy} session list" in err


def test_a_corrupted_library_archive_is_refused(library: Library, tmp_path: Path) -> None:
    with tarfile.open(library.with_secret) as tar:
        obj = next(m for m in tar.getmembers() if m.name.startswith("objects/"))
    data = bytearray(library.with_secret.read_bytes())
    data[obj.offset_data + obj.size // 2] ^= 0x01  # one bit inside an image
    bad = tmp_path / "bad.tar"
    bad.write_bytes(bytes(data))
    project = init_project(tmp_path / "rig")
    assert main(["-p", str(project.root), "library", "import", str(bad)]) == 2
    assert not list((project.root / "objects").rglob("*/*"))


def test_clashing_session_ids_from_two_rigs_are_kept_apart(
    rigs: tuple[Project, Project], tmp_path: Path
) -> None:
    """A copy of rig a's project under another rig name: the same session ids, other rig."""
    a, _ = rigs
    twin = tmp_path / "twin"
    subprocess.run(["cp", "-a", str(a.root), str(twin)], check=True)
    toml = twin / "rig.toml"
    toml.write_text(toml.read_text().replace('name = "rig-a"', 'name = "rig-twin"'))
    report = merge_projects([a.root, twin], tmp_path / "r")
    (sid,), (twin_sid,) = (r.added for r in report.rigs)
    assert twin_sid == f"{sid}-2"
    assert len(report.conflicts) == 5  # every item of a, verified on both "rigs"
    card = export(open_project(tmp_path / "r"), ExportOptions(tmp_path / "ds", fmt="folders"))
    assert {r["rig"]: r["pairs"] for r in card["rigs"]} == {"rig-a": 5, "rig-twin": 5}
    photos = sorted(p.name for p in (tmp_path / "ds" / "photos").iterdir())
    assert len(photos) == 10 and sum(p.startswith(f"{sid}-2-") for p in photos) == 5


def test_a_single_rig_export_names_its_rig_in_the_card(
    rigs: tuple[Project, Project], tmp_path: Path
) -> None:
    a, _ = rigs
    card = export(a, ExportOptions(tmp_path / "ds", fmt="folders"))
    (entry,) = card["rigs"]
    assert entry["rig"] == "rig-a" and entry["monitors"] == {"EIZO RX250": 5}
    assert entry["pairs"] == 5 and entry["cameras"] == {"none": 5}  # the phone's preset


@pytest.mark.parametrize(
    ("sid", "photo", "is_its"),
    [
        ("s0a1b2c3d4", "s0a1b2c3d4-00000-a1", True),
        ("s0a1b2c3d4", "s0a1b2c3d4-123456-a12", True),
        ("s0a1b2c3d4", "s0a1b2c3d4-2-00000-a1", False),  # the pairs of its clashing twin
        ("s0a1b2c3d4-2", "s0a1b2c3d4-2-00007-a2", True),
    ],
)
def test_a_session_s_pair_names_are_not_its_twin_s(sid: str, photo: str, is_its: bool) -> None:
    with sqlite3.connect(":memory:") as conn:
        assert conn.execute("SELECT ? GLOB ?", [photo, pair_names(sid)]).fetchone()[0] == is_its


def test_a_merged_session_can_be_deleted_in_the_research_project(
    rigs: tuple[Project, Project], tmp_path: Path
) -> None:
    a, b = rigs
    report = merge_projects([a.root, b.root], tmp_path / "r")
    sid = report.rigs[0].added[0]
    assert main(["-p", str(tmp_path / "r"), "session", "delete", sid, "--force"]) == 0
    with sqlite3.connect(tmp_path / "r" / "rig.db") as conn:
        assert conn.execute("SELECT count(*) FROM merged_sessions").fetchone()[0] == 1
    again = merge_projects([a.root, b.root], tmp_path / "r")  # merging brings it back
    assert again.rigs[0].added == [sid] and again.rigs[1].unchanged
