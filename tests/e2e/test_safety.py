"""Safety defects, end to end: plan files, cluster-wide locks, interrupts, the tool's own files.

Each test drives the real CLI over real SSH against the simulated lab and checks what the
nodes were sent, not only what the CLI printed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import git
import pytest

from reconciler.simulator.lab import build_cluster, load_topology
from reconciler.simulator.service import SimulatedCluster
from tests.e2e.conftest import LAB_ENV, reconcile
from tests.support import cli
from tests.support.lab import (
    FAST,
    LAB_MATERIAL,
    LabAddresses,
    changes_sent,
    free_lab_addresses,
    move_lab,
)

pytestmark = pytest.mark.e2e
NODES = ("cms1", "cms2", "cms3")


def count(sim: SimulatedCluster, prefix: str) -> int:
    return sum(cmd.startswith(prefix) for node in NODES for cmd in sim.commands(node))


def commit_all(repo: Path, message: str) -> str:
    """Commit everything, with no .gitignore: the tool must not need one."""
    repository = git.Repo.init(repo) if not (repo / ".git").exists() else git.Repo(repo)
    repository.git.add(A=True)
    repository.index.commit(message, author=git.Actor("t", "t@example.com"))
    return str(repository.head.commit.hexsha)


def apply(repo: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return reconcile("--apply", "--auto-approve", *extra, repo=repo)


def journal_events(repo: Path) -> list[dict[str, Any]]:
    journals = sorted((repo / ".reconcile" / "journal").glob("lab-*.jsonl"))
    return [json.loads(line) for path in journals for line in path.read_text().splitlines()]


def start_apply(repo: Path, *extra: str) -> cli.Process:
    return cli.start(
        ["--apply", "--auto-approve", "--cluster", "lab", *extra, "--repo", str(repo)],
        env={**os.environ, **LAB_ENV},
    )


def wait_for_event(repo: Path, event: str, action: str, timeout: float = 60) -> None:
    """Until the journal shows ``event`` for a step of ``action`` (a running apply)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in journal_events(repo):
            step = record.get("step")
            if record["event"] == event and isinstance(step, dict) and step.get("action") == action:
                return
        time.sleep(0.05)
    pytest.fail(f"the apply never reached {event} of a {action} step")


# --- 1. a plan file holds the whole of what apply may do ---------------------------------
@pytest.fixture
def other_sim(lab_repo: Path, tmp_path: Path) -> Iterator[SimulatedCluster]:
    """A second cluster, `other`, in the same GitOps repo, on its own addresses."""
    addresses: LabAddresses = free_lab_addresses()
    scratch = tmp_path / "other-source"
    for folder in ("clusters", "certs", "sim"):
        shutil.copytree(LAB_MATERIAL / folder, scratch / folder)
    move_lab(scratch, addresses)
    text = (scratch / "clusters" / "lab.yaml").read_text().replace("name: lab", "name: other")
    (lab_repo / "clusters" / "other.yaml").write_text(text)
    with (lab_repo / "clusters" / "known_hosts").open("a") as pins:
        pins.write((scratch / "clusters" / "known_hosts").read_text())
    shutil.copytree(scratch / "sim" / "lab", lab_repo / "sim" / "other")
    topology = load_topology(lab_repo, "other")
    with build_cluster(
        lab_repo, topology, env=LAB_ENV, workdir=tmp_path / "other-sim", durations=FAST
    ) as cluster:
        yield cluster


def test_a_plan_file_applies_only_the_clusters_it_holds(
    lab_sim: SimulatedCluster, other_sim: SimulatedCluster, lab_repo: Path
) -> None:
    converged = apply(lab_repo, "--cluster", "other")
    assert converged.returncode == 0, converged.stderr
    plan_file = lab_repo / "other.json"
    made = reconcile("--plan", "--cluster", "other", "--out", str(plan_file), repo=lab_repo)
    assert made.returncode == 0, made.stderr  # other is converged: zero steps

    result = apply(lab_repo, "--plan-file", str(plan_file))
    assert result.returncode == 0, result.stderr
    assert changes_sent(lab_sim) == []  # lab's re-form was neither reviewed nor run

    mixed = apply(lab_repo, "--plan-file", str(plan_file), "--cluster", "lab")
    assert mixed.returncode == 1
    assert "does not match the plan file" in mixed.stderr
    assert changes_sent(lab_sim) == []


def test_a_plan_file_with_no_clusters_is_refused(lab_sim: SimulatedCluster, lab_repo: Path) -> None:
    plan_file = lab_repo / "plan.json"
    assert reconcile("--plan", "--out", str(plan_file), repo=lab_repo).returncode == 2
    saved = json.loads(plan_file.read_text())
    saved["clusters"] = []
    plan_file.write_text(json.dumps(saved))
    result = apply(lab_repo, "--plan-file", str(plan_file))
    assert result.returncode == 1
    assert "holds no cluster" in result.stderr
    assert "Traceback" not in result.stderr
    assert changes_sent(lab_sim) == []


def edit_step(action: str, **fields: str) -> Callable[[dict[str, Any]], bool]:
    """Edit the first step of ``action``; True when it edited that step."""
    done: list[bool] = []

    def edit(step: dict[str, Any]) -> bool:
        if step["action"] != action or done:
            return False
        step.update({key: value.format(**step) for key, value in fields.items()})
        done.append(True)
        return True

    return edit


EDITS = {
    "backup command": {"action": "backup", "command": "{command}; factory_reset"},
    "backup name": {
        "action": "backup",
        "backup_name": "x; factory_reset",
        "command": "backup snapshot x; factory_reset",
    },
    "reason": {"action": "remove", "reason": "harmless"},
    "expectation": {"action": "join", "expect": "disabled"},
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_a_plan_file_is_compared_field_by_field(
    lab_sim: SimulatedCluster, lab_repo: Path, edit: str
) -> None:
    plan_file = lab_repo / "plan.json"
    assert reconcile("--plan", "--out", str(plan_file), repo=lab_repo).returncode == 2
    saved = json.loads(plan_file.read_text())
    fields = dict(EDITS[edit])
    change = edit_step(fields.pop("action"), **fields)
    edited = [step for step in saved["clusters"][0]["steps"] if change(step)]
    assert len(edited) == 1
    plan_file.write_text(json.dumps(saved))
    result = apply(lab_repo, "--plan-file", str(plan_file))
    assert result.returncode == 1
    assert "differs in" in result.stderr, result.stderr
    assert changes_sent(lab_sim) == []


# --- 2. two applies naming different masters ---------------------------------------------
def test_two_applies_naming_different_masters_one_proceeds(
    lab_sim: SimulatedCluster, lab_repo: Path, lab_addresses: LabAddresses, tmp_path: Path
) -> None:
    other_copy = tmp_path / "second-working-copy"
    shutil.copytree(lab_repo, other_copy)
    cluster_file = other_copy / "clusters" / "lab.yaml"
    text = cluster_file.read_text()
    cluster_file.write_text(
        text.replace(f"master: {lab_addresses.cms1}", f"master: {lab_addresses.cms2}")
    )
    first = start_apply(lab_repo)
    second = start_apply(other_copy, "--allow-master-change")
    results = [(process, *process.communicate(timeout=180)) for process in (first, second)]
    codes = sorted(process.wait() for process, _, _ in results)
    assert codes == [0, 1], [(p.returncode, err) for p, _, err in results]
    loser = next(err for process, _, err in results if process.returncode == 1)
    assert "locked by another apply" in loser
    assert "held by" in loser
    assert re.search(r"reconcile unlock --cluster lab --lock-id \w+", loser)
    assert count(lab_sim, "database cluster initialize") == 1


# --- 4 and 5. the tool's own files: never dirty, owner-only ------------------------------
def test_the_tools_own_files_never_make_the_tree_dirty_and_are_private(
    lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    commit_all(lab_repo, "lab")
    old_umask = os.umask(0o022)
    try:
        first = apply(lab_repo)
    finally:
        os.umask(old_umask)
    assert first.returncode == 0, first.stderr
    # A second apply (converged) is not refused for the journal and backups it left.
    second = apply(lab_repo)
    assert second.returncode == 0, second.stderr
    status = git.Repo(lab_repo).git.status("--porcelain", "--untracked-files=all")
    assert status == ""  # .reconcile/ ignores itself: `git add -A` can't commit a backup
    state = lab_repo / ".reconcile"
    backups = list((state / "backups").rglob("*.bak"))
    assert len(backups) == 3
    for path in [state, *state.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
    # Anything else uncommitted still stops apply, and the message names it.
    (lab_repo / "certs" / "lab" / "new.cer").write_text("not committed\n")
    dirty = apply(lab_repo)
    assert dirty.returncode == 1
    assert "certs/lab/new.cer" in dirty.stderr
    assert ".reconcile" not in dirty.stderr


FAST_SIM = ("--operation-seconds", "0.3")


def test_the_simulators_files_do_not_make_the_tree_dirty(tmp_path: Path, lab_repo: Path) -> None:
    commit_all(lab_repo, "lab")
    process = cli.start(
        ["sim", "--cluster", "lab", "--repo", str(lab_repo), *FAST_SIM],
        env={**os.environ, **LAB_ENV},
    )
    try:
        assert process.stdout is not None
        while "ready" not in (line := process.stdout.readline()):
            assert line, process.stderr.read() if process.stderr else ""
        sim_files = [p for p in (lab_repo / ".reconcile" / "sim").rglob("*") if p.is_file()]
        assert sim_files
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in sim_files)
        status = git.Repo(lab_repo).git.status("--porcelain", "--untracked-files=all")
        assert status == ""
        result = apply(lab_repo)
        assert result.returncode == 0, result.stderr
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- 6. a crashed apply's lock ------------------------------------------------------------
def test_a_killed_apply_leaves_a_lock_the_next_apply_explains(
    lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    process = start_apply(lab_repo)
    wait_for_event(lab_repo, "step.start", "remove")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)

    blocked = apply(lab_repo)
    assert blocked.returncode == 1
    assert "no longer running" in blocked.stderr, blocked.stderr
    match = re.search(r"reconcile unlock --cluster lab --lock-id (\w+)", blocked.stderr)
    assert match, blocked.stderr
    lock_id = match.group(1)
    local = json.loads((lab_repo / ".reconcile" / "locks" / "lab.lock").read_text())
    assert local["lock_id"] == lock_id  # the failed attempt kept the holder's record

    released = reconcile("unlock", "--cluster", "lab", "--lock-id", lock_id, repo=lab_repo)
    assert released.returncode == 0, released.stderr
    time.sleep(1)  # let the remove the killed apply started finish on the node
    assert reconcile("--plan", repo=lab_repo).returncode == 2
    final = apply(lab_repo)
    assert final.returncode == 0, final.stderr


# --- 7. Ctrl-C ----------------------------------------------------------------------------
@pytest.mark.reliability(
    section="fault-matrix", case="SIGINT before the first step (locks held, nodes being read)"
)
def test_ctrl_c_before_the_first_step_sends_nothing_and_releases_the_locks(
    lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    """Ctrl-C while apply holds the locks and reads the nodes (their answers slowed): it
    stops at the first safe point, before any step, and leaves nothing locked."""
    for node in NODES:
        lab_sim.set_delay(node, 1.0)
    process = start_apply(lab_repo)
    record = lab_repo / ".reconcile" / "locks" / "lab.lock"
    deadline = time.monotonic() + 30
    while not (record.exists() and record.stat().st_size):  # written once every node is locked
        assert time.monotonic() < deadline, "apply never held the locks"
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "SIGINT received: stopping at the next step or poll" in err
    assert "error: interrupted. Run `reconcile plan`" in err
    assert "Traceback" not in err
    assert changes_sent(lab_sim) == []
    for node in NODES:
        lab_sim.set_delay(node, 0)
    final = apply(lab_repo)
    assert final.returncode == 0, final.stderr


@pytest.mark.reliability(
    section="fault-matrix", case="SIGINT twice: the second ends apply at once, no hang"
)
def test_a_second_ctrl_c_ends_apply_at_once_and_the_next_apply_explains_the_lock(
    lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    for node in NODES:
        lab_sim.slow_operation(node, "remove", 5.0)
    process = start_apply(lab_repo)
    wait_for_event(lab_repo, "step.start", "remove")
    process.send_signal(signal.SIGINT)
    assert process.stderr is not None
    while "SIGINT received" not in (line := process.stderr.readline()):
        assert line, "apply ended without acknowledging the first Ctrl-C"
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=10)
    assert process.returncode == -signal.SIGINT
    refused = apply(lab_repo)
    assert refused.returncode == 1
    assert "reconcile unlock --cluster lab --lock-id" in refused.stderr, refused.stderr


def test_an_interrupted_apply_says_where_it_stopped(
    lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    process = start_apply(lab_repo)
    wait_for_event(lab_repo, "step.start", "remove")
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert re.search(r"interrupted: cluster lab stopped at step \d+ \(remove", err), err
    assert "journal: " in err
    assert "reconcile plan" in err
    events = journal_events(lab_repo)
    assert events[-1]["event"] == "apply.end"
    assert events[-1]["interrupted"] is True
    assert any(event["event"] == "transcript" for event in events)
    # The lock was released: plan and apply continue from where it stopped.
    time.sleep(1)
    final = apply(lab_repo)
    assert final.returncode == 0, final.stderr
