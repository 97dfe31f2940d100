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
) -> None:
    """Plan (default) or apply the desired state of every cluster (exit 0 converged, 2 changes)."""
    if ctx.invoked_subcommand is not None:
        return
    import os

    from reconciler.plan.render.json import render_json
    from reconciler.plan.render.markdown import render_markdown
    from reconciler.plan.render.text import render_text
    from reconciler.run import ReconcileRun

    if apply_mode:
        raise _fail(ReconcileError("--apply is not available yet; use --plan"))
    _check_format(output_format, ("text", "json", "markdown"))
    try:
        with ReconcileRun(repo, cluster or [], ref=ref, env=os.environ) as run:
            plan = run.plan()
    except ReconcileError as error:
        raise _fail(error) from None
    if out is not None:
        out.write_text(render_json(plan))
    if output_format == "json":
        typer.echo(render_json(plan), nl=False)
    elif output_format == "markdown":
        typer.echo(render_markdown(plan))
    else:
        render_text(plan, _console())
    if plan.blocked:
        raise typer.Exit(1)
    raise typer.Exit(2 if plan.has_changes else 0)


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
    output_format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
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
    workdir = repo / ".reconcile" / "sim" / cluster
    try:
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
def demo(repo: RepoOption = Path(".")) -> None:
    """The simulated lab end to end: serve it, then show its live status."""
    import os

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


def _console() -> Console:
    """Rich output; wide when not on a terminal so CI logs and pipes are not truncated."""
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=max(console.width, 160))
    return console


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except ReconcileError as error:  # a command that forgot to catch: still no traceback
        typer.echo(f"error: {error}", err=True)
        sys.exit(1)
