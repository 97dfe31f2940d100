"""``reconcile status``: read every node (and connected call bridge) of the named clusters,
then judge them.

The wiring between the layers: the cluster files (desired) say which nodes to reach and how,
the session pools (connect) reach them, the reader (live) reads them, and ``live.health``
judges what was read (certificates against ``renew_before``, replication against the
cluster file's master). Nothing here decides anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path

from reconciler.connect import SessionPool
from reconciler.desired.loader import readable_spec, resolve_cluster_names
from reconciler.desired.models import MaintenanceSpec
from reconciler.desired.source import open_source
from reconciler.live.health import ClusterReport
from reconciler.live.reader import NodeTarget, read_clusters
from reconciler.mmp.transport import TransportTimeouts
from reconciler.plan.window import window_text


def gather_status(
    repo: Path,
    clusters: Sequence[str],
    env: Mapping[str, str],
    timeouts: TransportTimeouts | None = None,
) -> list[ClusterReport]:
    """Live state of the named clusters (all when none), every node read in parallel."""
    with open_source(repo) as source, ExitStack() as stack:
        targets: list[NodeTarget] = []
        renew_before: dict[str, timedelta] = {}
        master: dict[str, str] = {}
        windows: dict[str, MaintenanceSpec | None] = {}
        for name in resolve_cluster_names(source, clusters):
            spec = readable_spec(source, name)
            renew_before[name] = spec.renew_before
            windows[name] = spec.maintenance
            listed = spec.master_node()
            master[name] = listed.address if listed is not None else spec.master.strip()
            pool = stack.enter_context(SessionPool(spec, source, env, timeouts))
            targets += [
                NodeTarget(name, node.name, node.address, pool.session(node)) for node in spec.nodes
            ]
            targets += [
                NodeTarget(name, bridge.name, bridge.address, pool.session(bridge), bridge=True)
                for bridge in spec.connected
            ]
        return [
            ClusterReport(
                live=live,
                renew_before=renew_before[live.name],
                master=master[live.name],
                window=_window(windows[live.name], live.read_at),
            )
            for live in read_clusters(targets)
        ]


def _window(spec: MaintenanceSpec | None, now: datetime) -> str | None:
    return window_text(spec, now) if spec is not None else None
