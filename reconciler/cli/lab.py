"""The simulated lab: demo (end to end) and sim (serve a cluster file's nodes)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reconciler.cli.app import console
from reconciler.cli.options import DemoRepoOption, PortOption, RepoOption, SubnetOption

if TYPE_CHECKING:
    from reconciler.simulator.builtin_lab import LabPlace


def demo(repo: DemoRepoOption = None, subnet: SubnetOption = None, port: PortOption = None) -> None:
    """The simulated lab end to end, in a folder of its own: status (expired certificates),
    the plan rehearsed on a twin, apply, status, the empty plan. Needs no variable: the lab's
    published credentials are used where CMS_LAB_PASSWORD and CMS_LAB_KEY_PASSPHRASE are unset."""
    from reconciler.demo import DemoOptions, run_demo

    options = DemoOptions(repo=repo, place=_lab_place(subnet, port))
    code = run_demo(os.environ, console(), options)
    raise typer.Exit(code)


def sim(
    repo: RepoOption = Path("."),
    cluster: Annotated[
        str, typer.Option("--cluster", metavar="NAME", help="Cluster file to serve.")
    ] = "lab",
    operation_seconds: Annotated[
        float | None,
        typer.Option(
            metavar="SECONDS", help="Duration of remove/initialize/join (default: a few seconds)."
        ),
    ] = None,
    state_file: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="Keep a JSON snapshot of every node here."),
    ] = None,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            "--fault",
            metavar="NODE:KIND[:ARG][@WHEN]",
            help="Inject a fault (repeatable), e.g. cms2:fail:join, cms1:down@cms2:database "
            "cluster join, cms3:disconnect@4 (kinds above).",
        ),
    ] = None,
    subnet: SubnetOption = None,
    port: PortOption = None,
) -> None:
    """Serve the simulated nodes of a cluster file over SSH until interrupted.

    With no clusters/lab.yaml in the repository, --cluster lab serves the built-in lab: a copy
    in a temporary folder (printed; removed when the simulator stops) that commands run in
    another terminal can use, on --subnet and --port if given.

    Faults (--fault, or a `faults:` mapping of node name to specs in sim/CLUSTER/scenario.yaml)
    are NODE:KIND[:ARG][@WHEN]; NODE * is every node. Without @WHEN a fault holds from the
    start; with it, it fires once, before the command runs: @N as the node's Nth command
    arrives, @COMMAND as it receives a command starting with COMMAND, @OTHER:COMMAND as node
    OTHER does. Kinds:

    \b
    down[:SECONDS]          node down (SSH refused, peers see Disconnected); back after SECONDS
    restart[:SECONDS]       SSH service restarts: connections cut, refused SECONDS (default 1)
    disconnect[:before|after]  drop the connection once (needs @WHEN); after: the command ran
    fail:OPERATION          remove, initialize, join or upgrade_schema ends (Failed)
    hang:OPERATION          OPERATION never finishes
    slow:OPERATION=SECONDS  OPERATION takes SECONDS on this node
    delay:SECONDS           every command waits SECONDS before answering
    partition:OTHER         database network to OTHER cut (SSH still works)
    refuse-get:GLOB, refuse-put:GLOB, corrupt-put:GLOB   SFTP faults
    password-expired[:USER] USER's password expired (default: all): a new one is asked at login
    say-certs:TEXT          certs also prints the line TEXT (not in the reference)
    say-status:OP=TEXT      the Status line while OP runs ({seconds}: seconds so far)
    say-member:OP=TEXT      the node's own member state while OP runs
    """
    from reconciler.simulator.serve import ServeRequest, serve

    place = _lab_place(subnet, port)
    request = ServeRequest(repo, cluster, place, operation_seconds, state_file, tuple(fault or ()))
    serve(request, os.environ, typer.echo)


def _lab_place(subnet: str | None, port: int | None) -> LabPlace | None:
    """Where the built-in lab's copy is served, if either option moves it."""
    from reconciler.simulator.builtin_lab import LAB_PORT, LAB_SUBNET, LabPlace

    if subnet is None and port is None:
        return None
    return LabPlace(subnet or LAB_SUBNET, LAB_PORT if port is None else port)
