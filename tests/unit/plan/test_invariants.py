"""Property: whatever the live state, a plan keeps SPEC §6 invariants 2-7 and 9."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.plan.models import DESTRUCTIVE, Action, ClusterPlan
from reconciler.plan.planner import plan_cluster
from tests.support.planning import NOW, desired_cluster, live_cluster

ROLES = ("server_key", "server_cert", "client_key", "client_cert", "ca_cert")
NAMES = {
    "server_key": "dbserver.key",
    "server_cert": "dbserver.cer",
    "client_key": "dbclient.key",
    "client_cert": "dbclient.cer",
    "ca_cert": "ca.cer",
}


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    count = draw(st.integers(min_value=1, max_value=5))
    addresses = [f"10.0.0.{i}" for i in range(1, count + 1)]
    master = draw(st.sampled_from(addresses))
    desired = {
        "master": master,
        "nodes": [{"name": f"cms{i}", "address": a} for i, a in enumerate(addresses, 1)],
        "bundle": {role: [NAMES[role], "want"] for role in ROLES},
    }
    extras = [f"10.0.0.{50 + i}" for i in range(draw(st.integers(min_value=0, max_value=2)))]
    everyone = addresses + extras
    nodes: dict[str, Any] = {}
    for address in everyone:
        state = draw(st.sampled_from(["Disabled", "Enabled", "Error"]))
        labels = {role: draw(st.sampled_from(["want", "old"])) for role in ROLES}
        configured = draw(st.sampled_from(["desired", "old", "none"]))
        node: dict[str, Any] = {"state": state, "files": {}}
        if address in extras:
            node["name"] = f"extra{address.rsplit('.', 1)[1]}"
        for role in ROLES:
            if draw(st.booleans()):
                node["files"][NAMES[role]] = labels[role]
        if configured == "desired":
            node["certs"] = dict(NAMES)
        elif configured == "old":
            node["certs"] = {role: f"old-{NAMES[role]}" for role in ROLES}
        if state != "Disabled":
            leader = draw(st.sampled_from(everyone))
            members = dict.fromkeys(draw(st.sets(st.sampled_from(everyone))), "disconnected")
            members[leader] = "master"
            if leader != address:
                members[address] = draw(st.sampled_from(["replica", "in_sync"]))
            node["members"] = members
            node["node_in_use"] = leader
        nodes[address] = node
    return desired, {"nodes": nodes}


def _check(plan: ClusterPlan, desired: dict[str, Any], live: dict[str, Any]) -> None:
    master = desired["master"]
    enabled = {a: n["state"] != "Disabled" for a, n in live["nodes"].items()}
    backed_up: set[str] = set()
    uploaded: dict[str, set[str]] = {a: set() for a in live["nodes"]}
    initialized = False
    for step in plan.steps:
        node = step.node
        if step.action is Action.BACKUP:
            backed_up.add(node)
        if step.action in DESTRUCTIVE:
            assert node in backed_up, f"invariant 2: {step} before a backup of {node}"
        if step.action is Action.UPLOAD:
            assert step.upload is not None
            uploaded[node].add(step.upload.remote_name)
        if step.action is Action.CERTS:
            assert not enabled[node], f"invariant 3: certs on enabled {node}"
            files = live["nodes"][node]["files"]
            for name in step.command.split()[3:]:
                already = files.get(name) == "want"
                assert already or name in uploaded[node], f"invariant 4: {name} on {node}"
        if step.action is Action.REMOVE:
            enabled[node] = False
            assert node != master or not initialized
        if step.action is Action.INITIALIZE:
            assert node == master, "invariant 6"
            initialized = True
            enabled[node] = True
        if step.action is Action.JOIN:
            assert node != master, "invariant 5: the master never joins"
            assert step.command == f"database cluster join {master}"
            assert initialized or enabled[master], "invariant 5: joined before the master"
            enabled[node] = True
    # Invariant 9: another live master among the desired nodes or the members they list.
    desired_addresses = {n["address"] for n in desired["nodes"]}
    related = desired_addresses | {
        member
        for a in desired_addresses
        if live["nodes"][a]["state"] != "Disabled"
        for member in live["nodes"][a].get("members", {})
    }
    other_masters = [
        a
        for a, n in live["nodes"].items()
        if a in related
        and n["state"] != "Disabled"
        and n.get("members", {}).get(a) == "master"
        and a != master
    ]
    if other_masters and plan.steps:
        assert plan.data_authority is not None
        assert plan.data_authority.master_change, "invariant 9"


def _converged(desired: dict[str, Any]) -> dict[str, Any]:
    """The state a successful apply leaves: what plan-after-apply must find nothing in."""
    master = desired["master"]
    members = {n["address"]: "in_sync" for n in desired["nodes"]}
    members[master] = "master"
    return {
        "nodes": {
            n["address"]: {
                "state": "Enabled",
                "members": members,
                "node_in_use": master,
                "certs": dict(NAMES),
                "files": dict.fromkeys(NAMES.values(), "want"),
            }
            for n in desired["nodes"]
        }
    }


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_every_plan_keeps_the_invariants(scenario: tuple[dict[str, Any], dict[str, Any]]) -> None:
    desired_data, live_data = scenario
    desired = desired_cluster(desired_data)
    plan = plan_cluster(desired, live_cluster(live_data, desired), now=NOW)
    if plan.blocked:
        assert plan.steps == []
        return
    _check(plan, desired_data, live_data)
    # Invariant 7: after a successful apply the plan is empty.
    after = _converged(desired_data)
    assert plan_cluster(desired, live_cluster(after, desired), now=NOW).steps == []


@settings(max_examples=100, deadline=None)
@given(scenarios())
def test_untouched_nodes_get_no_command_when_the_master_stays(
    scenario: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    """Invariant 7: around a healthy master, a node that already matches gets no command."""
    desired_data, live_data = scenario
    desired = desired_cluster(desired_data)
    plan = plan_cluster(desired, live_cluster(live_data, desired), now=NOW)
    if plan.blocked or plan.strategy.value == "reform":
        return
    master = desired_data["master"]
    touched = {step.node for step in plan.steps}
    for address, node in live_data["nodes"].items():
        healthy = (
            node["state"] == "Enabled"
            and node.get("members", {}).get(address) == "in_sync"
            and node.get("node_in_use") == master
            and node.get("certs") == NAMES
            and all(node["files"].get(name) == "want" for name in NAMES.values())
        )
        if healthy:
            assert address not in touched, f"{address} already matched"
    assert master not in touched
