"""The ``reconcile`` command line: the only module that imports typer.

Each command parses its options, calls into the package, prints, and maps
``ReconcileError`` to a clear message and exit 1 (never a traceback).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from reconciler.errors import ReconcileError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=False,
    help="Keep Cisco Meeting Server database clusters converged from git.",
)

RepoOption = Annotated[
    Path, typer.Option("--repo", help="The GitOps repository (default: current directory).")
]
ClusterOption = Annotated[
    list[str] | None,
    typer.Option("--cluster", help="Cluster name (repeatable; default: every clusters/*.yaml)."),
]


EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report an interrupted command


def _fail(error: ReconcileError) -> typer.Exit:
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(1)


@app.callback(invoke_without_command=True)
def reconcile(
    ctx: typer.Context,
    plan_mode: Annotated[
        bool, typer.Option("--plan", help="Show what would change (default; changes nothing).")
    ] = False,
    apply_mode: Annotated[bool, typer.Option("--apply", help="Make the changes.")] = False,
    repo: RepoOption = Path("."),
    cluster: ClusterOption = None,
    ref: Annotated[
        str | None, typer.Option("--ref", help="Read desired state from a git commit.")
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="text, json or markdown.")
    ] = "text",
    out: Annotated[Path | None, typer.Option("--out", help="Save the plan (JSON) here.")] = None,
    plan_file: Annotated[
        Path | None, typer.Option("--plan-file", help="Apply exactly this saved plan.")
    ] = None,
    auto_approve: Annotated[
        bool, typer.Option("--auto-approve", help="Apply without asking (CI).")
    ] = False,
    allow_dirty: Annotated[
        bool, typer.Option("--allow-dirty", help="Apply from a working tree with changes.")
    ] = False,
    allow_master_change: Annotated[
        bool,
        typer.Option(
            "--allow-master-change",
            help="Allow a plan that makes another node's database the master copy.",
        ),
    ] = False,
) -> None:
    """Plan (default) or apply. Exit: plan 0 converged, 2 changes, 1 error; apply 0 or 1."""
    if ctx.invoked_subcommand is not None:
        return
    import os
    import signal

    from reconciler.apply.apply import ApplyInterrupted
    from reconciler.reconcile import ReconcileOptions, Terminal, run_reconcile

    if plan_mode and apply_mode:
        raise _fail(ReconcileError("--plan and --apply exclude each other"))
    _check_format(output_format, ("text", "json", "markdown"))
    options = ReconcileOptions(
        repo=repo,
        clusters=cluster or [],
        ref=ref,
        apply=apply_mode,
        output_format=output_format,
        out=out,
        plan_file=plan_file,
        auto_approve=auto_approve,
        allow_dirty=allow_dirty,
        allow_master_change=allow_master_change,
    )
    interactive = sys.stdin.isatty() and sys.stderr.isatty()
    terminal = Terminal(
        out=_console(),
        err=_console(stderr=True),
        ask=(lambda question: typer.prompt(question, err=True)) if interactive else None,
    )
    # CI cancels a job with SIGTERM: stop like Ctrl-C, so the journal and the message say
    # where the apply stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        code = run_reconcile(options, os.environ, terminal)
    except ApplyInterrupted as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except ReconcileError as error:
        raise _fail(error) from None
    raise typer.Exit(code)


@app.command()
def schema() -> None:
    """Print the JSON Schema of clusters/*.yaml (for editors and CI)."""
    from reconciler.desired.schema import cluster_json_schema

    typer.echo(json.dumps(cluster_json_schema(), indent=2))


@app.command()
def validate(
    repo: RepoOption = Path("."),
    cluster: ClusterOption = None,
    ref: Annotated[
        str | None, typer.Option("--ref", help="Read desired state from a git commit.")
    ] = None,
    output_format: Annotated[
        str,
        typer.Option("--format", help="text, json or github (workflow-command annotations)."),
    ] = "text",
) -> None:
    """Offline checks of cluster YAML, files and the certificate bundle."""
    from reconciler.desired.validate import run_validate

    try:
        output, code = run_validate(repo, cluster or [], ref, output_format)
    except ReconcileError as error:
        raise _fail(error) from None
    typer.echo(output)
    raise typer.Exit(code)


FormatOption = Annotated[str, typer.Option("--format", help="text or json.")]


def _check_format(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise _fail(ReconcileError(f"--format must be one of {', '.join(allowed)}, not {value!r}"))
    return value


@app.command()
def status(
    repo: RepoOption = Path("."),
    cluster: ClusterOption = None,
    output_format: FormatOption = "text",
) -> None:
    """Show each node's live database cluster state (read-only)."""
    import os

    from reconciler.live.render import print_status, status_json
    from reconciler.live.status import gather_status

    _check_format(output_format, ("text", "json"))
    try:
        clusters = gather_status(repo, cluster or [], os.environ)
    except ReconcileError as error:
        raise _fail(error) from None
    if output_format == "json":
        typer.echo(json.dumps(status_json(clusters), indent=2))
    else:
        print_status(clusters, _console())
    raise typer.Exit(0 if all(c.complete for c in clusters) else 1)


@app.command()
def clusters(
    repo: RepoOption = Path("."),
    cluster: ClusterOption = None,
    changed_since: Annotated[
        str | None,
        typer.Option(
            "--changed-since",
            help="Only clusters whose YAML, certificate files or pinned host keys changed "
            "between this commit and HEAD (committed changes only).",
        ),
    ] = None,
    output_format: FormatOption = "text",
) -> None:
    """List clusters and the variables each needs (JSON: a GitHub Actions matrix)."""
    from reconciler.desired.changes import list_clusters, listing_json, listing_text, select

    _check_format(output_format, ("text", "json"))
    try:
        listing = select(list_clusters(repo, changed_since), cluster or [])
    except ReconcileError as error:
        raise _fail(error) from None
    for note in listing.notes:
        typer.echo(f"note: {note}", err=True)
    if output_format == "json":
        # One line, so that `echo "matrix=$(reconcile clusters ...)" >> $GITHUB_OUTPUT` works.
        typer.echo(json.dumps(listing_json(listing)))
    else:
        typer.echo(listing_text(listing))


@app.command()
def sim(
    repo: RepoOption = Path("."),
    cluster: Annotated[str, typer.Option("--cluster", help="Cluster file to serve.")] = "lab",
    operation_seconds: Annotated[
        float | None,
        typer.Option(help="Duration of remove/initialize/join (default: a few seconds)."),
    ] = None,
    state_file: Annotated[
        Path | None, typer.Option(help="Keep a JSON snapshot of every node here.")
    ] = None,
) -> None:
    """Serve the simulated nodes of a cluster file over SSH until interrupted."""
    import os
    import signal

    from reconciler.simulator.lab import build_cluster, load_topology
    from reconciler.simulator.state import Durations

    durations = None
    if operation_seconds is not None:
        seconds = operation_seconds
        durations = Durations(seconds, seconds, seconds, seconds)
    from reconciler.workdir import private_dir
    from reconciler.workdir import workdir as state_dir

    # The simulated nodes' file areas hold private keys and backups, as a device's do.
    os.umask(0o077)
    try:
        workdir = private_dir(state_dir(repo) / "sim" / cluster)
        topology = load_topology(repo, cluster)
        _fresh_directory(workdir / "nodes")
        simulated = build_cluster(
            repo,
            topology,
            env=os.environ,
            workdir=workdir,
            durations=durations,
            state_file=state_file,
        )
        simulated.start()
    except ReconcileError as error:
        raise _fail(error) from None
    except OSError as error:
        raise _fail(ReconcileError(f"cannot serve cluster {cluster}: {error}")) from None
    # SIGTERM stops like Ctrl-C (raising in the main thread; no locks in a signal handler).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    for setup in simulated.setups:
        typer.echo(f"{setup.name}: ssh {topology.username}@{setup.listen_host} -p {setup.port}")
    typer.echo("host keys to pin in the cluster's known_hosts:")
    for line in simulated.known_hosts_lines():
        typer.echo(f"  {line}")
    typer.echo(f"ready: cluster {cluster}, {len(simulated.setups)} simulated nodes", err=False)
    sys.stdout.flush()
    try:
        while True:
            signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        simulated.stop()


@app.command()
def unlock(
    cluster: Annotated[str, typer.Option("--cluster", help="The locked cluster.")],
    lock_id: Annotated[str, typer.Option("--lock-id", help="The id the lock error named.")],
    repo: RepoOption = Path("."),
) -> None:
    """Release a stale apply lock (only the lock with this id)."""
    import os

    from reconciler.apply.unlock import release_lock

    try:
        typer.echo(release_lock(repo, cluster, lock_id, os.environ))
    except ReconcileError as error:
        raise _fail(error) from None


@app.command()
def demo(repo: RepoOption = Path(".")) -> None:
    """The simulated lab end to end: serve it, then show its live status."""
    import os

    os.umask(0o077)  # backups, journal and the simulated nodes' keys: owner-only

    from reconciler.demo import run_demo

    try:
        code = run_demo(repo, os.environ, _console())
    except ReconcileError as error:
        raise _fail(error) from None
    raise typer.Exit(code)


def _fresh_directory(path: Path) -> None:
    """The simulator starts every run from its scenario: drop the previous run's files."""
    import shutil

    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)


def _console(stderr: bool = False) -> Console:
    """Rich output; wide when not on a terminal so CI logs and pipes are not truncated."""
    console = Console(highlight=False, stderr=stderr)
    if not console.is_terminal:
        console = Console(highlight=False, stderr=stderr, width=max(console.width, 160))
    return console


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except ReconcileError as error:  # a command that forgot to catch: still no traceback
        typer.echo(f"error: {error}", err=True)
        sys.exit(1)
    except OSError as error:  # a local file or directory problem (journal, backups, locks)
        typer.echo(f"error: {error}", err=True)
        sys.exit(1)
