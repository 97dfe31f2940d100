"""`reconcile --apply`: the real CLI over real SSH against the simulated lab."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.simulator.service import SimulatedCluster
from tests.e2e.conftest import lab_cluster, reconcile
from tests.support.lab import LabAddresses

pytestmark = pytest.mark.e2e
# The simulator finds nodes by name too; addresses differ per test (see `lab_addresses`).
MASTER, SLAVE1, SLAVE2 = "cms1", "cms2", "cms3"
NODES = (MASTER, SLAVE1, SLAVE2)


def apply(repo: Path, *extra: str) -> tuple[int, str, str]:
    result = reconcile("--apply", "--cluster", "lab", "--auto-approve", *extra, repo=repo)
    return result.returncode, result.stdout, result.stderr


def plan(repo: Path) -> tuple[int, dict[str, object]]:
    result = reconcile("--plan", "--cluster", "lab", "--format", "json", repo=repo)
    assert result.returncode in (0, 2), result.stderr
    return result.returncode, json.loads(result.stdout)


def assert_converged_on(lab_sim: SimulatedCluster, master_data: str) -> None:
    snapshot = lab_sim.snapshot()
    for node in snapshot["nodes"]:
        assert node["content_id"] == master_data, node["name"]
        assert node["status"] == "Enabled"
        assert node["certs"]["ca_cert"]["file"] == "CAVD.cer"
    roles = {node["name"]: node["role"] for node in snapshot["nodes"]}
    assert roles == {MASTER: "master", SLAVE1: "replica", SLAVE2: "replica"}


def test_the_seed_converges_and_a_second_plan_is_empty(
    lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    master_data = lab_sim.node(MASTER).content_id
    code, out, err = apply(lab_repo, "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert report["converged"] is True
    cluster = report["clusters"][0]
    assert all(step["state"] == "done" for step in cluster["steps"])
    assert_converged_on(lab_sim, master_data)
    # Backups were downloaded and size-checked before anything destructive.
    for name in ("cms1", "cms2", "cms3"):
        folder = lab_repo / ".reconcile" / "backups" / "lab" / name
        assert sorted(path.suffix for path in folder.iterdir()) == [".bak", ".json"]
    # The journal tells the story, without secrets.
    journal = Path(cluster["journal"]).read_text()
    events = [json.loads(line)["event"] for line in journal.splitlines()]
    assert events[0] == "apply.start"
    assert events.count("step.done") == len(cluster["steps"])
    assert events.count("transcript") == 3  # every node's whole MMP conversation, redacted
    assert "Remove started..." in journal
    assert "cms-lab" not in journal
    assert "PRIVATE KEY" not in journal
    code, again = plan(lab_repo)
    assert code == 0
    assert again["clusters"][0]["steps"] == []  # type: ignore[index]
    # The lock was released.
    assert "reconcile-apply.lock" not in lab_sim.snapshot()["nodes"][0]["files"]


Fault = Callable[[SimulatedCluster], None]
FAULTS: dict[str, tuple[Fault, Fault, str]] = {
    "backup download": (
        lambda sim: sim.refuse_sftp(SLAVE1, "get", "*.bak"),
        lambda sim: sim.refuse_sftp(SLAVE1, "get", "*.bak", refuse=False),
        "step 2 (backup) on cms2",
    ),
    "remove": (
        lambda sim: sim.fail_operation(SLAVE2, "remove"),
        lambda sim: sim.fail_operation(SLAVE2, "remove", fail=False),
        "(remove) on cms3",
    ),
    "upload": (
        lambda sim: sim.corrupt_uploads(SLAVE1, pattern="dbcluster*"),
        lambda sim: sim.corrupt_uploads(SLAVE1, corrupt=False),
        "(upload) on cms2",
    ),
    "certs": (
        lambda sim: sim.disconnect_on(SLAVE1, "database cluster certs", stage="before"),
        lambda sim: None,
        "(certs) on cms2",
    ),
    "initialize": (
        lambda sim: sim.fail_operation(MASTER, "initialize"),
        lambda sim: sim.fail_operation(MASTER, "initialize", fail=False),
        "(initialize) on cms1",
    ),
    "join": (
        lambda sim: sim.fail_operation(SLAVE2, "join"),
        lambda sim: sim.fail_operation(SLAVE2, "join", fail=False),
        "(join) on cms3",
    ),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_failure_stops_apply_and_plan_then_apply_converge(
    lab_sim: SimulatedCluster, lab_repo: Path, lab_addresses: LabAddresses, fault: str
) -> None:
    inject, clear, where = FAULTS[fault]
    master_data = lab_sim.node(MASTER).content_id
    inject(lab_sim)
    code, _, err = apply(lab_repo)
    assert code == 1
    assert where in err, err
    assert "command:" in err
    assert "Traceback" not in err
    assert "reconcile --plan" in err
    clear(lab_sim)
    code, continuation = plan(lab_repo)
    assert code == 2
    steps = continuation["clusters"][0]["steps"]  # type: ignore[index]
    assert all(step["node"] != lab_addresses.cms1 or step["action"] != "join" for step in steps)
    code, _, err = apply(lab_repo)
    assert code == 0, err
    assert_converged_on(lab_sim, master_data)


def test_a_stale_plan_file_is_refused(lab_sim: SimulatedCluster, lab_repo: Path) -> None:
    plan_file = lab_repo / "plan.json"
    result = reconcile("--plan", "--cluster", "lab", "--out", str(plan_file), repo=lab_repo)
    assert result.returncode == 2
    lab_sim.set_down(SLAVE2)  # the live state moves on
    lab_sim.set_down(SLAVE2, down=False)
    lab_sim.partition(SLAVE1, MASTER)
    code, _, err = apply(lab_repo, "--plan-file", str(plan_file))
    assert code == 1
    assert "plan is stale" in err
    assert all(cmd == "database cluster status" for node in NODES for cmd in lab_sim.commands(node))


def test_a_saved_plan_applies_when_nothing_changed(
    lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    plan_file = lab_repo / "plan.json"
    assert reconcile("--plan", "--out", str(plan_file), repo=lab_repo).returncode == 2
    code, _, err = apply(lab_repo, "--plan-file", str(plan_file))
    assert code == 0, err


def test_a_held_lock_is_refused_and_unlock_releases_it(
    lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    holder = {
        "user": "alice",
        "host": "laptop",
        "lock_id": "abc123",
        "time": "2026-11-27T07:00",
        "expires": "2026-11-27T09:00",
        "commit": "deadbeef",
    }
    lab_sim.node(MASTER).file_path("reconcile-apply.lock").write_text(json.dumps(holder))
    code, _, err = apply(lab_repo)
    assert code == 1
    assert "locked by another apply" in err
    assert "alice@laptop" in err
    assert "abc123" in err
    assert not any(
        cmd.startswith("database cluster remove")
        for node in NODES
        for cmd in lab_sim.commands(node)
    )
    wrong = reconcile("unlock", "--cluster", "lab", "--lock-id", "nope", repo=lab_repo)
    assert wrong.returncode == 1
    released = reconcile("unlock", "--cluster", "lab", "--lock-id", "abc123", repo=lab_repo)
    assert released.returncode == 0, released.stderr
    code, _, err = apply(lab_repo)
    assert code == 0, err


def test_a_concurrent_apply_on_this_machine_is_refused(
    lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    import fcntl

    lock_dir = lab_repo / ".reconcile" / "locks"
    lock_dir.mkdir(parents=True)
    with (lock_dir / "lab.lock").open("a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write('{"user": "ci", "pid": 4242}')
        held.flush()
        code, _, err = apply(lab_repo)
    assert code == 1
    assert "another apply is running on this machine" in err


def test_without_a_terminal_and_without_auto_approve_nothing_happens(
    lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    result = reconcile("--apply", "--cluster", "lab", repo=lab_repo)
    assert result.returncode == 1
    assert "--auto-approve" in result.stderr
    assert all(cmd == "database cluster status" for node in NODES for cmd in lab_sim.commands(node))


def test_a_master_change_needs_the_flag(
    lab_sim: SimulatedCluster, lab_repo: Path, lab_addresses: LabAddresses
) -> None:
    cluster_file = lab_repo / "clusters" / "lab.yaml"
    cluster_file.write_text(
        cluster_file.read_text().replace(
            f"master: {lab_addresses.cms1}", f"master: {lab_addresses.cms2}"
        )
    )
    code, _, err = apply(lab_repo)
    assert code == 1
    assert "--allow-master-change" in err
    replica_data = lab_sim.node(SLAVE1).content_id
    code, _, err = apply(lab_repo, "--allow-master-change")
    assert code == 0, err
    assert {node["content_id"] for node in lab_sim.snapshot()["nodes"]} == {replica_data}


@pytest.fixture
def demoting_lab(lab_repo: Path, tmp_path: Path) -> Iterator[SimulatedCluster]:
    """The lab where expired certificates also hide peers, so the master demotes itself."""
    with lab_cluster(lab_repo, tmp_path / "sim", expiry_breaks_visibility=True) as cluster:
        yield cluster


def test_a_master_demoted_by_expiry_is_still_the_data_authority(
    demoting_lab: SimulatedCluster, lab_repo: Path
) -> None:
    master_data = demoting_lab.node(MASTER).content_id
    demoting_lab.fail_operation(MASTER, "initialize")
    code, _, err = apply(lab_repo)  # no --allow-master-change: node in use is itself
    assert code == 1
    assert "(initialize) on cms1" in err
    demoting_lab.fail_operation(MASTER, "initialize", fail=False)
    # Every node is Disabled now; the marker written before cms1 left proves its data.
    code, continuation = plan(lab_repo)
    assert code == 2
    authority = continuation["clusters"][0]["data_authority"]  # type: ignore[index]
    assert authority["master_change"] is False
    assert "started taking the cluster apart" in authority["statement"]
    code, _, err = apply(lab_repo)
    assert code == 0, err
    assert_converged_on(demoting_lab, master_data)
    assert "reconcile-master.json" not in demoting_lab.snapshot()["nodes"][0]["files"]


@pytest.mark.parametrize("how", ["option", "environment"])
def test_the_state_dir_keeps_journal_backups_and_locks_out_of_the_checkout(
    lab_sim: SimulatedCluster, lab_repo: Path, tmp_path: Path, how: str
) -> None:
    """On a CI runner the state lives where no checkout cleans it and no plan job can read it
    (`--state-dir`, or `RECONCILE_STATE_DIR` as the apply workflow sets it)."""
    state = tmp_path / "runner-home" / "cms-reconciler" / "org-repo"
    args = ("--apply", "--cluster", "lab", "--auto-approve", "--format", "json")
    if how == "option":
        result = reconcile(*args, "--state-dir", str(state), repo=lab_repo)
    else:
        result = reconcile(*args, repo=lab_repo, env={"RECONCILE_STATE_DIR": str(state)})
    assert result.returncode == 0, result.stderr
    (cluster,) = json.loads(result.stdout)["clusters"]
    assert Path(cluster["journal"]).parent == state / "journal"
    for name in NODES:
        assert sorted(p.suffix for p in (state / "backups" / "lab" / name).iterdir()) == [
            ".bak",
            ".json",
        ]
    assert oct(state.stat().st_mode & 0o777) == oct(0o700)
    assert not (lab_repo / ".reconcile").exists()


def test_the_state_dir_is_refused_on_a_plan(lab_repo: Path, tmp_path: Path) -> None:
    result = reconcile("plan", "--state-dir", str(tmp_path / "state"), repo=lab_repo)
    assert result.returncode == 1
    assert "--state-dir has no effect on a plan" in result.stderr
