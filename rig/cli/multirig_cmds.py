"""Several rigs, one dataset: ``rig library export/import`` and ``rig merge``."""

from __future__ import annotations

from pathlib import Path

import typer

from rig.cli.common import (
    JsonOption,
    ProjectOption,
    console,
    print_json,
    progress_bar,
    project_from,
)
from rig.errors import UsageError


def cmd_library_export(
    out: Path = typer.Option(..., "--out", "-o", help="Archive to write (one .tar file)."),
    with_secret: bool = typer.Option(
        False,
        "--with-secret",
        help="Include the project secret, so files imported later on "
        "any rig get the same pseudonyms (warns: handle the archive like patient data).",
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing archive."),
    json_out: JsonOption = False,
    project: ProjectOption = None,
) -> None:
    """Write the source library (de-identified objects, pseudonyms, labels; no identifiers)
    to one archive with a manifest of content hashes, for other rigs to import."""
    from rig.library.archive import export_library
    from rig.library.sharedsecret import WARNING

    if out.is_dir():
        raise UsageError(f"-o {out}: is a folder; give an archive file name, e.g. library.tar")
    if out.exists() and not force:
        raise UsageError(f"-o {out}: exists; choose a new name or pass --force")
    proj = project_from(project)
    if with_secret:
        console.print(WARNING, style="yellow", markup=False)
    with progress_bar("library export", json_out=json_out) as progress:
        task = progress.add_task("export", total=None)
        done = export_library(
            proj, out, with_secret, lambda n, total: progress.update(task, completed=n, total=total)
        )
    if json_out:
        print_json(done.to_dict())
        return
    secret = "with the project secret" if with_secret else "without the project secret"
    console.print(
        f"library: {done.sources} sources of {done.patients} patients, {done.objects} "
        f"objects, {done.size_bytes} bytes, {secret}: {out}",
        markup=False,
    )


def cmd_library_import(
    archive: Path = typer.Argument(..., help="Archive made by 'rig library export'."),
    json_out: JsonOption = False,
    project: ProjectOption = None,
) -> None:
    """Add an exported library to this project, checking every member against the
    manifest; a damaged, cut-short or foreign archive adds nothing (exit 2)."""
    from rig.library.archive import import_library

    proj = project_from(project)
    with progress_bar("library import", json_out=json_out) as progress:
        task = progress.add_task("import", total=None)
        done = import_library(
            proj, archive, lambda n, total: progress.update(task, completed=n, total=total)
        )
    if json_out:
        print_json(done.to_dict())
        return
    added = done.added
    console.print(f"library: {added.sources_added} sources added, {added.sources_present} "
                  f"already here, {done.objects_added} objects added; secret: {done.secret}",
                  markup=False)  # fmt: skip
    if done.secret == "none in archive":
        console.print("note: files you import here later get pseudonyms of this project's own "
                      "secret (export with --with-secret to share one)", markup=False)  # fmt: skip


def cmd_merge(
    projects: list[Path] = typer.Argument(..., help="The rigs' projects."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Research project (created when missing)."
    ),
    into: Path | None = typer.Option(None, "--into", help="Same as -o."),
    different_secrets: bool = typer.Option(
        False,
        "--different-secrets",
        help="Merge rigs whose secrets differ (only when they "
        "share no patient: their pseudonyms cannot be matched).",
    ),
    json_out: JsonOption = False,
) -> None:
    """Merge several rigs' projects into one research project: library, finished sessions,
    captures, registrations and objects, deduplicated by content; each pair records its
    rig, monitor and camera. Running it again adds only what is new."""
    from rig.merge.run import describe, merge_projects

    if (out is None) == (into is None):
        raise UsageError("give the research project once: -o RESEARCH (or --into RESEARCH)")
    target = out or into
    assert target is not None
    with progress_bar("merge", json_out=json_out) as progress:
        task = progress.add_task("merge", total=None)
        report = merge_projects(
            projects, target, different_secrets,
            lambda done, total: progress.update(task, completed=done, total=total),
        )  # fmt: skip
    if json_out:
        print_json(report.to_dict())
        return
    for line in describe(report):
        console.print(line, markup=False, soft_wrap=True)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    del bench_app
    library = typer.Typer(help="The source library as one archive, for other rigs.",
                          no_args_is_help=True)  # fmt: skip
    library.command("export")(cmd_library_export)
    library.command("import")(cmd_library_import)
    app.add_typer(library, name="library")
    app.command("merge")(cmd_merge)
