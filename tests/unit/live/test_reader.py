"""Reading many nodes: at most --parallelism at once, results grouped by cluster in order."""

from __future__ import annotations

import threading

import pytest

from reconciler.live.reader import NodeTarget, read_clusters
from reconciler.mmp.session import CommandResult
from tests.support.fake_session import FakeSession


class CountingSession(FakeSession):
    """Counts the reads in flight at once; each waits (up to 2 s) until ``expected`` are in
    flight, so the count reaches the bound however slowly the threads start."""

    expected = 0
    in_flight = 0
    most = 0
    changed = threading.Condition()

    def run(self, command: str, timeout: float | None = None) -> CommandResult:
        cls = type(self)
        with cls.changed:
            cls.in_flight += 1
            cls.most = max(cls.most, cls.in_flight)
            cls.changed.notify_all()
            # A latch: once the bound was reached, nobody waits any more.
            cls.changed.wait_for(lambda: cls.most >= cls.expected, timeout=2)
        try:
            return super().run(command, timeout)
        finally:
            with cls.changed:
                cls.in_flight -= 1


@pytest.mark.parametrize("parallelism", [1, 4, 32])
def test_at_most_parallelism_nodes_are_read_at_once(parallelism: int) -> None:
    class Session(CountingSession):
        expected = min(parallelism, 12)
        in_flight = 0
        most = 0
        changed = threading.Condition()

    status = "Status : Disabled\nNode in use : None\n\nInterface : a\n\nCertificates\n"
    targets = [
        NodeTarget(f"c{index // 3}", f"n{index}", f"10.0.{index // 3}.{index % 3 + 1}", session)
        for index in range(12)
        for session in [Session(node=f"n{index}", statuses=[status])]
    ]
    clusters = read_clusters(targets, max_parallel=parallelism)
    assert Session.most == min(parallelism, len(targets))  # reached, and never exceeded
    assert [cluster.name for cluster in clusters] == ["c0", "c1", "c2", "c3"]
    assert [node.name for node in clusters[1].nodes] == ["n3", "n4", "n5"]
    assert all(node.status is not None for cluster in clusters for node in cluster.nodes)


def test_connected_call_bridges_are_read_into_their_clusters_bridges() -> None:
    node_status = "Status : Disabled\nNode in use : None\n\nInterface : a\n\nCertificates\n"
    bridge_status = (
        "Status : Connected\nNode in use : 10.0.0.1\n\nInterface : a\n\nCertificates\n"
        "  Client Key : client.key\n"
    )
    targets = [
        NodeTarget(
            "c", "cb1", "10.0.0.21", FakeSession(node="cb1", statuses=[bridge_status]), bridge=True
        ),
        NodeTarget("c", "n1", "10.0.0.1", FakeSession(node="n1", statuses=[node_status])),
    ]
    (cluster,) = read_clusters(targets)
    assert [node.name for node in cluster.nodes] == ["n1"]
    (bridge,) = cluster.bridges
    assert bridge.name == "cb1"
    assert bridge.status is not None
    assert (bridge.status.state, bridge.status.node_in_use) == ("Connected", "10.0.0.1")
    assert "client.key" in bridge.files  # the files its status names are read, like a node's
