"""What the clusters are like now: status (read-only) and unlock (a stale apply lock)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from reconciler.cli.app import console
from reconciler.cli.options import ClusterOption, FormatOption, RepoOption, check_format


def status(
    repo: RepoOption = Path("."),
    cluster: ClusterOption = None,
    output_format: FormatOption = "text",
) -> None:
    """Live state of every node (read-only).

    Exit 0 healthy; 2 needs attention: a certificate in use expired or due for renewal, a
    node not replicating as the cluster file says (not in sync, another master or none), or
    a last cluster command that failed; 1 a node not read.
    """
    from reconciler.live.health import status_exit_code
    from reconciler.live.render import print_status, status_json
    from reconciler.status import gather_status

    check_format(output_format, ("text", "json"))
    reports = gather_status(repo, cluster or [], os.environ)
    if output_format == "json":
        typer.echo(json.dumps(status_json(reports), indent=2))
    else:
        print_status(reports, console())
    raise typer.Exit(status_exit_code(reports))


def unlock(
    cluster: Annotated[str, typer.Option("--cluster", metavar="NAME", help="The locked cluster.")],
    lock_id: Annotated[
        str, typer.Option("--lock-id", metavar="ID", help="The id the lock error named.")
    ],
    repo: RepoOption = Path("."),
) -> None:
    """Release a stale apply lock (only the lock with this id)."""
    from reconciler.apply.unlock import release_lock

    typer.echo(release_lock(repo, cluster, lock_id, os.environ))
