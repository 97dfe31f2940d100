"""Run a cluster's plan with the real executor against its twin, and judge it as apply does.

The executor is the one ``--apply`` uses, with the same safety checks, waits and
verification; only its sessions (twin sessions), its clock (virtual), its journal and its
backup folder (a temporary folder, dropped afterwards) differ. After the last step, the
twin is read with the real reader and planned again, as apply verifies a real cluster: the
plan converges when every step ran and that second plan is empty.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from reconciler.apply.executor import Executor, StepState
from reconciler.apply.journal import Journal
from reconciler.apply.waits import Waiting
from reconciler.desired.state import DesiredCluster
from reconciler.live.models import LiveCluster, LiveNode
from reconciler.live.reader import NodeTarget, read_clusters
from reconciler.live.replication import failed_commands
from reconciler.mmp.session import MMPSession
from reconciler.plan.models import Action, ClusterPlan, Rehearsal, RehearsedNode, Step
from reconciler.plan.planner import plan_cluster
from reconciler.rehearse.clock import VirtualTime
from reconciler.rehearse.twin import MODELLED, Twin, build_twin, modelled_durations_text
from reconciler.simulator.state import Durations

Prepare = Callable[[Twin], None]

# Said by every rehearsal: the twin is the device model, which fails an operation only for a
# cause it can see.
OPERATIONS_SUCCEED = (
    "every operation the plan sends (remove, certs, initialize, join) succeeds unless what "
    "was read shows why it would not (a node down, a partition, certificates that cannot "
    "carry mutual TLS); a failure the read cannot show (the disk, the database, the network "
    "later) is not predicted"
)


def failed_command_text(name: str, command: str) -> str:
    """The assumption made for a node whose last cluster command had failed."""
    return (
        f"{name}: its last cluster command, '{command}', failed; the read cannot show why, and "
        f"the twin assumes that what the plan runs on {name} succeeds (it may fail the same "
        "way again)"
    )


class _StepTimes:
    """The executor's progress listener: when each step began and ended, in virtual time."""

    def __init__(self, time: VirtualTime) -> None:
        self._time = time
        self.began: dict[int, float] = {}
        self.finished: dict[int, float] = {}

    def started(self, cluster: str, step: Step, total: int) -> None:
        self.began[step.id] = self._time.now()

    def waiting(self, step: Step, wait: Waiting) -> None:
        pass

    def ended(self, step: Step, state: StepState, seconds: float) -> None:
        self.finished[step.id] = self._time.now()


def rehearse_cluster(
    plan: ClusterPlan,
    desired: DesiredCluster,
    live: LiveCluster,
    *,
    durations: Durations = MODELLED,
    prepare: Prepare | None = None,
) -> Rehearsal:
    """Rehearse ``plan`` on a twin of ``live``; ``prepare`` changes the twin first (tests)."""
    if plan.blocked:
        return Rehearsal(
            converges=False,
            steps_run=0,
            problem="the plan is blocked by its errors: there is nothing to rehearse",
        )
    with tempfile.TemporaryDirectory(prefix="reconcile-rehearsal-") as folder:
        root = Path(folder)
        (root / "nodes").mkdir()
        twin = build_twin(desired, live, root / "nodes", durations)
        if prepare is not None:
            prepare(twin)
        return _run(plan, desired, live, twin, root, durations)


def _run(
    plan: ClusterPlan,
    desired: DesiredCluster,
    live: LiveCluster,
    twin: Twin,
    root: Path,
    durations: Durations,
) -> Rehearsal:
    sessions: dict[str, MMPSession] = {
        node.address: twin.session(node.address) for node in desired.nodes
    }
    for step in plan.steps:
        if step.node not in sessions and step.node in twin.model.nodes:
            sessions[step.node] = twin.session(step.node)
    times = _StepTimes(twin.time)
    executor = Executor(
        plan,
        desired,
        sessions,
        journal=Journal(root / "journal" / f"{plan.name}-rehearsal.jsonl"),
        backup_dir=root / "backups",
        progress=times,
        clock=twin.time.clock(),
    )
    outcome = executor.run_steps()
    device_seconds = twin.time.now()
    final_live = _read(twin, desired, live)
    problem = outcome.error
    if problem is None:
        again = plan_cluster(desired, final_live, now=twin.clock.now())
        if again.blocked:
            problem = "planning again from the twin's end state is blocked: " + "; ".join(
                finding.message or finding.what for finding in again.errors
            )
        elif again.steps:
            first = again.steps[0]
            problem = (
                f"planning again from the twin's end state still plans {len(again.steps)} "
                f"step(s), the first {first.action.value} on {first.node_name}: {first.reason}"
            )
    failed = failed_commands(live)
    return Rehearsal(
        converges=problem is None,
        steps_run=sum(1 for step in outcome.steps if step.state != "not run"),
        problem=problem,
        device_seconds=round(device_seconds, 1),
        outage_seconds=round(_outage(plan, times), 1),
        final=[_final(node) for node in final_live.nodes]
        + [_final(bridge, bridge=True) for bridge in final_live.bridges],
        assumptions=[
            *twin.assumptions,
            *(failed_command_text(node.name, command) for node, command in failed),
            OPERATIONS_SUCCEED,
            modelled_durations_text(durations),
        ],
        last_command_failed=[node.name for node, _ in failed],
    )


def _read(twin: Twin, desired: DesiredCluster, live: LiveCluster) -> LiveCluster:
    """The twin as the planner reads nodes and connected call bridges: the real reader,
    through fresh twin sessions."""
    wanted = {node.address: node for node in desired.nodes}
    targets = []
    for node in live.nodes:
        if node.address not in twin.model.nodes:
            continue
        want = wanted.get(node.address)
        targets.append(
            NodeTarget(
                live.name,
                node.name,
                node.address,
                twin.session(node.address),
                tuple(want.bundle.remote_names()) if want is not None else (),
                read_marker=want is not None and want.is_master,
            )
        )
    # Connected call bridges, as ``run.read_live`` reads them; one the twin does not have
    # (it could not be read) stays as the planner read it.
    built = set(twin.bridges)
    bridge_files = tuple(file.remote_name for file in desired.bridge_files()) if built else ()
    targets += [
        NodeTarget(
            live.name,
            bridge.name,
            bridge.address,
            twin.session(bridge.address),
            bridge_files,
            bridge=True,
        )
        for bridge in live.bridges
        if bridge.address in built
    ]
    read = read_clusters(targets, max_parallel=1, now=twin.clock.now)[0]
    reread = {bridge.address: bridge for bridge in read.bridges}
    bridges = tuple(reread.get(bridge.address, bridge) for bridge in live.bridges)
    return read.model_copy(update={"bridges": bridges})


def _final(node: LiveNode, *, bridge: bool = False) -> RehearsedNode:
    """A node as the twin ended it; a connected call bridge has no role, only the database
    it uses."""
    status = node.status if node.readable else None
    return RehearsedNode(
        name=node.name,
        address=node.address,
        status=status.state if status is not None else None,
        role=status.role if status is not None and not bridge else "none",
        in_sync=status.in_sync if status is not None and not bridge else None,
        bridge=bridge,
        uses=status.node_in_use if status is not None and bridge else None,
    )


def _outage(plan: ClusterPlan, times: _StepTimes) -> float:
    """A re-form's cluster-down time: from its first remove until the last node is back."""
    steps = plan.steps
    initialize = next((step for step in steps if step.action is Action.INITIALIZE), None)
    if initialize is None:
        return 0.0
    back = [step for step in steps if step.action in (Action.INITIALIZE, Action.JOIN)][-1]
    removes = [s for s in steps[: steps.index(initialize)] if s.action is Action.REMOVE]
    start = times.began.get(removes[0].id) if removes else 0.0
    end = times.finished.get(back.id)
    if start is None or end is None:
        return 0.0
    return max(end - start, 0.0)
