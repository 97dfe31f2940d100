"""`reconcile status` of connected call bridges (issue 24, item 7): which database each uses,
judged against the cluster file's master, read off the planner's bridge scenarios."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reconciler.live.health import ClusterReport, status_exit_code
from reconciler.live.render import status_json, status_lines
from tests.support.planning import desired_cluster, live_cluster
from tests.unit.plan.test_render_plans import scenario


def report_of(name: str) -> ClusterReport:
    data = scenario(name)
    desired = desired_cluster(data["desired"])
    live = live_cluster(data["live"], desired)
    return ClusterReport(live=live, renew_before=timedelta(days=30), master=desired.master.address)


def bridge_kinds(report: ClusterReport) -> list[tuple[str, str]]:
    bridges = {bridge.name for bridge in report.live.bridges}
    return [(p.node, p.kind) for p in report.problems() if p.node in bridges]


@pytest.mark.parametrize(
    ("name", "kinds", "verdict"),
    [
        ("53-connected-converged", [], "every call bridge using cms1"),
        (
            "57-connected-bridge-uses-replica",
            [("cb1", "bridge_other_master")],
            "call bridge cb1 using another node than the master",
        ),
        (
            "56-connected-bridge-not-connected",
            [("cb2", "bridge_no_database")],
            "call bridge cb2 using no database",
        ),
        (
            "55-connected-unreadable-bridge",
            [("cb1", "not_read"), ("cb2", "bridge_not_connected")],
            "call bridge cb2 not connected",
        ),
    ],
)
def test_a_bridge_is_judged_by_the_database_it_uses(
    name: str, kinds: list[tuple[str, str]], verdict: str
) -> None:
    report = report_of(name)
    assert bridge_kinds(report) == kinds
    text = " ".join(" ".join(line.plain.split()) for line in status_lines([report]))
    assert verdict in text
    assert [bridge["name"] for bridge in status_json([report])["clusters"][0]["bridges"]] == [
        bridge.name for bridge in report.live.bridges
    ]


def test_a_bridge_not_read_makes_status_exit_1_and_one_not_using_the_master_2() -> None:
    assert status_exit_code([report_of("55-connected-unreadable-bridge")]) == 1
    assert status_exit_code([report_of("57-connected-bridge-uses-replica")]) == 2
    assert status_exit_code([report_of("53-connected-converged")]) == 0
