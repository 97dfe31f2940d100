"""``reconcile sim``'s loop: serve a cluster file's simulated nodes until interrupted.

The command line only parses options; what is served, from where, and how it stops lives
here beside the simulator. Output goes through ``say`` (one line at a time), so this module
needs no CLI library. The caller makes SIGTERM raise ``KeyboardInterrupt`` in the main thread
(reconciler/cli/app.py): the loop stops on it as on Ctrl-C, every node stopped on the way out.
"""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import ReconcileError
from reconciler.simulator.builtin_lab import (
    LAB_CLUSTER,
    LabPlace,
    copy_lab,
    lab_env,
    serving_error,
)
from reconciler.simulator.lab import SimTopology, build_cluster, load_topology
from reconciler.simulator.service import SimulatedCluster
from reconciler.simulator.state import Durations
from reconciler.workdir import private_dir
from reconciler.workdir import workdir as state_dir

Say = Callable[[str], None]


@dataclass(frozen=True)
class ServeRequest:
    """What ``reconcile sim`` serves: ``cluster`` of ``repo``, or the built-in lab at
    ``place`` where ``repo`` has no lab of its own."""

    repo: Path
    cluster: str
    place: LabPlace | None = None
    operation_seconds: float | None = None
    state_file: Path | None = None
    faults: Sequence[str] = ()


def serve(request: ServeRequest, env: Mapping[str, str], say: Say) -> None:
    """Serve until SIGINT (or SIGTERM made to raise as it does); then stop every node."""
    with ExitStack() as stack:
        repo, env = _repo_to_serve(stack, request, env, say)
        topology, simulated = _built(repo, request, env)
        try:
            _start(simulated, topology)
            _announce(simulated, topology, request, say)
            while True:
                signal.pause()
        except KeyboardInterrupt:
            pass
        finally:
            simulated.stop()


def _repo_to_serve(
    stack: ExitStack, request: ServeRequest, env: Mapping[str, str], say: Say
) -> tuple[Path, Mapping[str, str]]:
    """The repository to serve from: ``request.repo``, or a temporary copy of the built-in
    lab when it has no lab of its own (removed when ``stack`` closes)."""
    repo, cluster = request.repo, request.cluster
    if cluster != LAB_CLUSTER or (repo / "clusters" / f"{cluster}.yaml").exists():
        if request.place is not None:
            raise ReconcileError(
                "--subnet and --port move only the built-in lab, served where no "
                f"clusters/{LAB_CLUSTER}.yaml is; edit the cluster file's addresses instead"
            )
        return repo, env
    copy = Path(tempfile.mkdtemp(prefix="reconcile-lab-"))
    stack.callback(shutil.rmtree, copy, True)
    copy_lab(copy, request.place or LabPlace())
    say(
        f"no clusters/{LAB_CLUSTER}.yaml here: serving the built-in lab, copied to {copy} "
        "(removed when this stops). In another terminal: "
        f"cd {copy} && export CMS_LAB_PASSWORD=cms-lab CMS_LAB_KEY_PASSPHRASE=cms-lab && "
        "reconcile status"
    )
    return copy, lab_env(env)


def _built(
    repo: Path, request: ServeRequest, env: Mapping[str, str]
) -> tuple[SimTopology, SimulatedCluster]:
    """The cluster file's topology and its simulated cluster, not started yet; the nodes'
    files begin afresh from the scenario."""
    durations = None
    if request.operation_seconds is not None:
        seconds = request.operation_seconds
        durations = Durations(seconds, seconds, seconds, seconds)
    try:
        workdir = private_dir(state_dir(repo) / "sim" / request.cluster)
        topology = load_topology(repo, request.cluster)
        _fresh_directory(workdir / "nodes")
        return topology, build_cluster(
            repo,
            topology,
            env=env,
            workdir=workdir,
            durations=durations,
            state_file=request.state_file,
            faults=request.faults,
        )
    except OSError as error:
        raise ReconcileError(f"cannot serve cluster {request.cluster}: {error}") from None


def _start(simulated: SimulatedCluster, topology: SimTopology) -> None:
    try:
        simulated.start()
    except OSError as error:
        addresses = ", ".join(node.address for node in topology.nodes)
        raise serving_error(error, addresses, topology.nodes[0].ssh_port) from None


def _announce(
    simulated: SimulatedCluster, topology: SimTopology, request: ServeRequest, say: Say
) -> None:
    """Where to connect, the host keys to pin, the faults; ``ready:`` last, which whoever
    waits for the simulator reads (and may signal at once)."""
    for setup in simulated.setups:
        say(f"{setup.name}: ssh {topology.username}@{setup.listen_host} -p {setup.port}")
    say("host keys to pin in the cluster's known_hosts:")
    for line in simulated.known_hosts_lines():
        say(f"  {line}")
    for spec in request.faults:
        say(f"fault: {spec}")
    say(f"ready: cluster {request.cluster}, {len(simulated.setups)} simulated nodes")
    sys.stdout.flush()


def _fresh_directory(path: Path) -> None:
    """The simulator starts every run from its scenario: drop the previous run's files."""
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
