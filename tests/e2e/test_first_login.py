"""A login that cannot go on, through the real CLI: an expired MMP password is said as such,
naming the cluster's variable, and a refused login is never tried again in the run.

MMP passwords expire after six months and the next login forces a change (reference §6);
MMP accounts lock after failed logins, so one refused password must not become several.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import paramiko
import pytest

from reconciler.simulator.choices import say
from reconciler.simulator.service import SimulatedCluster
from tests.e2e.conftest import LAB_ENV, reconcile, until_stopped
from tests.support import cli

pytestmark = pytest.mark.e2e

EXPIRED = (
    "the MMP password for admin on cms2 has expired: log in once by hand and change it, "
    "then update $CMS_LAB_PASSWORD"
)


def flat(text: str) -> str:
    """``text`` with every run of whitespace one space (``status`` wraps its lines)."""
    return " ".join(text.split())


def no_traceback(*results: Any) -> None:
    for result in results:
        assert "Traceback" not in result.stdout + result.stderr


def auth_refusals(sim: SimulatedCluster, node: str) -> int:
    with sim.model.lock:
        return sum(
            1
            for entry in sim.model.node(node).log
            if entry.kind == "auth" and entry.detail.startswith("password refused")
        )


def test_an_expired_password_is_said_as_such_and_nothing_is_typed(
    lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    lab_sim.expire_password("cms2", "admin")
    started = time.monotonic()
    plan = reconcile("--plan", "--cluster", "lab", repo=lab_repo)
    assert time.monotonic() - started < 30  # said at once, not after the prompt timeout
    assert plan.returncode == 1, plan.stdout + plan.stderr
    output = plan.stdout + plan.stderr
    assert EXPIRED in output
    assert "is ssh_port" not in output
    assert "no MMP prompt" not in output
    assert "unreachable" not in output
    assert lab_sim.commands("cms2") == []  # not one keystroke: it would be a new password
    assert lab_sim.connections("cms2") == 1  # and no second login
    with lab_sim.model.lock:
        assert lab_sim.node("cms2").faults.password_expired("admin")  # still expired

    status = reconcile("status", "--cluster", "lab", repo=lab_repo)
    assert status.returncode == 1
    assert EXPIRED in flat(status.stdout + status.stderr)
    no_traceback(plan, status)


def test_once_changed_by_hand_and_the_variable_updated_the_plan_works(
    lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    lab_sim.expire_password("cms2", "admin")
    setup = next(setup for setup in lab_sim.setups if setup.name == "cms2")
    port = lab_sim.server("cms2").port
    # What the message asks a person to do: log in by hand and answer the MMP's questions.
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(
        setup.listen_host,
        port,
        "admin",
        LAB_ENV["CMS_LAB_PASSWORD"],
        look_for_keys=False,
        allow_agent=False,
    )
    try:
        shell = client.invoke_shell()
        said = _read_until(shell, say("login.password_expired").rstrip())
        assert "expired" in said
        shell.send(b"changed-by-hand\r")
        again = _read_until(shell, say("login.password_again").rstrip())
        shell.send(b"changed-by-hand\r")
        done = _read_until(shell, "cms2> ")
        assert "changed-by-hand" not in again + done  # a password is not echoed
        assert say("login.password_changed") in done
    finally:
        client.close()

    plan = reconcile("--plan", "--cluster", "lab", repo=lab_repo)
    assert plan.returncode == 1  # the variable still holds the old password
    assert EXPIRED not in plan.stdout + plan.stderr
    updated = reconcile(
        "--plan", "--cluster", "lab", repo=lab_repo, env={"CMS_LAB_PASSWORD": "changed-by-hand"}
    )
    # The lab's nodes share one account in the simulator: all of them now take the new one.
    assert updated.returncode in (0, 2), updated.stdout + updated.stderr
    no_traceback(plan, updated)


def _read_until(channel: paramiko.Channel, text: str, timeout: float = 10) -> str:
    channel.settimeout(timeout)
    seen = ""
    deadline = time.monotonic() + timeout
    while text not in seen.replace("\r\n", "\n") and time.monotonic() < deadline:
        seen += channel.recv(4096).decode()
    assert text in seen.replace("\r\n", "\n"), seen
    return seen


@pytest.mark.parametrize(
    "command", [["--plan"], ["--apply", "--auto-approve"]], ids=["plan", "apply"]
)
def test_a_refused_password_is_sent_once_per_node_per_run(
    lab_sim: SimulatedCluster, lab_repo: Path, command: list[str]
) -> None:
    wrong = {"CMS_LAB_PASSWORD": "not-the-password"}
    result = reconcile(*command, "--cluster", "lab", repo=lab_repo, env=wrong)
    assert result.returncode == 1
    refusals = {node: auth_refusals(lab_sim, node) for node in ("cms1", "cms2", "cms3")}
    assert max(refusals.values()) == 1, refusals  # tried, and never twice on a node
    no_traceback(result)


def test_the_simulator_cli_serves_an_expired_password_fault(lab_repo: Path, tmp_path: Path) -> None:
    process = cli.start(
        [
            "sim",
            "--cluster",
            "lab",
            "--repo",
            str(lab_repo),
            "--fault",
            "cms2:password-expired:admin",
            "--state-file",
            str(tmp_path / "state.json"),
        ],
        env={**os.environ, **LAB_ENV},
    )
    with until_stopped(process):
        status = reconcile("status", "--cluster", "lab", repo=lab_repo)
    assert status.returncode == 1
    assert EXPIRED in flat(status.stdout + status.stderr)
    no_traceback(status)
