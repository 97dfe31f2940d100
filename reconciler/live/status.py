"""``reconcile status``: load specs, open one session per node, read, close."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path

from reconciler.desired.findings import describe_errors
from reconciler.desired.loader import load_spec, resolve_cluster_names
from reconciler.desired.source import open_source
from reconciler.errors import ConfigError
from reconciler.live.models import LiveCluster
from reconciler.live.reader import NodeTarget, read_clusters
from reconciler.mmp.connect import SessionPool
from reconciler.mmp.transport import TransportTimeouts


def gather_status(
    repo: Path,
    clusters: Sequence[str],
    env: Mapping[str, str],
    timeouts: TransportTimeouts | None = None,
) -> list[LiveCluster]:
    """Live state of the named clusters (all when none), every node read in parallel."""
    with open_source(repo) as source, ExitStack() as stack:
        targets: list[NodeTarget] = []
        for name in resolve_cluster_names(source, clusters):
            loaded = load_spec(source, name)
            if loaded.spec is None or loaded.findings.has_errors:
                problems = describe_errors(loaded.findings.items)
                raise ConfigError(
                    f"cluster {name} cannot be read (run `reconcile validate`):\n  {problems}"
                )
            pool = stack.enter_context(SessionPool(loaded.spec, source, env, timeouts))
            targets += [
                NodeTarget(name, node.name, node.address, pool.session(node))
                for node in loaded.spec.nodes
            ]
        return read_clusters(targets)
