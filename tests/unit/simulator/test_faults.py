"""Fault specs: parsed once for scenario files, `reconcile sim --fault` and tests; fired on time."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from reconciler.errors import ConfigError
from reconciler.simulator.faults import (
    Trigger,
    parse_fault,
    parse_faults,
    scenario_faults,
)
from reconciler.simulator.service import SimulatedCluster
from reconciler.simulator.state import Durations
from tests.support.lab import ScriptedIO, make_lab

NODES = ("cms1", "cms2", "cms3")


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("cms2:fail:join", {"node": "cms2", "kind": "fail", "operation": "join"}),
        ("cms3:hang:remove", {"kind": "hang", "operation": "remove"}),
        ("cms1:slow:initialize=2.5", {"kind": "slow", "operation": "initialize", "seconds": 2.5}),
        ("cms2:delay:0.2", {"kind": "delay", "seconds": 0.2}),
        ("cms3:partition:cms1", {"kind": "partition", "other": "cms1"}),
        ("cms2:refuse-get:*.bak", {"kind": "refuse-get", "pattern": "*.bak"}),
        ("cms2:corrupt-put", {"kind": "corrupt-put", "pattern": "*"}),
        ("cms3:down", {"kind": "down", "seconds": None, "when": None}),
        ("*:restart:0.5@cms1:database cluster initialize", {"node": "*", "seconds": 0.5}),
        (
            "cms3:down@database cluster remove",
            {"when": Trigger("cms3", prefix="database cluster remove")},
        ),
        (
            "cms1:down:3@cms2:database cluster join",
            {"seconds": 3.0, "when": Trigger("cms2", prefix="database cluster join")},
        ),
        ("cms2:disconnect@4", {"stage": "after", "when": Trigger("cms2", count=4)}),
        (
            "cms2:disconnect:before@database cluster join ::1",
            {"stage": "before", "when": Trigger("cms2", prefix="database cluster join ::1")},
        ),
    ],
)
def test_a_spec_says_what_happens_to_which_node_and_when(
    text: str, fields: dict[str, object]
) -> None:
    spec = parse_fault(text, NODES)
    assert spec.text == text
    for name, value in fields.items():
        assert getattr(spec, name) == value, name


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cms2", r"write NODE:KIND\[:ARG\]\[@WHEN\]"),
        ("cms9:down", r"no node named 'cms9'; nodes: cms1, cms2, cms3"),
        ("cms2:explode", r"unknown fault kind 'explode'; kinds: down, restart, disconnect"),
        ("cms2:fail:reboot", r"fail takes an operation: remove, initialize, join"),
        ("cms2:slow:join", r"slow:OPERATION= takes seconds"),
        ("cms2:delay:soon", r"delay takes seconds, e.g. delay:1.5 \(got 'soon'\)"),
        ("cms2:delay:-1", r"finite number of seconds >= 0"),
        ("cms2:delay:inf", r"finite number of seconds >= 0"),
        ("cms2:partition:cms2", r"cannot be partitioned from itself"),
        ("cms2:partition", r"partition takes the other node"),
        ("cms2:disconnect", r"disconnect needs @WHEN"),
        ("cms2:disconnect:sideways@1", r"'before' or 'after'"),
        ("cms2:disconnect@cms1:database cluster join", r"fires on the node's own commands"),
        ("cms2:down@", r"nothing after '@'"),
        ("cms2:down@0", r"@N counts from 1"),
        ("*:down@3", r"name the node, not '\*'"),
        ("*:down@database cluster join", r"with '\*', write @OTHER:COMMAND"),
    ],
)
def test_a_bad_spec_is_refused_with_what_to_write(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_fault(text, NODES)


def test_command_line_errors_name_the_option_and_the_spec() -> None:
    with pytest.raises(ConfigError, match=r"^--fault 'cms2:fial:join': unknown fault kind 'fial'"):
        parse_faults(["cms3:down", "cms2:fial:join"], NODES, source="--fault")


def test_scenario_faults_map_node_names_to_specs() -> None:
    specs = scenario_faults(
        {"cms2": ["fail:join", "disconnect@database cluster remove"], "cms3": "delay:0.1"},
        NODES,
        path="sim/lab/scenario.yaml",
    )
    assert [(spec.node, spec.kind) for spec in specs] == [
        ("cms2", "fail"),
        ("cms2", "disconnect"),
        ("cms3", "delay"),
    ]
    assert specs[1].when == Trigger("cms2", prefix="database cluster remove")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["cms2:fail:join"], r"^sim/lab/scenario.yaml: faults: a mapping of node name"),
        ({"cms9": "down"}, r"^sim/lab/scenario.yaml: faults: no node named 'cms9'"),
        ({"cms2": {"fail": "join"}}, r"^sim/lab/scenario.yaml: faults.cms2: a fault spec or a"),
        ({"cms2": ["down", 3]}, r"^sim/lab/scenario.yaml: faults.cms2\[1\]: a fault spec is text"),
        (
            {"cms2": ["down", "fail:jion"]},
            r"^sim/lab/scenario.yaml: faults.cms2\[1\] 'fail:jion': fail takes an operation",
        ),
    ],
)
def test_bad_scenario_faults_name_the_file_and_key(value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        scenario_faults(value, NODES, path="sim/lab/scenario.yaml")


# --- firing ----------------------------------------------------------------------------------
@pytest.fixture
def lab(tmp_path: Path) -> SimulatedCluster:
    """The lab's model, not served: faults act on it as commands would arrive."""
    return make_lab(tmp_path, durations=Durations(0.05, 0.05, 0.05, 0.05))


def arrive(lab: SimulatedCluster, node: str, command: str) -> bool:
    return lab.fault_engine.on_command(lab.node(node), command)


def test_a_triggered_fault_fires_once_as_its_command_arrives(lab: SimulatedCluster) -> None:
    lab.inject("cms1:down@cms2:database cluster join", "cms3:fail:remove@2")
    assert not arrive(lab, "cms2", "database cluster status")
    assert not lab.node("cms1").faults.down
    assert not arrive(lab, "cms2", "database cluster join 127.0.85.73")  # cms1 goes, not cms2
    assert lab.node("cms1").faults.down
    assert [entry.kind for entry in lab.node("cms2").log] == ["fault"]
    lab.set_down("cms1", down=False)
    assert not arrive(lab, "cms2", "database cluster join 127.0.85.73")
    assert not lab.node("cms1").faults.down  # once only
    assert arrive(lab, "cms3", "database cluster status") is False
    assert "remove" not in lab.node("cms3").faults.fail_operations
    arrive(lab, "cms3", "database cluster status")  # its second command
    assert lab.node("cms3").faults.fail_operations == {"remove"}


def test_a_node_that_goes_down_drops_the_connection_its_command_came_on(
    lab: SimulatedCluster,
) -> None:
    lab.inject("cms3:down@database cluster remove")
    assert arrive(lab, "cms3", "database cluster remove")
    assert lab.snapshot()["nodes"][2]["down"] is True


def test_a_hung_operation_never_finishes_until_the_fault_is_lifted(
    lab: SimulatedCluster,
) -> None:
    lab.inject("cms2:hang:remove")
    node = lab.node("cms2")
    lab.interpreter.run(node, "database cluster remove", ScriptedIO(["Y"]), "admin")
    lab.model.clock.advance(3600)
    status = ScriptedIO()
    lab.interpreter.run(node, "database cluster status", status, "admin")
    assert "Disabling (Started 3600 seconds ago)" in status.text
    lab.clear_faults()
    status = ScriptedIO()
    lab.interpreter.run(node, "database cluster status", status, "admin")
    assert "Last command          : 'database cluster remove' (Success)" in status.text


def test_a_slow_operation_takes_its_own_time_on_that_node_only(lab: SimulatedCluster) -> None:
    lab.inject("cms2:slow:remove=10")
    for name in ("cms2", "cms3"):
        lab.interpreter.run(lab.node(name), "database cluster remove", ScriptedIO(["Y"]), "admin")
    lab.model.clock.advance(1)
    snapshot = {node["name"]: node["status"] for node in lab.snapshot()["nodes"]}
    assert snapshot["cms2"] == "Disabling"
    assert snapshot["cms3"] == "Disabled"
    lab.model.clock.advance(10)
    assert lab.snapshot()["nodes"][1]["status"] == "Disabled"


def test_clearing_faults_lifts_every_one(lab: SimulatedCluster) -> None:
    lab.inject(
        "cms1:down",
        "cms2:delay:1",
        "cms3:partition:cms1",
        "cms2:refuse-get:*",
        "cms3:down@5",
    )
    lab.clear_faults()
    snapshot = lab.snapshot()
    assert not any(node["down"] for node in snapshot["nodes"])
    assert snapshot["partitions"] == []
    assert lab.node("cms2").faults.delay == 0
    for _ in range(5):
        arrive(lab, "cms3", "database cluster status")
    assert not lab.node("cms3").faults.down  # the armed trigger went too


def test_a_node_down_from_the_start_is_never_served(lab: SimulatedCluster) -> None:
    lab.inject("cms3:down")
    with lab:
        host, port = lab.server("cms3").address
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((host, port), timeout=5).close()
        socket.create_connection(lab.server("cms2").address, timeout=5).close()
        lab.clear_faults()
        socket.create_connection((host, port), timeout=5).close()


def test_a_restart_cuts_the_ssh_service_and_brings_it_back(lab: SimulatedCluster) -> None:
    lab.inject("cms2:restart:0.2@database cluster remove")
    with lab:
        address = lab.server("cms2").address
        assert not arrive(lab, "cms1", "database cluster remove")  # another node's command
        assert lab.server("cms2").listening
        assert arrive(lab, "cms2", "database cluster remove")  # its connection drops
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(address, timeout=5).close()
        assert not lab.node("cms2").faults.down  # only the SSH service: peers still see it
        deadline = time.monotonic() + 10
        while not lab.server("cms2").listening and time.monotonic() < deadline:
            time.sleep(0.01)
        socket.create_connection(address, timeout=5).close()
