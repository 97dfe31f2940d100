"""Errors a person meets between the lab and a real cluster, through the real CLI.

Each names the cause and the fix: a refused password (and the variable that holds it), a node
that is down, a host that is not an MMP, every missing variable at once. A node that answered
is never "unreachable", the same failure on several nodes is one line, commands to run are
never broken across lines on a narrow terminal, and nothing prints a traceback.
"""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paramiko
import pytest
import yaml

from reconciler.simulator.backend import SessionIO
from reconciler.simulator.service import SimulatedCluster
from reconciler.simulator.ssh_server import NodeServer, generate_ed25519_key
from tests.e2e.conftest import LAB_ENV, reconcile
from tests.e2e.test_safety import start_apply, wait_for_event
from tests.support.terminal import run_in_terminal

pytestmark = pytest.mark.e2e
NODES = ("cms1", "cms2", "cms3")


def no_traceback(*results: Any) -> None:
    for result in results:
        assert "Traceback" not in result.stdout + result.stderr
        assert "Exception" not in result.stderr


def lab_nodes(repo: Path) -> dict[str, dict[str, Any]]:
    document: dict[str, Any] = yaml.safe_load((repo / "clusters" / "lab.yaml").read_text())
    return {node["name"]: node for node in document["nodes"]}


def labels(repo: Path, names: tuple[str, ...] = NODES) -> str:
    """``cms1 (A), cms2 (B), cms3 (C)``, as the plan names a group of nodes."""
    nodes = lab_nodes(repo)
    return ", ".join(f"{name} ({nodes[name]['address']})" for name in names)


# --- a wrong password ---------------------------------------------------------------------


def test_a_wrong_password_is_a_refused_login_said_once_naming_the_variable(
    lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    wrong = {"CMS_LAB_PASSWORD": "not-the-password"}
    plan = reconcile("--plan", "--cluster", "lab", repo=lab_repo, env=wrong)
    assert plan.returncode == 1, plan.stdout + plan.stderr
    refused = (
        "authentication failed for user 'admin': the node refused the password in "
        "$CMS_LAB_PASSWORD (check that variable)"
    )
    assert f"  x {labels(lab_repo)}: {refused}\n" in plan.stdout
    assert plan.stdout.count("authentication failed") == 1
    assert "unreachable" not in plan.stdout + plan.stderr
    assert "? -> readable" not in plan.stdout

    status = reconcile("status", "--cluster", "lab", repo=lab_repo, env=wrong)
    assert status.returncode == 1
    assert "CMS_LAB_PASSWORD" in status.stdout + status.stderr
    assert "unreachable" not in status.stdout + status.stderr

    as_json = reconcile("status", "--cluster", "lab", "--format", "json", repo=lab_repo, env=wrong)
    assert as_json.returncode == 1
    for node in json.loads(as_json.stdout)["clusters"][0]["nodes"]:
        assert node["reachable"] is True  # it answered, and refused
        assert node["error"] == refused  # the node's name is the JSON's, not the message's
    no_traceback(plan, status, as_json)


# --- a node that is down ------------------------------------------------------------------


def test_a_node_that_is_down_is_connection_refused_with_what_to_check(
    lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    lab_sim.set_down("cms3")
    cms3 = lab_nodes(lab_repo)["cms3"]
    where = f"{cms3['address']}:{cms3['ssh_port']}"
    plan = reconcile("--plan", "--cluster", "lab", repo=lab_repo)
    assert plan.returncode == 1
    subnet = cms3["address"].rsplit(".", 1)[0]  # a moved copy of the lab: say where it is
    assert (
        f"  x {labels(lab_repo, ('cms3',))}: cannot connect to {where}: connection refused; is "
        f"the node up, with its MMP listening on port {cms3['ssh_port']}? For the simulated "
        "lab: is `reconcile sim --cluster lab` running in this repository (or `reconcile sim "
        f"--cluster lab --subnet {subnet} --port {cms3['ssh_port']}` in a folder without a "
        "clusters/lab.yaml of its own)?\n"
    ) in plan.stdout
    assert plan.stdout.count(" x ") == 1  # cms1 and cms2 were read

    status = reconcile("status", "--cluster", "lab", "--format", "json", repo=lab_repo)
    assert status.returncode == 1
    nodes = json.loads(status.stdout)["clusters"][0]["nodes"]
    assert [node["reachable"] for node in nodes] == [True, True, False]
    assert "connection refused" in nodes[2]["error"]
    no_traceback(plan, status)


# --- not an MMP -----------------------------------------------------------------------------


class UnixHost:
    """A host's own OpenSSH, as a node's address on the wrong port would reach: a shell."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def prompt(self) -> str:
        return "admin@web3:~$ "

    def authenticate_password(self, username: str, password: str) -> bool:
        return password == LAB_ENV["CMS_LAB_PASSWORD"]

    def authenticate_key(self, username: str, key: paramiko.PKey) -> bool:
        return False

    def on_connect(self, username: str, peer: tuple[str, int]) -> None:
        pass

    def run_command(self, line: str, io: SessionIO, username: str) -> None:
        io.write(f"-bash: {line.split()[0] if line.split() else ''}: command not found\n")

    def sftp_root(self) -> Path:
        return self.root

    def on_sftp(self, operation: str, path: str, username: str) -> None:
        pass

    def sftp_refused(self, operation: str, path: str) -> bool:
        return False

    def accepting(self) -> bool:
        return True


@pytest.fixture
def unix_host(lab_repo: Path, tmp_path: Path) -> Iterator[NodeServer]:
    """cms3's address in the cluster file points at a plain shell (pinned, password right)."""
    cms3 = lab_nodes(lab_repo)["cms3"]
    key = generate_ed25519_key()
    server = NodeServer(UnixHost(tmp_path), cms3["address"], 0, key)
    server.start()
    cluster_file = lab_repo / "clusters" / "lab.yaml"
    served = f"{{name: cms3, address: {cms3['address']}, ssh_port: {cms3['ssh_port']}}}"
    text = cluster_file.read_text()
    assert served in text
    moved = f"{{name: cms3, address: {cms3['address']}, ssh_port: {server.port}}}"
    cluster_file.write_text(text.replace(served, moved))
    with (lab_repo / "clusters" / "known_hosts").open("a") as pins:
        pins.write(f"[{cms3['address']}]:{server.port} {key.get_name()} {key.get_base64()}\n")
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.reliability(
    section="hostile-input",
    case="a Unix shell instead of the MMP at login fails closed at once",
)
def test_a_shell_that_is_not_an_mmp_is_named_as_such_at_once(
    lab_sim: SimulatedCluster, lab_repo: Path, unix_host: NodeServer
) -> None:
    started = time.monotonic()
    plan = reconcile("--plan", "--cluster", "lab", repo=lab_repo)
    assert time.monotonic() - started < 20  # not the 60 s command timeout
    assert plan.returncode == 1
    line = next(line for line in plan.stdout.splitlines() if line.startswith("  x "))
    assert line.startswith(f"  x {labels(lab_repo, ('cms3',))}: SSH works, but this is not an MMP")
    assert "'admin@web3:~$ '" in line
    assert "unreachable" not in plan.stdout
    no_traceback(plan)


# --- missing variables ----------------------------------------------------------------------


@pytest.mark.reliability(
    section="hostile-input",
    case="missing environment variables are named in one error, before any connection",
)
@pytest.mark.parametrize("command", [["--plan"], ["--apply", "--auto-approve"]])
def test_both_missing_variables_are_named_in_one_error(lab_repo: Path, command: list[str]) -> None:
    result = reconcile(
        *command,
        "--cluster",
        "lab",
        repo=lab_repo,
        env={"CMS_LAB_PASSWORD": "", "CMS_LAB_KEY_PASSPHRASE": ""},
    )
    assert result.returncode == 1
    assert result.stderr.count("error:") == 1, result.stderr
    assert result.stderr.startswith(
        "error: environment variables not set: CMS_LAB_PASSWORD, CMS_LAB_KEY_PASSPHRASE; "
        "export them and run again:\n"
    )
    assert "  CMS_LAB_PASSWORD (set, but empty): the SSH password" in result.stderr
    assert "  CMS_LAB_KEY_PASSPHRASE (set, but empty): the passphrase" in result.stderr
    assert result.stdout == ""
    no_traceback(result)


# --- a narrow terminal ----------------------------------------------------------------------


def test_on_a_narrow_terminal_the_unlock_command_stays_on_one_line(
    lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    process = start_apply(lab_repo)
    wait_for_event(lab_repo, "step.start", "backup")
    process.send_signal(signal.SIGKILL)  # a crashed apply: its lock stays behind
    process.wait(timeout=10)

    run = run_in_terminal(
        ["--apply", "--auto-approve", "--cluster", "lab"], repo=lab_repo, env=LAB_ENV, columns=40
    )
    assert run.exit_code == 1, run.text
    match = re.search(r"`reconcile unlock --cluster lab --lock-id (\w+)`", run.text)
    assert match, run.text
    assert "reconcile plan" in run.text
    assert "Traceback" not in run.text

    released = reconcile("unlock", "--cluster", "lab", "--lock-id", match.group(1), repo=lab_repo)
    assert released.returncode == 0, released.stderr


def test_on_a_narrow_terminal_a_failed_apply_says_what_to_run_on_one_line(
    lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    lab_sim.fail_operation("cms3", "join")
    run = run_in_terminal(
        ["--apply", "--auto-approve", "--cluster", "lab"], repo=lab_repo, env=LAB_ENV, columns=40
    )
    assert run.exit_code == 1, run.text
    master = lab_nodes(lab_repo)["cms1"]["address"]
    assert f"  command: database cluster join {master}\n" in run.text
    assert "Run `reconcile --plan` to see the safe continuation from here.\n" in run.text
    assert "Traceback" not in run.text
