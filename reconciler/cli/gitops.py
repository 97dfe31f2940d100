"""The repository's own commands: init, schema, validate, clusters (none reads a node)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from reconciler.cli.app import package_version
from reconciler.cli.options import ClusterOption, FormatOption, RefOption, RepoOption, format_option


def init(
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", show_default=False, hidden=True)
    ] = Path("."),
    requirement: Annotated[
        str | None,
        typer.Option(
            "--requirement",
            metavar="SPEC",
            help=(
                "What the workflows install: a wheel file, the https URL of one, "
                "cms-reconciler==VERSION from your package index, or "
                "git+https://HOST/PATH@COMMIT (default: this release from the index pip is "
                "configured for)."
            ),
        ),
    ] = None,
) -> None:
    """A new GitOps repository in DIR (default: here): clusters/, certs/, .gitignore, README,
    workflows, and the hash-locked pin of the reconcile they install; git init if DIR is in no
    git repository. Adds what is missing, keeps the rest.

    Exit 0 written; 2 written, but the pin is missing (the output says what to do first);
    1 refused (nothing written).
    """
    from reconciler.init_repo import init_repo, render_report

    report = init_repo(directory, package_version(), requirement)
    typer.echo(render_report(report))
    raise typer.Exit(report.exit_code)


def schema() -> None:
    """Print the JSON Schema of clusters/*.yaml (for editors and CI)."""
    from reconciler.desired.schema import cluster_json_schema

    typer.echo(json.dumps(cluster_json_schema(), indent=2))


def validate(
    repo: RepoOption = Path("."),
    cluster: ClusterOption = None,
    ref: RefOption = None,
    output_format: Annotated[
        str,
        format_option("text", "json", "github", what="github: workflow-command annotations."),
    ] = "text",
    trusted_ref: Annotated[
        str | None,
        typer.Option(
            "--trusted-ref",
            metavar="GITREF",
            help="Read only the variables (and pins) the cluster file names at this commit, "
            "as plan --trusted-ref does.",
        ),
    ] = None,
) -> None:
    """Offline checks of cluster YAML, files and the certificate bundle."""
    from reconciler.desired.validate import run_validate

    output, code = run_validate(repo, cluster or [], ref, output_format, trusted_ref=trusted_ref)
    typer.echo(output)
    raise typer.Exit(code)


def clusters(
    repo: RepoOption = Path("."),
    cluster: ClusterOption = None,
    changed_since: Annotated[
        str | None,
        typer.Option(
            "--changed-since",
            metavar="GITREF",
            help="Only clusters whose YAML, certificate files or pinned host keys changed "
            "between this commit and HEAD (committed changes only).",
        ),
    ] = None,
    ref: Annotated[
        str | None,
        typer.Option(
            "--ref",
            metavar="GITREF",
            help="Read the clusters from this commit (with --changed-since: compare with it "
            "instead of HEAD).",
        ),
    ] = None,
    trusted_ref: Annotated[
        str | None,
        typer.Option(
            "--trusted-ref",
            metavar="GITREF",
            help="The variables each cluster needs are the ones its file names at this commit "
            "(a cluster new since then has none: it is not contacted).",
        ),
    ] = None,
    output_format: FormatOption = "text",
) -> None:
    """List clusters and the variables each needs (JSON: a GitHub Actions matrix)."""
    from reconciler.desired.changes import list_clusters, listing_json, listing_text, select

    listing = list_clusters(repo, changed_since, ref=ref, trusted_ref=trusted_ref)
    listing = select(listing, cluster or [])
    for note in listing.notes:
        typer.echo(f"note: {note}", err=True)
    if output_format == "json":
        # One line, so that `echo "matrix=$(reconcile clusters ...)" >> $GITHUB_OUTPUT` works.
        typer.echo(json.dumps(listing_json(listing)))
    else:
        typer.echo(listing_text(listing))
