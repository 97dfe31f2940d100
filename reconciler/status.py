"""``reconcile status``: read every node of the named clusters, then judge them.

The wiring between the layers: the cluster files (desired) say which nodes to reach and how,
the session pools (connect) reach them, the reader (live) reads them, and ``live.health``
judges what was read. Nothing here decides anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

from reconciler.connect import SessionPool
from reconciler.desired.findings import describe_errors
from reconciler.desired.loader import load_spec, resolve_cluster_names
from reconciler.desired.source import open_source
from reconciler.errors import ConfigError
from reconciler.live.health import ClusterReport
from reconciler.live.reader import NodeTarget, read_clusters
from reconciler.mmp.transport import TransportTimeouts


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
        for name in resolve_cluster_names(source, clusters):
            loaded = load_spec(source, name)
            if loaded.spec is None or loaded.findings.has_errors:
                problems = describe_errors(loaded.findings.items)
                raise ConfigError(
                    f"cluster {name} cannot be read (run `reconcile validate`):\n  {problems}"
                )
            renew_before[name] = loaded.spec.renew_before
            pool = stack.enter_context(SessionPool(loaded.spec, source, env, timeouts))
            targets += [
                NodeTarget(name, node.name, node.address, pool.session(node))
                for node in loaded.spec.nodes
            ]
        return [
            ClusterReport(live=live, renew_before=renew_before[live.name])
            for live in read_clusters(targets)
        ]
