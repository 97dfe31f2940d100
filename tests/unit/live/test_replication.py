"""`reconcile status` sees broken replication, with the planner's own judgement of it.

Before issue 23, status judged only certificates: a replica not in sync, a node following
another master or none, a node whose last cluster command failed were all "healthy", exit 0.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from rich.console import Console

from reconciler.live.health import ClusterReport, Problem, status_exit_code
from reconciler.live.models import LiveNode
from reconciler.live.render import print_status, status_json
from reconciler.live.replication import NodeJudgement, membership_problem
from reconciler.mmp.parsers.status import parse_cluster_status
from reconciler.plan.planner import plan_cluster
from tests.support.planning import (
    NOW,
    desired_cluster,
    desired_data,
    live_cluster,
    status_text,
)
from tests.unit.live.clusters import Node, ipv4_lab, report

CMS1, CMS2, CMS3 = "127.0.85.73", "127.0.85.74", "127.0.85.75"
JOIN_FAILED = f"'database cluster join {CMS1}' (Failed)"


def _valid_certificates() -> list[Node]:
    """The lab with certificates a year from expiry: nothing to renew."""
    days = {"server_cert": 365.0, "client_cert": 365.0}
    nodes = ipv4_lab(cms1=days, cms2=days, cms3=days)
    for node in nodes:
        node.expired = ()
    return nodes


def _text(reports: list[ClusterReport]) -> str:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    print_status(reports, console)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(output, str)
    return output


def _lab(**changes: Any) -> ClusterReport:
    """The healthy lab with one node changed (``cms2={"shows_itself": "replica"}``)."""
    nodes = _valid_certificates()
    for node in nodes:
        for field, value in changes.get(node.name, {}).items():
            setattr(node, field, value)
    return report(nodes, master=changes.get("master"))


BROKEN = {
    "not in sync": (
        _lab(cms2={"shows_itself": "replica"}),
        [("cms2", "not_in_sync", f"a replica of cms1 ({CMS1}), NOT in sync")],
        "lab: cms2 not in sync",
    ),
    "right after a failed join": (
        _lab(cms2={"shows_itself": "replica", "last": JOIN_FAILED}),
        [
            ("cms2", "not_in_sync", f"a replica of cms1 ({CMS1}), NOT in sync"),
            (
                "cms2",
                "command_failed",
                f"its last cluster command failed: 'database cluster join {CMS1}'",
            ),
        ],
        "lab: cms2 not in sync, last cluster command failed on cms2",
    ),
    "a partition": (
        _lab(cms3={"shows_itself": "replica", "sees_master": False}),
        [
            (
                "cms3",
                "no_master",
                "Enabled, but sees no master (a partition, or the master is down); it should "
                f"follow cms1 ({CMS1})",
            )
        ],
        "lab: cms3 following no master",
    ),
    "another master than the cluster file's": (
        _lab(master=CMS2),
        [
            (
                "cms1",
                "other_master",
                f"a master itself; the cluster file's master is cms2 ({CMS2})",
            ),
            ("cms2", "other_master", f"the cluster file's master, but a replica of cms1 ({CMS1})"),
            (
                "cms3",
                "other_master",
                f"a replica of cms1 ({CMS1}), not of the cluster file's master cms2 ({CMS2})",
            ),
        ],
        "lab: cms1, cms2 and cms3 following another master than the cluster file's",
    ),
    "a failed command on a node that looks settled": (
        _lab(cms3={"last": "'database cluster upgrade_schema' (Failed)"}),
        [
            (
                "cms3",
                "command_failed",
                "its last cluster command failed: 'database cluster upgrade_schema'",
            )
        ],
        "lab: last cluster command failed on cms3",
    ),
    "a node left Disabled": (
        _lab(cms3={"state": "Disabled", "last": JOIN_FAILED}),
        [
            ("cms3", "not_clustered", "Disabled: not a member of any cluster"),
            (
                "cms3",
                "command_failed",
                f"its last cluster command failed: 'database cluster join {CMS1}'",
            ),
        ],
        "lab: cms3 not clustered (Disabled), last cluster command failed on cms3",
    ),
}


@pytest.mark.reliability(
    section="truthful",
    case="status exits 2 and names the node when replication is broken or a command failed",
)
@pytest.mark.parametrize("case", list(BROKEN))
def test_status_needs_attention_when_replication_is_broken(case: str) -> None:
    cluster, expected, verdict = BROKEN[case]
    assert not cluster.renewals()  # the certificates alone would say healthy
    assert status_exit_code([cluster]) == 2
    addresses = {node.name: node.address for node in cluster.live.nodes}
    assert cluster.problems() == [
        Problem(node=name, address=addresses[name], kind=kind, detail=detail)
        for name, kind, detail in expected
    ]
    # The summary line says what and where.
    assert _text([cluster]).splitlines()[-1] == verdict
    # The JSON carries the same list, per cluster.
    data = json.loads(json.dumps(status_json([cluster])))["clusters"][0]
    assert data["problems"] == [
        {"node": name, "address": addresses[name], "kind": kind, "detail": detail}
        for name, kind, detail in expected
    ]
    assert data["master"] == cluster.master


@pytest.mark.reliability(
    section="truthful", case="a node not read still wins over broken replication (exit 1)"
)
def test_a_node_not_read_wins_over_broken_replication() -> None:
    nodes = _valid_certificates()
    nodes[1].shows_itself = "replica"
    nodes[2].unreachable = "connection refused"
    cluster = report(nodes)
    assert status_exit_code([cluster]) == 1
    assert [(problem.node, problem.kind) for problem in cluster.problems()] == [
        ("cms2", "not_in_sync"),
        ("cms3", "not_read"),
    ]
    assert _text([cluster]).splitlines()[-1] == "lab: 1 node not read, cms2 not in sync"


def test_a_healthy_cluster_has_no_problems() -> None:
    cluster = report(_valid_certificates())
    assert cluster.problems() == []
    assert status_exit_code([cluster]) == 0
    assert status_json([cluster])["clusters"][0]["problems"] == []


def test_certificates_to_renew_are_problems_too() -> None:
    """``problems`` holds every reason for the exit code, certificates included."""
    cluster = report(ipv4_lab())  # the seed: server and client certificates expired
    kinds = [(problem.node, problem.kind) for problem in cluster.problems()]
    assert kinds == [(f"cms{i}", "certificate_expired") for i in (1, 2, 3) for _ in range(2)]
    first = cluster.problems()[0]
    assert first.detail == "server_cert dbclusterserver.cer expired on 2017-03-09"


def test_the_node_block_says_the_problem() -> None:
    text = _text([_lab(cms2={"shows_itself": "replica", "last": JOIN_FAILED})])
    assert f"  last command  database cluster join {CMS1} (Failed)" in text
    assert f"  problem       a replica of cms1 ({CMS1}), NOT in sync" in text


def _status(members: dict[str, str], state: str = "Enabled", **fields: str) -> Any:
    data = {"state": state, "members": members, "node_in_use": fields.get("in_use", CMS1)}
    return parse_cluster_status(status_text(data, fields.get("me", CMS2), ("Master", "Slave")))


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (_status({CMS1: "master", CMS2: "in_sync"}), None),
        (_status({CMS1: "master", CMS2: "replica"}), "not_in_sync"),
        (_status({CMS1: "master", CMS2: "disconnected"}), "not_in_sync"),
        (_status({CMS1: "disconnected", CMS2: "replica"}), "no_master"),
        (_status({CMS3: "master", CMS2: "in_sync"}), "other_master"),
        (_status({CMS2: "master"}), "other_master"),
        (_status({}, state="Disabled"), "not_clustered"),
        (_status({CMS1: "master", CMS2: "replica"}, state="Error"), "error"),
        (
            _status({CMS1: "master", CMS2: "in_sync"}, state="Joining (Started 3 seconds ago)"),
            "busy",
        ),
        (_status({CMS1: "master", CMS2: "in_sync"}, state="Frozen"), "unknown_state"),
        # The cluster file's master:
        (_status({CMS1: "master"}, me=CMS1), None),
        (_status({CMS1: "in_sync", CMS2: "master"}, me=CMS1), "other_master"),
        (_status({CMS1: "replica", CMS2: "disconnected"}, me=CMS1), "no_master"),
    ],
)
def test_membership_judgement(status: Any, expected: str | None) -> None:
    address = status.me.address if status.me is not None else CMS2
    judged: NodeJudgement | None = membership_problem(status, address, CMS1)
    assert (judged.kind if judged is not None else None) == expected


# --- one judgement: plan and status agree --------------------------------------------------
ROLES = ("server_key", "server_cert", "client_key", "client_cert", "ca_cert")
FILES = {role: f"{role}.pem" for role in ROLES}


@st.composite
def replicating(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """Desired certificates everywhere; membership, sync and last command drawn."""
    count = draw(st.integers(min_value=1, max_value=4))
    addresses = [f"10.0.0.{i}" for i in range(1, count + 1)]
    master = draw(st.sampled_from(addresses))
    desired = desired_data(addresses, master, FILES)
    nodes: dict[str, Any] = {}
    for address in addresses:
        state = draw(st.sampled_from(["Enabled", "Enabled", "Enabled", "Disabled", "Error"]))
        node: dict[str, Any] = {
            "state": state,
            "certs": dict(FILES),
            "files": dict.fromkeys(FILES.values(), "want"),
            "last": draw(
                st.sampled_from(
                    [
                        None,
                        f"'database cluster join {master}' (Success)",
                        f"'database cluster join {master}' (Failed)",
                    ]
                )
            ),
        }
        if state != "Disabled":
            leader = draw(st.sampled_from([master, master, *addresses, None]))
            members = {
                a: draw(st.sampled_from(["in_sync", "replica", "disconnected"])) for a in addresses
            }
            members = {
                a: role for a, role in members.items() if draw(st.booleans()) or a == address
            }
            if leader is not None:
                members[leader] = "master"
            node["members"] = members
            node["node_in_use"] = leader or "None"
        nodes[address] = node
    return desired, {"nodes": nodes}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replicating())
def test_status_flags_exactly_the_nodes_plan_would_fix(
    drawn: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    """Whatever the membership: a node plan gives a membership change, status names, and no
    other (one judgement); a failed last command needs attention on its own."""
    desired_data, live_data = drawn
    desired = desired_cluster(desired_data)
    live = live_cluster(live_data, desired)
    plan = plan_cluster(desired, live, now=NOW)
    if plan.blocked:  # the master in Error: plan refuses to plan, status still says it
        event("plan blocked")
        return
    cluster = ClusterReport(
        live=live, renew_before=timedelta(days=30), master=desired_data["master"]
    )
    planned = {
        finding.node
        for finding in plan.findings
        if finding.what == "membership" and finding.severity == "change"
    }
    problems = cluster.problems()
    flagged = {problem.address for problem in problems if problem.kind != "command_failed"}
    assert flagged == planned
    for problem in problems:
        event(f"status: {problem.kind}")
    event("plan and status: membership to fix" if planned else "plan and status: none to fix")
    failed = {
        node.address
        for node in live.nodes
        if node.status is not None
        and node.status.last_command is not None
        and node.status.last_command.result == "Failed"
    }
    assert failed == {p.address for p in problems if p.kind == "command_failed"}
    if failed and not planned:
        event("a failed command alone needs attention")
    assert status_exit_code([cluster]) == (2 if problems else 0)


def test_a_node_without_status_has_no_replication_problem() -> None:
    cluster = report(_valid_certificates())
    down = LiveNode(name="cms9", address="10.0.0.9", reachable=False, error="refused")
    assert cluster.replication(down) == []
