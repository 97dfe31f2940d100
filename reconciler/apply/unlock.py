"""``reconcile unlock``: release a stale apply lock on every node of a cluster."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from reconciler.apply.lock import unlock
from reconciler.connect import SessionPool
from reconciler.desired.loader import load_spec
from reconciler.desired.source import open_source
from reconciler.errors import ConfigError


def release_lock(repo: Path, cluster: str, lock_id: str, env: Mapping[str, str]) -> str:
    """Needs only the cluster file and SSH access, so a broken bundle cannot block it."""
    with open_source(repo) as source:
        loaded = load_spec(source, cluster)
        spec = loaded.spec
        if spec is None:
            raise ConfigError(f"cluster {cluster}: the cluster file is not valid; run validate")
        with SessionPool(spec, source, env) as pool:
            return unlock(
                cluster,
                [(node.address, pool.session(node)) for node in spec.nodes],
                lock_id,
                member=pool.member_session,
            )
