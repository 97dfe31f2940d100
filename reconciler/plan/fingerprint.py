"""A stable digest of the live state a plan was made from (to refuse stale plan files)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from reconciler.live.models import LiveCluster

# Values that change while nothing changes: how long an operation has been running.
_VOLATILE_STATUS_KEYS = ("started_seconds_ago", "status_text")


def state_fingerprint(live: LiveCluster) -> str:
    """sha256 over the parsed state and file identities of every node, sorted by address."""
    nodes: list[dict[str, Any]] = []
    for node in sorted(live.nodes, key=lambda item: item.address):
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
    canonical = json.dumps({"cluster": live.name, "nodes": nodes}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()
