"""A stable digest of the live state a plan was made from (to refuse stale plan files)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from reconciler.live.models import LiveCluster, LiveNode

# Values that change while nothing changes: how long an operation has been running.
_VOLATILE_STATUS_KEYS = ("started_seconds_ago", "status_text")


def state_fingerprint(live: LiveCluster) -> str:
    """sha256 over the parsed state and file identities of every node, sorted by address,
    and of every connected call bridge (a plan connects them too)."""
    nodes = _identities(live.nodes)
    document: dict[str, Any] = {"cluster": live.name, "nodes": nodes}
    if live.bridges:  # absent without bridges: a plan file saved before them still matches
        document["bridges"] = _identities(live.bridges)
    canonical = json.dumps(document, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _identities(live_nodes: Iterable[LiveNode]) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    for node in sorted(live_nodes, key=lambda item: item.address):
        status = None
        if node.status is not None:
            status = node.status.model_dump(mode="json", exclude=set(_VOLATILE_STATUS_KEYS))
        nodes.append(
            {
                "address": node.address,
                "reachable": node.reachable,
                "error": node.error,
                "status": status,
                "files": {
                    name: [file.present, file.sha256, file.serial]
                    for name, file in sorted(node.files.items())
                },
            }
        )
    return nodes
