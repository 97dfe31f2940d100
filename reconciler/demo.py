"""``reconcile demo``: the simulated lab end to end, through the same code paths as production.

The lab is served in-process over real SSH on its own addresses; status, plan and apply
talk to it exactly as they would to a Cisco Meeting Server. It runs on a copy of the lab the
package ships (``simulator/builtin_lab.py``), in a temporary folder unless ``--repo`` names
one, so it works from an installed wheel in any folder and a failed run leaves nothing.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.rule import Rule
from rich.text import Text

from reconciler.apply.apply import ApplyOptions, cluster_locks, run_plan
from reconciler.errors import ConfigError
from reconciler.live.render import print_status
from reconciler.mmp.session import Redactor
from reconciler.plan.render.text import render_text
from reconciler.progress import progress_printer
from reconciler.rehearse.gate import refuse_unrehearsed
from reconciler.rehearse.plans import rehearse_plan
from reconciler.run import Fleet
from reconciler.simulator.builtin_lab import (
    LAB_CLUSTER,
    LabPlace,
    copy_lab,
    lab_env,
    serving_error,
)
from reconciler.simulator.lab import SimTopology, build_cluster, load_topology
from reconciler.simulator.state import Durations
from reconciler.status import gather_status
from reconciler.workdir import WORKDIR_NAME, private_dir
from reconciler.workdir import workdir as state_dir

DEMO_CLUSTER = LAB_CLUSTER
DEMO_DURATIONS = Durations(remove=2.0, initialize=2.0, join=3.0, upgrade_schema=1.0)


@dataclass(frozen=True)
class DemoOptions:
    """Where the demo works. ``repo`` None: a temporary folder of its own, kept if the lab
    converges (the journal and backups are worth a look), removed if not."""

    repo: Path | None = None
    place: LabPlace | None = None  # None: the lab's own addresses, or DIR's lab.yaml as it is
    durations: Durations = field(default_factory=lambda: DEMO_DURATIONS)


def run_demo(env: Mapping[str, str], console: Console, options: DemoOptions = DemoOptions()) -> int:
    """Copy the lab where the options say, run it end to end, and leave nothing if it fails."""
    root = options.repo or Path(tempfile.mkdtemp(prefix="reconcile-demo-"))
    created: list[Path] = [root] if options.repo is None else []
    ok = False
    try:
        created += _lab_in(root, options)
        if options.repo is None:
            console.print(f"The demo works in {root}, a copy of the built-in lab.")
        if not (root / WORKDIR_NAME).exists():
            created.append(root / WORKDIR_NAME)
        ok = _run(root, lab_env(env), console, options.durations)
    finally:
        if not ok:
            _remove(created, root / WORKDIR_NAME / "demo")
    if not ok:
        return 1
    if options.repo is None:
        console.print(
            f"Kept in {root}: the lab's repository, the journal and the backups of this run. "
            f"`reconcile sim --repo {root}` serves the lab again as the tech note found it; "
            "remove the folder when done."
        )
    return 0


def _lab_in(root: Path, options: DemoOptions) -> list[Path]:
    """Copy the built-in lab into ``root`` unless it has one of its own (``--repo``)."""
    if not (root / "clusters" / f"{DEMO_CLUSTER}.yaml").exists():
        return copy_lab(root, options.place or LabPlace())
    if options.place is not None:
        raise ConfigError(
            f"{root} has its own clusters/{DEMO_CLUSTER}.yaml: --subnet and --port move only "
            "the built-in lab's copy; edit that file's addresses instead"
        )
    return []


def _remove(created: list[Path], demo_state: Path) -> None:
    """Undo a failed demo: its state, then what it created, newest first."""
    shutil.rmtree(demo_state, ignore_errors=True)
    for path in reversed(created):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _run(repo: Path, env: Mapping[str, str], console: Console, durations: Durations) -> bool:
    """Serve the lab; show status, the rehearsed plan, apply it, show status and the empty
    plan. True when the lab converged."""
    workdir = state_dir(repo) / "demo"
    if workdir.exists():
        shutil.rmtree(workdir)
    private_dir(workdir)
    topology = load_topology(repo, DEMO_CLUSTER)
    simulated = build_cluster(repo, topology, env=env, workdir=workdir / "sim", durations=durations)
    try:
        simulated.start()
    except OSError as error:
        simulated.stop()
        raise serving_error(error, _addresses(topology), topology.nodes[0].ssh_port) from None
    with contextlib.ExitStack() as serving:
        serving.callback(simulated.stop)
        console.print(Rule("1. the lab as the Cisco tech note found it: certificates expired"))
        print_status(gather_status(repo, [DEMO_CLUSTER], env), console)
        with Fleet(repo, [DEMO_CLUSTER], ref=None, env=env) as fleet:
            console.print(Rule("2. reconcile --plan --rehearse"))
            # The plan, then run on a twin of the lab built from what the nodes just said.
            plan = rehearse_plan(fleet.plan(), fleet.clusters, fleet.live)
            render_text(plan, console)
            # As apply refuses it: a plan that does not converge on its twin is not run (the
            # rehearsal above is the one apply makes; it is not made twice).
            refuse_unrehearsed(plan)
            console.print(Rule("3. reconcile --apply --auto-approve"))
            secrets = [s for pool in fleet.pools.values() for s in pool.redactor.secrets]
            with (
                cluster_locks(fleet, workdir) as locks,
                progress_printer(console, env=env) as progress,
            ):
                report = run_plan(
                    fleet,
                    plan,
                    ApplyOptions(workdir),
                    progress=progress,
                    redactor=Redactor(secrets),
                    lock_ids=locks.ids,
                ).unless_stopped()
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
        return ok


def _addresses(topology: SimTopology) -> str:
    return ", ".join(node.address for node in topology.nodes)
