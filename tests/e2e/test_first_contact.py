"""Issue 24, first contact with a real CMS: words the documents never showed do not stop a
rotation once a node has left the cluster; the post-condition read back decides, and the
journal records every line cms-reconciler did not know.

The unknown words are injected with ``say-*`` faults (``reconcile sim --fault``), never the
simulator's defaults: the reference does not show them. Each case replays by hand, e.g.
``reconcile sim --cluster lab --fault 'cms2:say-certs:SUCCESS: Key and certificate pair
match'`` and ``reconcile --apply --cluster lab`` in another terminal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.simulator.service import SimulatedCluster
from reconciler.simulator.state import Durations
from tests.e2e.conftest import lab_cluster, reconcile, wait_idle
from tests.e2e.test_fault_matrix import with_timeouts

pytestmark = pytest.mark.e2e
QUICK = Durations(remove=0.05, initialize=0.05, join=0.05, upgrade_schema=0.05)
STILL_WAITING = "which cms-reconciler does not know; still waiting"

# name: (faults, the node whose line is recorded, the command it answered, words in the line)
CASES: dict[str, tuple[tuple[str, ...], str, str, str]] = {
    "an extra SUCCESS: line after certs": (
        ("cms2:say-certs:SUCCESS: Key and certificate pair match",),
        "cms2",
        "database cluster certs",
        "SUCCESS: Key and certificate pair match",
    ),
    "a two-word transitional status during join": (
        (
            "cms3:say-status:join=Joining cluster (Started {seconds} seconds ago)",
            "cms3:slow:join=1",
        ),
        "cms3",
        "database cluster status",
        "Joining cluster (Started",
    ),
    "an unknown member state during initialize": (
        ("cms1:say-member:initialize=Initialising", "cms1:slow:initialize=1"),
        "cms1",
        "database cluster status",
        ": Initialising",
    ),
}


@pytest.fixture
def sim(lab_repo: Path, tmp_path: Path) -> Iterator[SimulatedCluster]:
    with lab_cluster(lab_repo, tmp_path / "sim", durations=QUICK) as cluster:
        yield cluster


def journal_events(repo: Path) -> list[dict[str, Any]]:
    journal = sorted((repo / ".reconcile" / "journal").glob("lab-*.jsonl"))[0]
    return [json.loads(line) for line in journal.read_text().splitlines()]


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.reliability(section="fault-matrix", case=name))
        for name in CASES
    ],
)
def test_unknown_words_after_the_node_left_do_not_stop_the_rotation(
    sim: SimulatedCluster, lab_repo: Path, name: str
) -> None:
    faults, node, command, words = CASES[name]
    master_data = sim.write_data("cms1")
    sim.inject(*faults)

    result = reconcile("--apply", "--cluster", "lab", "--auto-approve", repo=lab_repo)

    assert result.returncode == 0, result.stderr
    snapshot = sim.snapshot()
    roles = {entry["name"]: entry["role"] for entry in snapshot["nodes"]}
    assert roles == {"cms1": "master", "cms2": "replica", "cms3": "replica"}
    for entry in snapshot["nodes"]:
        assert entry["content_id"] == master_data, entry["name"]
        assert entry["certs"]["ca_cert"]["file"] == "CAVD.cer"
        assert entry["in_sync"] in (None, True), entry["name"]
    address = sim.node(node).address
    unknown = [event for event in journal_events(lab_repo) if event["event"] == "device.unknown"]
    assert unknown, "the journal records no unknown line"
    assert {event["node"] for event in unknown} == {address}
    assert all(event["command"].startswith(command) for event in unknown)
    assert any(words in event["line"] for event in unknown), unknown
    assert len(unknown) == len({event["line"] for event in unknown})  # each recorded once
    if command == "database cluster status":
        assert STILL_WAITING in result.stderr
        assert result.stderr.count(STILL_WAITING) == 1, result.stderr


@pytest.mark.reliability(section="fault-matrix", case="unknown words until the timeout")
def test_unknown_words_that_never_end_time_out_quoting_them(
    sim: SimulatedCluster, lab_repo: Path
) -> None:
    with_timeouts(lab_repo, "timeouts: {remove: 300s, initialize: 300s, join: 1s}")
    sim.inject(
        "cms2:say-status:join=Joining cluster (Started {seconds} seconds ago)", "cms2:hang:join"
    )
    apply = ("--apply", "--cluster", "lab", "--auto-approve", "--skip-rehearsal")

    result = reconcile(*apply, repo=lab_repo)

    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert re.search(
        r"step \d+ \(join\) on cms2 .* did not finish as expected \(in_sync\) within 1 s; "
        r"last status: not understood; the node says 'Status +: Joining cluster \(Started \d+ "
        r"seconds ago\)', which cms-reconciler does not know",
        result.stderr,
        re.DOTALL,
    ), result.stderr
    unknown = [event for event in journal_events(lab_repo) if event["event"] == "device.unknown"]
    assert [event["node"] for event in unknown] == [sim.node("cms2").address]
    sim.clear_faults()
    wait_idle(sim)
    assert reconcile(*apply, repo=lab_repo).returncode == 0
