"""The fault matrix: every way an apply can be cut short, end to end over real SSH.

Each case drives the real CLI against the simulated lab and checks five things: a clear
error (no traceback), the exit code, that no step after the one that failed ran (the
simulator's command log against the plan in the journal), that the master's data survived
on the master, and that plan + (unlock when the failed apply could not release its lock) +
apply afterwards converge.

Faults are written exactly as ``reconcile sim --fault`` takes them, so any case replays by
hand: ``reconcile sim --cluster lab --fault 'cms3:down@database cluster remove'`` in one
terminal, ``reconcile --apply --cluster lab`` in another (see README, "The simulated lab").
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconciler.simulator.service import SimulatedCluster
from reconciler.simulator.state import Durations
from tests.e2e.conftest import LAB_ENV, lab_cluster, reconcile, wait_idle
from tests.e2e.test_safety import start_apply
from tests.support import cli

pytestmark = pytest.mark.e2e
NODES = ("cms1", "cms2", "cms3")
MASTER = "cms1"
# Operations finish within one poll, so a case costs its CLI runs, not the simulated waits.
QUICK = Durations(remove=0.05, initialize=0.05, join=0.05, upgrade_schema=0.05)
CHANGING = (
    "backup snapshot",
    "database cluster remove",
    "database cluster certs",
    "database cluster initialize",
    "database cluster join",
)
TOOL_FILES = "reconcile-"  # the apply lock and the master marker, not plan steps
LOCK_ID = re.compile(r"reconcile unlock --cluster lab --lock-id (\w+)")
STEP_KINDS = ("backup", "remove", "upload", "certs", "initialize", "join")


def reliability(case: str) -> pytest.MarkDecorator:
    return pytest.mark.reliability(section="fault-matrix", case=case)


@pytest.fixture
def sim(lab_repo: Path, tmp_path: Path) -> Iterator[SimulatedCluster]:
    """The lab served in-process, so a case can inject faults and read every node's log."""
    with lab_cluster(lab_repo, tmp_path / "sim", durations=QUICK) as cluster:
        yield cluster


# --- what every case checks ----------------------------------------------------------------
def apply(repo: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return reconcile("--apply", "--cluster", "lab", "--auto-approve", *extra, repo=repo)


def journals(repo: Path) -> list[Path]:
    return sorted((repo / ".reconcile" / "journal").glob("lab-*.jsonl"))


def events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def assert_clear(result: subprocess.CompletedProcess[str], code: int, error: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    assert "?." not in result.stderr  # sentences joined cleanly
    assert re.search(error, result.stderr, re.DOTALL), result.stderr


def changes_sent(sim: SimulatedCluster) -> Counter[tuple[str, str]]:
    """(node, command or uploaded file) of every change the nodes received."""
    sent: Counter[tuple[str, str]] = Counter()
    for name in NODES:
        for entry in sim.node(name).log:
            if entry.kind == "command" and entry.detail.startswith(CHANGING):
                sent[(name, entry.detail)] += 1
            if entry.kind == "sftp" and entry.detail.startswith("put "):
                uploaded = entry.detail.removeprefix("put ")
                if not uploaded.startswith(TOOL_FILES):
                    sent[(name, f"put {uploaded}")] += 1
    return sent


def step_change(step: dict[str, Any]) -> tuple[str, str]:
    if step["action"] == "upload":
        return (step["node_name"], f"put {step['command'].rsplit(' -> ', 1)[1]}")
    return (step["node_name"], step["command"])


def assert_no_later_step(sim: SimulatedCluster, journal: Path | None) -> int:
    """Nothing after the last step the apply started reached a node; returns that step's id.

    The journal holds the plan the apply ran and the steps it started; the simulator's logs
    hold what the nodes really received: every change received must belong to a started
    step, and no step may start after one failed.
    """
    started: list[int] = []
    steps: list[dict[str, Any]] = []
    if journal is not None:
        failed = False
        for record in events(journal):
            if record["event"] == "apply.start":
                steps = record["plan"]["steps"]
            elif record["event"] == "step.start":
                assert not failed, f"step {record['step']['id']} started after a step failed"
                started.append(record["step"]["id"])
            elif record["event"] in ("step.failed", "step.interrupted"):
                failed = True
    last = max(started, default=0)
    allowed = Counter(step_change(step) for step in steps if step["id"] <= last)
    sent = changes_sent(sim)
    assert not sent - allowed, f"changes no started step asked for: {sent - allowed}"
    return last


def assert_converges(
    sim: SimulatedCluster, repo: Path, master_data: str, lock_id: str | None, *extra: str
) -> None:
    """Plan shows the continuation, unlock (if the lock was left), apply (with ``extra``)
    converges."""
    sim.clear_faults()
    wait_idle(sim)
    planned = reconcile("--plan", "--cluster", "lab", repo=repo)
    assert planned.returncode in (0, 2), planned.stderr
    if lock_id is not None:
        released = reconcile("unlock", "--cluster", "lab", "--lock-id", lock_id, repo=repo)
        assert released.returncode == 0, released.stderr
    final = apply(repo, *extra)
    assert final.returncode == 0, final.stderr
    snapshot = sim.snapshot()
    roles = {node["name"]: node["role"] for node in snapshot["nodes"]}
    assert roles == {"cms1": "master", "cms2": "replica", "cms3": "replica"}
    for node in snapshot["nodes"]:
        assert node["content_id"] == master_data, node["name"]
        assert node["certs"]["ca_cert"]["file"] == "CAVD.cer"
        assert node["in_sync"] in (None, True), node["name"]


# --- faults the simulator injects ----------------------------------------------------------
@dataclass(frozen=True)
class Case:
    faults: tuple[str, ...]  # as `reconcile sim --fault` takes them
    code: int  # apply's exit code
    error: str  # what stderr must say (a regex)
    failed_step: str | None  # "remove on cms3": the step that stops the apply, if any
    lock_left: bool = False  # the failed apply could not release its lock on a node
    # The cluster file's timeouts, when the case needs short ones. Shorter than the twin's
    # modelled operations, they fail apply's own rehearsal (as they should): such a case
    # applies with --skip-rehearsal, to see the real timeout.
    timeouts: str | None = None
    plan_error: str | None = None  # what plan (run first) says, when the fault shows at plan


CASES: dict[str, Case] = {
    "node down at plan": Case(
        ("cms3:down",),
        1,
        r"cannot take the apply lock on .*cms3: cannot connect.*connection refused"
        r".*nothing was changed",
        None,
        plan_error=r"Cannot plan cluster lab:\n  x cms3 \([\d.]+\): cannot connect to [\d.]+:\d+: "
        r"connection refused; is the node up",
    ),
    "node down mid-apply, before remove": Case(
        ("cms3:down@database cluster remove",),
        1,
        r"step 5 \(remove\) on cms3 .* failed: cms3: connection closed by the node",
        "remove on cms3",
        lock_left=True,
    ),
    "node down mid-apply, between initialize and join": Case(
        ("cms2:down@database cluster join",),
        1,
        r"step 26 \(join\) on cms2 .* failed: cms2: connection closed by the node",
        "join on cms2",
        lock_left=True,
    ),
    "disconnect during remove": Case(
        ("cms2:disconnect@database cluster remove",),
        1,
        r"step 4 \(remove\) on cms2 .* failed: cms2: connection closed by the node"
        r".*Remove started",
        "remove on cms2",
    ),
    "disconnect during initialize": Case(
        ("cms1:disconnect@database cluster initialize",),
        1,
        r"step 25 \(initialize\) on cms1 .* failed: cms1: connection closed by the node"
        r".*Initialize started",
        "initialize on cms1",
    ),
    "disconnect during join": Case(
        ("cms3:disconnect@database cluster join",),
        1,
        r"step 27 \(join\) on cms3 .* failed: cms3: connection closed by the node"
        r".*Join started",
        "join on cms3",
    ),
    "an operation ends (Failed)": Case(
        ("cms1:fail:initialize",),
        1,
        r"step 25 \(initialize\) on cms1 .* failed: cms1: 'database cluster initialize' "
        r"ended \(Failed\)",
        "initialize on cms1",
    ),
    "an operation never finishes (timeout)": Case(
        ("cms2:hang:join",),
        1,
        r"step 26 \(join\) on cms2 .* did not finish as expected \(in_sync\) within 1 s; "
        r"last status: Enabling",
        "join on cms2",
        timeouts="timeouts: {remove: 300s, initialize: 300s, join: 1s}",
    ),
    "slow responses and a slow operation still converge": Case(
        ("*:delay:0.05", "cms3:slow:join=0.5"),
        0,
        r"done 27/27 \[cms3\] join",
        None,
    ),
    "a partition: a replica sees the master Disconnected": Case(
        ("cms3:partition:cms1",),
        1,
        r"step 27 \(join\) on cms3 .* 'database cluster join [\d.]+' ended \(Failed\)",
        "join on cms3",
    ),
    "master unreachable at join time": Case(
        ("cms1:down@cms2:database cluster join",),
        1,
        r"step 26 \(join\) on cms2 .* 'database cluster join [\d.]+' ended \(Failed\)",
        "join on cms2",
        lock_left=True,
    ),
    "the simulator restarted mid-apply": Case(
        ("*:restart:5@cms1:database cluster initialize",),
        1,
        r"step 25 \(initialize\) on cms1 .* failed: cms1: connection closed by the node",
        "initialize on cms1",
        lock_left=True,
    ),
}


def with_timeouts(repo: Path, timeouts: str) -> None:
    cluster_file = repo / "clusters" / "lab.yaml"
    text = cluster_file.read_text()
    default = "timeouts: {remove: 300s, initialize: 300s, join: 600s}"
    assert default in text
    cluster_file.write_text(text.replace(default, timeouts))


@pytest.mark.parametrize("name", [pytest.param(name, marks=reliability(name)) for name in CASES])
def test_a_fault_stops_apply_clearly_and_plan_then_apply_converge(
    sim: SimulatedCluster, lab_repo: Path, name: str
) -> None:
    case = CASES[name]
    if case.timeouts:
        with_timeouts(lab_repo, case.timeouts)
    master_data = sim.write_data(MASTER)  # the call bridge wrote just before the change
    sim.inject(*case.faults)
    if case.plan_error is not None:
        planned = reconcile("--plan", "--cluster", "lab", repo=lab_repo)
        assert planned.returncode == 1, planned.stderr
        assert re.search(case.plan_error, planned.stdout + planned.stderr), planned.stdout

    extra = ["--skip-rehearsal"] if case.timeouts else []
    result = apply(lab_repo, *extra)

    assert_clear(result, case.code, case.error)
    journal = journals(lab_repo)[-1] if journals(lab_repo) else None
    last = assert_no_later_step(sim, journal)
    if case.failed_step is not None:
        assert journal is not None
        step = next(
            record["step"]
            for record in events(journal)
            if record["event"] == "step.start" and record["step"]["id"] == last
        )
        assert f"{step['action']} on {step['node_name']}" == case.failed_step
        assert "reconcile --plan" in result.stderr
    if case.code != 0 and case.failed_step is None:
        assert last == 0
        assert not changes_sent(sim)
    assert sim.node(MASTER).content_id == master_data
    lock = LOCK_ID.search(result.stderr)
    assert bool(lock) == case.lock_left, result.stderr
    assert_converges(sim, lab_repo, master_data, lock.group(1) if lock else None, *extra)


# --- the reconciler itself cut short -------------------------------------------------------
def wait_for_step(repo: Path, action: str, timeout: float = 60) -> None:
    """Until the running apply's journal shows a step of ``action`` started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in journals(repo):
            for line in path.read_text().splitlines():
                record: dict[str, Any] = json.loads(line) if line.endswith("}") else {}
                step = record.get("step")
                if record.get("event") == "step.start" and step and step["action"] == action:
                    return
        time.sleep(0.01)
    pytest.fail(f"the apply never started a {action} step")


def first_step_of(journal: Path, action: str) -> int:
    for record in events(journal):
        if record["event"] == "apply.start":
            return min(
                int(step["id"]) for step in record["plan"]["steps"] if step["action"] == action
            )
    raise AssertionError("no apply.start in the journal")


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param(kind, marks=reliability(f"reconciler killed (kill -9) at {kind}"))
        for kind in STEP_KINDS
    ],
)
def test_a_killed_apply_is_recovered_by_plan_unlock_apply(
    sim: SimulatedCluster, lab_repo: Path, kind: str
) -> None:
    master_data = sim.write_data(MASTER)
    process = start_apply(lab_repo)
    wait_for_step(lab_repo, kind)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL

    journal = journals(lab_repo)[-1]
    last = assert_no_later_step(sim, journal)
    assert last >= first_step_of(journal, kind)
    assert not any(record["event"] == "apply.end" for record in events(journal))
    assert sim.node(MASTER).content_id == master_data
    # The next apply is refused and says how to release the dead apply's lock.
    wait_idle(sim)
    refused = apply(lab_repo)
    assert_clear(refused, 1, r"locked by another apply.*no longer running")
    lock = LOCK_ID.search(refused.stderr)
    assert lock, refused.stderr
    started = next(record for record in events(journal) if record["event"] == "apply.start")
    assert lock.group(1) == started["lock_id"]
    assert_converges(sim, lab_repo, master_data, lock.group(1))


@pytest.mark.parametrize(
    "kind",
    [pytest.param(kind, marks=reliability(f"SIGINT at {kind}")) for kind in STEP_KINDS],
)
def test_an_interrupted_apply_stops_where_it_says_and_plan_apply_converge(
    sim: SimulatedCluster, lab_repo: Path, kind: str
) -> None:
    master_data = sim.write_data(MASTER)
    process = start_apply(lab_repo)
    wait_for_step(lab_repo, kind)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)

    assert process.returncode == 130, err
    assert "Traceback" not in err
    # Ctrl-C lands in a step ("at step N", which may still run on the node) or between two
    # ("after step N ... completed"); either way N is the last step the journal started.
    stopped = re.search(
        r"interrupted: cluster lab stopped (at|after) step (\d+) \((\w+) on (cms\d)", err
    )
    assert stopped, err
    assert "reconcile plan" in err
    journal = journals(lab_repo)[-1]
    last = assert_no_later_step(sim, journal)
    assert last == int(stopped.group(2))
    assert last >= first_step_of(journal, kind)
    records = events(journal)
    state = {record["event"] for record in records if record.get("id") == last}
    if stopped.group(1) == "after":
        assert "step.done" in state, state
    else:
        assert "step.done" not in state, state
    assert records[-1]["event"] == "apply.end"
    assert records[-1]["interrupted"] is True
    assert sim.node(MASTER).content_id == master_data
    assert_converges(sim, lab_repo, master_data, None)  # an interrupted apply unlocks


@reliability("two applies at once")
def test_two_applies_at_once_one_runs_the_other_is_refused_untouched(
    sim: SimulatedCluster, lab_repo: Path, tmp_path: Path
) -> None:
    master_data = sim.write_data(MASTER)
    second_copy = tmp_path / "second-working-copy"
    shutil.copytree(lab_repo, second_copy)
    first, second = start_apply(lab_repo), start_apply(second_copy)
    outcomes = [(process, *process.communicate(timeout=120)) for process in (first, second)]
    codes = sorted(process.wait() for process, _, _ in outcomes)
    assert codes == [0, 1], [(process.returncode, err) for process, _, err in outcomes]
    loser = next(err for process, _, err in outcomes if process.returncode == 1)
    assert "Traceback" not in loser
    assert re.search(r"locked by another apply.*held by", loser), loser
    initializes = sum(
        command.startswith("database cluster initialize")
        for name in NODES
        for command in sim.commands(name)
    )
    assert initializes == 1  # the loser sent no change
    winner_repo = lab_repo if first.returncode == 0 else second_copy
    assert_no_later_step(sim, journals(winner_repo)[-1])
    assert sim.node(MASTER).content_id == master_data
    assert reconcile("--plan", "--cluster", "lab", repo=lab_repo).returncode == 0
    assert_converges(sim, lab_repo, master_data, None)


# --- a person replays a case by hand ---------------------------------------------------------
def serve(repo: Path, *faults: str) -> cli.Process:
    """`reconcile sim` as a person starts it, with faults on its command line."""
    arguments = [arg for fault in faults for arg in ("--fault", fault)]
    process = cli.start(
        [
            "sim",
            "--cluster",
            "lab",
            "--repo",
            str(repo),
            *arguments,
            "--operation-seconds",
            "0.05",
        ],
        env={**os.environ, **LAB_ENV},
    )
    assert process.stdout is not None
    seen = []
    while "ready" not in (line := process.stdout.readline()):
        if not line:  # it refused to serve: the caller reads why
            process.wait(timeout=10)
            return process
        seen.append(line)
    assert [line for line in seen if line.startswith("fault:")] == [
        f"fault: {fault}\n" for fault in faults
    ]
    return process


@reliability("a matrix case replayed by hand with reconcile sim --fault")
def test_reconcile_sim_replays_a_case_from_its_command_line(lab_repo: Path) -> None:
    process = serve(lab_repo, "cms1:fail:initialize")
    try:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        result = apply(lab_repo)
        assert_clear(result, 1, CASES["an operation ends (Failed)"].error)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)


def test_reconcile_sim_refuses_a_bad_fault_before_serving(lab_repo: Path) -> None:
    process = serve(lab_repo, "cms2:fial:join")
    _, err = process.communicate(timeout=10)
    assert process.returncode == 1
    assert err.startswith("error: --fault 'cms2:fial:join': unknown fault kind 'fial'; kinds:")
    assert "Traceback" not in err


def test_scenario_faults_are_checked_naming_the_file_and_key(lab_repo: Path) -> None:
    scenario = lab_repo / "sim" / "lab" / "scenario.yaml"
    scenario.write_text(scenario.read_text() + "faults:\n  cms2: [fail:join, hang:jion]\n")
    process = serve(lab_repo)
    _, err = process.communicate(timeout=10)
    assert process.returncode == 1
    assert f"error: {scenario}: faults.cms2[1] 'hang:jion': hang takes an operation" in err
    assert "Traceback" not in err
