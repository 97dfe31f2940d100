"""``reconcile demo``: the simulated lab end to end, through the same code paths as production.

The lab is served in-process over real SSH on its own addresses; status, plan and apply
talk to it exactly as they would to a Cisco Meeting Server.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from rich.console import Console
from rich.rule import Rule
from rich.text import Text

from reconciler.apply.apply import ApplyOptions, apply_plan, cluster_locks
from reconciler.live.render import print_status
from reconciler.mmp.session import Redactor
from reconciler.plan.render.text import render_text
from reconciler.progress import progress_printer
from reconciler.rehearse.plans import rehearse_plan
from reconciler.run import Fleet
from reconciler.simulator.lab import build_cluster, load_topology
from reconciler.simulator.state import Durations
from reconciler.status import gather_status
from reconciler.workdir import private_dir
from reconciler.workdir import workdir as state_dir

DEMO_CLUSTER = "lab"
DEMO_DURATIONS = Durations(remove=2.0, initialize=2.0, join=3.0, upgrade_schema=1.0)


def run_demo(
    repo: Path,
    env: Mapping[str, str],
    console: Console,
    durations: Durations = DEMO_DURATIONS,
) -> int:
    """Serve the lab; show status, the rehearsed plan, apply it, show status and the empty
    plan."""
    workdir = state_dir(repo) / "demo"
    if workdir.exists():
        shutil.rmtree(workdir)
    private_dir(workdir)
    topology = load_topology(repo, DEMO_CLUSTER)
    with build_cluster(repo, topology, env=env, workdir=workdir / "sim", durations=durations):
        console.print(Rule("1. the lab as the Cisco tech note found it: certificates expired"))
        print_status(gather_status(repo, [DEMO_CLUSTER], env), console)
        with Fleet(repo, [DEMO_CLUSTER], ref=None, env=env) as fleet:
            console.print(Rule("2. reconcile --plan --rehearse"))
            # The plan, then run on a twin of the lab built from what the nodes just said.
            plan = rehearse_plan(fleet.plan(), fleet.clusters, fleet.live)
            render_text(plan, console)
            console.print(Rule("3. reconcile --apply --auto-approve"))
            secrets = [s for pool in fleet.pools.values() for s in pool.redactor.secrets]
            with (
                cluster_locks(fleet, workdir) as locks,
                progress_printer(console, env=env) as progress,
            ):
                report = apply_plan(
                    fleet,
                    plan,
                    ApplyOptions(workdir),
                    progress=progress,
                    redactor=Redactor(secrets),
                    lock_ids=locks.ids,
                )
            for cluster in report.clusters:
                if cluster.error:
                    console.print(Text(f"error: {cluster.error}", style="bold red"))
        console.print(Rule("4. reconcile status"))
        clusters = gather_status(repo, [DEMO_CLUSTER], env)
        print_status(clusters, console)
        console.print(Rule("5. reconcile --plan again"))
        with Fleet(repo, [DEMO_CLUSTER], ref=None, env=env) as fleet:
            final = fleet.plan()
            render_text(final, console)
        ok = not report.failed and not final.has_changes and not plan.rehearsal_failed
        console.print(
            "[bold green]Demo complete: the lab is converged.[/]"
            if ok
            else "[bold red]Demo failed: the lab did not converge.[/]"
        )
        return 0 if ok else 1
