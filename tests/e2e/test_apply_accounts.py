"""Apply accounts for what it did (issue 23): where each backup went, and how long the
cluster was really down, measured; through the real CLI against the simulated lab."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from reconciler.simulator.service import SimulatedCluster
from tests.e2e.conftest import reconcile

pytestmark = pytest.mark.e2e
NODES = ("cms1", "cms2", "cms3")


def steps_of(cluster: dict[str, Any], action: str) -> list[int]:
    return [step["id"] for step in cluster["steps"] if step["action"] == action]


@pytest.mark.reliability(
    section="truthful",
    case="apply's outcome names each backup (on the node, local copy) and the measured outage",
)
def test_a_lab_apply_says_where_the_backups_are_and_how_long_the_cluster_was_down(
    lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    result = reconcile(
        "--apply", "--cluster", "lab", "--auto-approve", "--format", "json", repo=lab_repo
    )
    assert result.returncode == 0, result.stderr
    (cluster,) = json.loads(result.stdout)["clusters"]

    # Every node's backup: its name on the node, and the local copy, byte for byte.
    backups = cluster["backups"]
    assert [backup["node_name"] for backup in backups] == list(NODES)
    assert [backup["step"] for backup in backups] == steps_of(cluster, "backup")
    for backup in backups:
        node = lab_sim.node(backup["node_name"])
        assert backup["node"] == node.address
        assert backup["on_node"] in lab_sim.snapshot()["nodes"][NODES.index(node.name)]["files"]
        local = Path(backup["local_copy"])
        assert local.parent == lab_repo / ".reconcile" / "backups" / "lab" / node.name
        assert local.name == backup["on_node"]
        on_node = node.file_path(backup["on_node"]).read_bytes()
        assert hashlib.sha256(local.read_bytes()).digest() == hashlib.sha256(on_node).digest()

    # The re-form's outage: from the first remove sent to the last join verified In Sync.
    removes, joins = steps_of(cluster, "remove"), steps_of(cluster, "join")
    (initialize,) = steps_of(cluster, "initialize")
    outage = cluster["outage"]
    down, no_master = outage["cluster_down"], outage["no_master"]
    assert (down["from_step"], down["until_step"]) == (removes[0], joins[-1])
    assert (no_master["from_step"], no_master["until_step"]) == (removes[-1], initialize)
    assert outage["nodes_out"] == []
    for span in (down, no_master):
        assert span["still_down"] is False
        assert span["down_before_apply"] is False
        started, ended = (datetime.fromisoformat(span[key]) for key in ("started", "ended"))
        assert abs((ended - started).total_seconds() - span["seconds"]) < 0.5
    # Measured, not modelled: the steps wholly inside the span took less than it, and the
    # steps that begin and end it (checks and polls included) took more.
    seconds = {step["id"]: step["seconds"] for step in cluster["steps"]}
    inside = sum(seconds[i] for i in range(down["from_step"] + 1, down["until_step"]))
    around = sum(seconds[i] for i in range(down["from_step"], down["until_step"] + 1))
    assert 0 < inside < down["seconds"] <= around + 0.5
    assert no_master["seconds"] < down["seconds"]


def test_a_failed_apply_says_the_cluster_is_still_down_in_one_line_errors(
    lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    """The last join fails: the text outcome says the cluster is still down, names the
    backups, and stderr's error line carries the reason."""
    lab_sim.fail_operation("cms3", "join")
    result = reconcile("--apply", "--cluster", "lab", "--auto-approve", repo=lab_repo)
    assert result.returncode == 1
    out = result.stdout.splitlines()
    at = out.index("Apply outcome:")
    failed = out[at + 1].split()
    assert failed[:3] == ["lab", "failed", "at"]
    last = failed[-1]
    outage = out[at + 2]
    assert outage.startswith("Outage of lab (measured): cluster still down when apply stopped, "), (
        outage
    )
    assert f"(step {last} would have brought the last node back)" in outage
    assert "; no master for " in outage  # cms1 initialized: a master serves again
    assert out[at + 3] == "Backups of lab: the file on each node, and its local copy"
    for name, line in zip(NODES, out[at + 4 : at + 7], strict=True):
        node = lab_sim.node(name)
        on_node, local = line.split(f"  {name} ({node.address}): ", 1)[1].split("  ")
        assert node.file_path(on_node).read_bytes() == Path(local).read_bytes()
        assert Path(local).parent == lab_repo / ".reconcile" / "backups" / "lab" / name
    error = next(line for line in result.stderr.splitlines() if line.startswith("error: "))
    assert error.startswith(f"error: cluster lab: step {last} (join) on cms3 ("), error
    assert "failed: " in error
