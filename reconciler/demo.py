"""``reconcile demo``: the simulated lab, in-process, driven through the real code paths."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from reconciler.live.render import print_status
from reconciler.live.status import gather_status
from reconciler.simulator.lab import build_cluster, load_topology
from reconciler.simulator.state import Durations

DEMO_CLUSTER = "lab"
DEMO_DURATIONS = Durations(remove=2.0, initialize=2.0, join=3.0, upgrade_schema=1.0)


def run_demo(repo: Path, env: Mapping[str, str], console: Console) -> int:
    """Serve the lab, show its state; returns the exit code."""
    workdir = repo / ".reconcile" / "demo"
    if workdir.exists():
        shutil.rmtree(workdir)
    topology = load_topology(repo, DEMO_CLUSTER)
    with build_cluster(repo, topology, env=env, workdir=workdir, durations=DEMO_DURATIONS):
        console.print(Rule("simulated lab: the Cisco tech note's cluster, certificates expired"))
        clusters = gather_status(repo, [DEMO_CLUSTER], env)
        print_status(clusters, console)
        return 0 if all(cluster.complete for cluster in clusters) else 1
