"""First contact with a running cluster: probe, import, hostkeys."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from reconciler.cli.options import ClusterOption, FormatOption, RepoOption, check_format


def probe(
    cluster: Annotated[
        str, typer.Option("--cluster", metavar="NAME", help="The cluster to probe.")
    ],
    repo: RepoOption = Path("."),
    output_format: FormatOption = "text",
    anonymise: Annotated[
        bool,
        typer.Option(
            "--anonymise",
            help="Replace the nodes' names and addresses in the bundle (consistently).",
        ),
    ] = False,
    state_dir: Annotated[
        Path | None,
        typer.Option(
            "--state-dir",
            metavar="DIR",
            help="Where the bundle goes, under probe/ (default: $RECONCILE_STATE_DIR, else "
            ".reconcile/ in the repository).",
        ),
    ] = None,
) -> None:
    """First contact with a real cluster, before its first plan (read-only).

    Per node: status, pki inspect of each configured file, backup list, SFTP list and stat;
    every line is compared with the shapes the parsers know. Writes a redacted transcript
    bundle to attach to a bug report. Exit 0 all known; 2 a line not recognised (the plan
    may still work); 1 a node not read.
    """
    from reconciler.onboard.probe import probe_cluster, report_json, report_lines

    check_format(output_format, ("text", "json"))
    report = probe_cluster(repo, cluster, os.environ, state_dir=state_dir, anonymise=anonymise)
    if output_format == "json":
        typer.echo(json.dumps(report_json(report), indent=2))
    else:
        for line in report_lines(report):
            typer.echo(line)
    raise typer.Exit(report.exit_code)


def import_cluster(
    cluster: Annotated[
        str,
        typer.Option(
            "--cluster", metavar="NAME", help="Name of the new cluster file (clusters/NAME.yaml)."
        ),
    ],
    address: Annotated[
        list[str],
        typer.Option(
            "--address", metavar="ADDR", help="SSH address of a node (repeat it for every node)."
        ),
    ],
    password_env: Annotated[
        str,
        typer.Option(
            "--password-env", metavar="VAR", help="Environment variable holding the SSH password."
        ),
    ],
    key_passphrase_env: Annotated[
        str,
        typer.Option(
            "--key-passphrase-env",
            metavar="VAR",
            help="Environment variable holding the passphrase the keys are encrypted with in git.",
        ),
    ],
    port: Annotated[
        int, typer.Option("--port", metavar="PORT", min=1, max=65535, help="SSH port of the nodes.")
    ] = 22,
    username: Annotated[
        str, typer.Option("--username", metavar="USER", help="MMP user to log in as.")
    ] = "admin",
    trust_new_host_keys: Annotated[
        bool,
        typer.Option(
            "--trust-new-host-keys",
            help="Pin the host keys not pinned yet (compare their fingerprints first).",
        ),
    ] = False,
    repo: RepoOption = Path("."),
) -> None:
    """Describe a running cluster in git (read-only), so that the next plan is empty.

    Exit 0 written; 2 written, but the notes say what to do before the plan is empty;
    1 refused (nothing written).
    """
    from reconciler.onboard.describe import ImportSettings
    from reconciler.onboard.importer import (
        EXIT_INCOMPLETE,
        ImportRequest,
        render_report,
        run_import,
    )

    request = ImportRequest(
        repo=repo,
        settings=ImportSettings(
            cluster=cluster,
            port=port,
            username=username,
            password_env=password_env,
            key_passphrase_env=key_passphrase_env,
        ),
        addresses=tuple(address),
        trust_new_host_keys=trust_new_host_keys,
    )
    report = run_import(request, os.environ)
    typer.echo(render_report(report))
    raise typer.Exit(0 if report.complete else EXIT_INCOMPLETE)


def hostkeys(
    repo: RepoOption = Path("."),
    cluster: ClusterOption = None,
    write: Annotated[
        bool,
        typer.Option(
            "--write", help="Pin the keys not pinned yet; a changed key is never replaced."
        ),
    ] = False,
) -> None:
    """Each node's SSH host key against its pin (no login). Exit 0 all pinned, 1 otherwise."""
    from reconciler.onboard.hostkeys import check_host_keys, render_host_keys

    report = check_host_keys(repo, cluster or [], write=write)
    typer.echo(render_host_keys(report, write=write))
    raise typer.Exit(0 if report.ok else 1)
