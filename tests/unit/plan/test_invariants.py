"""Property: whatever the live state, a plan keeps SPEC §6 invariants 2-7 and 9.

Two generators feed the properties. ``perturbed`` starts from a converged cluster and changes
it the ways real clusters drift (one replica's files, an extra member, a missing node, the
master's files, and combinations), so that every strategy is drawn and the expected one is
known in advance; ``scenarios`` draws arbitrary live states, which mostly block or reform.
``test_the_perturbed_generator_draws_every_strategy`` fails if ``perturbed`` stops reaching
membership, rolling or reform.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, event, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from reconciler.plan.models import DESTRUCTIVE, Action, ClusterPlan, Strategy
from reconciler.plan.planner import plan_cluster
from tests.support.planning import NOW, desired_cluster, desired_data, live_cluster

ROLES = ("server_key", "server_cert", "client_key", "client_cert", "ca_cert")
NAMES = {
    "server_key": "dbserver.key",
    "server_cert": "dbserver.cer",
    "client_key": "dbclient.key",
    "client_cert": "dbclient.cer",
    "ca_cert": "ca.cer",
}
Scenario = tuple[dict[str, Any], dict[str, Any]]
# What a perturbation does to one desired replica.
REPLICA_DRIFT = ("converged", "old files", "missing")


def _desired(count: int, master_index: int) -> dict[str, Any]:
    addresses = [f"10.0.0.{i}" for i in range(1, count + 1)]
    return desired_data(addresses, addresses[master_index], NAMES)


@st.composite
def _old_files(draw: st.DrawFn) -> dict[str, str]:
    """A node's files with at least one role's content other than desired."""
    stale = draw(st.sets(st.sampled_from(ROLES), min_size=1))
    return {NAMES[role]: "old" if role in stale else "want" for role in ROLES}


@st.composite
def perturbed(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], Strategy]:
    """A converged cluster with drift applied, and the strategy that drift calls for."""
    count = draw(st.integers(min_value=1, max_value=5))
    desired = _desired(count, draw(st.integers(min_value=0, max_value=count - 1)))
    master = desired["master"]
    live = _converged(desired)
    replicas = [n["address"] for n in desired["nodes"] if n["address"] != master]
    drift = {address: draw(st.sampled_from(REPLICA_DRIFT)) for address in replicas}
    extras = [f"10.0.0.{50 + i}" for i in range(draw(st.integers(min_value=0, max_value=2)))]
    master_drifts = draw(st.integers(min_value=0, max_value=3)) == 0  # rarer: it hides the rest
    members: dict[str, str] = live["nodes"][master]["members"]
    for address in extras:
        members[address] = "in_sync"
    for address, kind in drift.items():
        if kind == "old files":
            live["nodes"][address]["files"] = draw(_old_files())
        elif kind == "missing":  # a new node: never clustered, nothing uploaded
            del members[address]
            live["nodes"][address] = {"state": "Disabled", "files": {}}
    if master_drifts:
        live["nodes"][master]["files"] = draw(_old_files())
    for address in extras:
        live["nodes"][address] = {
            **live["nodes"][master],
            "name": f"extra{address.rsplit('.', 1)[1]}",
        }
    for node in live["nodes"].values():
        if node["state"] != "Disabled":
            node["members"] = members
    return desired, live, _expected(master_drifts, list(drift.values()), bool(extras))


def _expected(master_drifts: bool, drift: list[str], extras: bool) -> Strategy:
    """Only the master's drift re-forms; a clustered replica's files rotate it; a missing
    node or an extra member changes membership."""
    if master_drifts:
        return Strategy.REFORM
    if "old files" in drift:
        return Strategy.ROLLING
    if extras or "missing" in drift:
        return Strategy.MEMBERSHIP
    return Strategy.NONE


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    count = draw(st.integers(min_value=1, max_value=5))
    addresses = [f"10.0.0.{i}" for i in range(1, count + 1)]
    desired = desired_data(addresses, draw(st.sampled_from(addresses)), NAMES)
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
    _check_authority(plan, desired, live)


def _check_authority(plan: ClusterPlan, desired: dict[str, Any], live: dict[str, Any]) -> None:
    """Invariant 9: another live master among the desired nodes or the members they list."""
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
        and a != desired["master"]
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


def _plan(scenario: Scenario) -> ClusterPlan:
    desired_data, live_data = scenario
    desired = desired_cluster(desired_data)
    plan = plan_cluster(desired, live_cluster(live_data, desired), now=NOW)
    event(f"strategy: {'blocked' if plan.blocked else plan.strategy.value}")
    return plan


def _untouched(desired_data: dict[str, Any], live_data: dict[str, Any]) -> set[str]:
    """Desired nodes that already match: enabled, in sync with the master, desired certs."""
    master = desired_data["master"]
    wanted = {n["address"] for n in desired_data["nodes"]}
    return {
        address
        for address, node in live_data["nodes"].items()
        if address in wanted
        and node["state"] == "Enabled"
        and node.get("members", {}).get(address) == "in_sync"
        and node.get("node_in_use") == master
        and node.get("certs") == NAMES
        and all(node["files"].get(name) == "want" for name in NAMES.values())
    }


def _perturbed_scenario(
    drawn: tuple[dict[str, Any], dict[str, Any], Strategy],
) -> Scenario:
    return drawn[0], drawn[1]


def _drawn_strategy(drawn: tuple[dict[str, Any], dict[str, Any], Strategy]) -> Strategy:
    desired = desired_cluster(drawn[0])
    return plan_cluster(desired, live_cluster(drawn[1], desired), now=NOW).strategy


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(perturbed().map(_perturbed_scenario), scenarios()))
def test_every_plan_keeps_the_invariants(scenario: Scenario) -> None:
    desired_data, live_data = scenario
    plan = _plan(scenario)
    if plan.blocked:
        assert plan.steps == []
        assert any(finding.severity == "error" for finding in plan.findings)
    else:
        _check(plan, desired_data, live_data)
    # Invariant 7: after a successful apply the plan is empty.
    desired = desired_cluster(desired_data)
    after = _converged(desired_data)
    assert plan_cluster(desired, live_cluster(after, desired), now=NOW).steps == []


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(perturbed())
def test_drift_from_a_converged_cluster_gets_the_expected_strategy(
    drawn: tuple[dict[str, Any], dict[str, Any], Strategy],
) -> None:
    """Only the master's own drift re-forms; a replica's rotates; members come and go."""
    desired_data, live_data, expected = drawn
    plan = _plan((desired_data, live_data))
    assert not plan.blocked
    assert plan.strategy is expected
    assert (plan.steps == []) is (expected is Strategy.NONE)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(perturbed())
def test_untouched_nodes_get_no_command_when_the_master_stays(
    drawn: tuple[dict[str, Any], dict[str, Any], Strategy],
) -> None:
    """Invariant 7: around a healthy master, a node that already matches gets no command.

    When the master itself drifted the cluster is re-formed instead, and then every desired
    node is touched: the master initializes and each other node joins it.
    """
    desired_data, live_data, _ = drawn
    plan = _plan((desired_data, live_data))
    master = desired_data["master"]
    touched = {step.node for step in plan.steps}
    if plan.strategy is Strategy.REFORM:
        initialized = [step.node for step in plan.steps if step.action is Action.INITIALIZE]
        joined = {step.node for step in plan.steps if step.action is Action.JOIN}
        assert initialized == [master]
        assert joined == {n["address"] for n in desired_data["nodes"]} - {master}
    else:
        assert plan.strategy in (Strategy.MEMBERSHIP, Strategy.ROLLING, Strategy.NONE)
        assert not touched & _untouched(desired_data, live_data)
        assert master not in touched


def test_the_perturbed_generator_draws_every_strategy() -> None:
    """The properties above reach each planner branch: a generator that stops drawing one
    of the three strategies fails here (hypothesis.find raises NoSuchExample)."""
    bounded = settings(max_examples=500, database=None, derandomize=True, deadline=None)
    for strategy in (Strategy.MEMBERSHIP, Strategy.ROLLING, Strategy.REFORM):

        def plans(
            drawn: tuple[dict[str, Any], dict[str, Any], Strategy], s: Strategy = strategy
        ) -> bool:
            return _drawn_strategy(drawn) is s

        try:
            found = find(perturbed(), plans, settings=bounded)
        except NoSuchExample:
            pytest.fail(f"perturbed() drew no {strategy.value} plan in 500 examples")
        assert _drawn_strategy(found) is strategy


@pytest.mark.reliability(
    section="truthful",
    case="plan --recertify: every plan keeps the invariants; every node re-loads its "
    "certificates in a rotation's order, the healthy master keeping its database",
)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(perturbed().map(_perturbed_scenario), scenarios()))
def test_a_recertify_plan_keeps_the_invariants_and_reloads_every_node(scenario: Scenario) -> None:
    """``--recertify`` (issue 23, item 6) is a re-form whatever the files say: backups first,
    certs only on Disabled nodes, initialize on the master alone, which never joins; where
    the desired master is the healthy live master, its database is the one kept. Planning
    again from the converged state, without the option, is empty (apply's own check)."""
    desired_data, live_data = scenario
    desired = desired_cluster(desired_data)
    plan = plan_cluster(desired, live_cluster(live_data, desired), now=NOW, recertify=True)
    event(f"strategy: {'blocked' if plan.blocked else plan.strategy.value}")
    if plan.blocked:
        assert plan.steps == []
        return
    _check(plan, desired_data, live_data)
    assert plan.strategy is Strategy.REFORM
    master = desired_data["master"]
    certs = {step.node for step in plan.steps if step.action is Action.CERTS}
    assert certs == {n["address"] for n in desired_data["nodes"]}
    assert [step.node for step in plan.steps if step.action is Action.INITIALIZE] == [master]
    assert plan.caveats == []  # it changes something: no "No changes" to qualify
    authority = plan.data_authority
    assert authority is not None
    if _plan((desired_data, live_data)).strategy is not Strategy.REFORM:
        # The master was healthy: without the option nothing would touch it.
        assert authority.source == master
        assert not authority.master_change
    after = _converged(desired_data)
    assert plan_cluster(desired, live_cluster(after, desired), now=NOW).steps == []
