"""known_hosts markers and broken lines, stalled SSH peers and a wrong password: the real CLI.

Addresses come from the copied repo's clusters/lab.yaml (wherever the fixtures put the lab);
the stalled peers listen on 127.0.0.1 port 0 and stop by themselves.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import RunningSim, reconcile
from tests.support.stalled_ssh import OPENSSH_BANNER, StalledSSHServer

pytestmark = pytest.mark.e2e


def _cluster(repo: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((repo / "clusters" / "lab.yaml").read_text())
    return document


def _addresses(repo: Path) -> list[str]:
    return [node["address"] for node in _cluster(repo)["nodes"]]


def _master_pin(repo: Path) -> tuple[int, str]:
    """The line number and ``key-type base64`` of the master's pin in clusters/known_hosts."""
    cluster = _cluster(repo)
    master = next(node for node in cluster["nodes"] if node["address"] == cluster["master"])
    name = f"[{master['address']}]:{master['ssh_port']}"
    lines = (repo / "clusters" / "known_hosts").read_text().splitlines()
    for number, line in enumerate(lines, start=1):
        if line.startswith(f"{name} "):
            return number, line.split(" ", 1)[1]
    raise AssertionError(f"no pin for {name}")


def _append_known_hosts(repo: Path, line: str) -> int:
    """Append ``line``; returns its line number."""
    path = repo / "clusters" / "known_hosts"
    text = path.read_text()
    if not text.endswith("\n"):
        text += "\n"
    path.write_text(text + line + "\n")
    return len((text + line).splitlines())


def _no_traceback(*results: Any) -> None:
    for result in results:
        assert "Traceback" not in result.stderr + result.stdout
        assert "Aborted" not in result.stderr


def _nobody_contacted(sim: RunningSim, repo: Path) -> None:
    for address in _addresses(repo):
        assert sim.log(address, "connect") == []
        assert sim.log(address, "command") == []


# --- @revoked -----------------------------------------------------------------------------


@pytest.mark.reliability(
    section="hostile-input",
    case="a revoked host key is refused, naming its known_hosts line",
)
def test_revoked_master_key_is_refused_with_its_line(
    running_lab: RunningSim, lab_repo: Path
) -> None:
    pin_line, key = _master_pin(lab_repo)
    revoked_line = _append_known_hosts(lab_repo, f"@revoked * {key}")
    master = _cluster(lab_repo)["master"]

    validate = reconcile("validate", "--cluster", "lab", repo=lab_repo)
    assert validate.returncode == 1, validate.stdout
    assert f"line {pin_line} pins SHA256:" in validate.stdout
    assert f"which line {revoked_line} revokes" in validate.stdout

    plan = reconcile("--plan", "--cluster", "lab", repo=lab_repo)
    assert plan.returncode == 1, plan.stdout + plan.stderr
    assert plan.stderr.startswith("error: ")
    assert "is @revoked" in plan.stderr
    assert f"which line {revoked_line} revokes" in plan.stderr

    # status reads only the YAML first, so the node itself is refused at connect time
    status = reconcile("status", "--cluster", "lab", repo=lab_repo)
    assert status.returncode == 1
    assert "host key REVOKED" in status.stdout
    assert f"clusters/known_hosts line {revoked_line} marks @revoked" in status.stdout
    assert running_lab.log(master, "connect") == []  # refused before authentication
    assert running_lab.log(master, "command") == []
    others = [address for address in _addresses(lab_repo) if address != master]
    assert all(running_lab.log(address, "connect") for address in others)
    _no_traceback(validate, plan, status)


# --- lines that are not usable pins -------------------------------------------------------


@pytest.mark.reliability(
    section="hostile-input",
    case="a malformed known_hosts line is refused and no node is contacted",
)
@pytest.mark.parametrize(
    ("bad_line", "expected"),
    [
        (
            "{name} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILqCy74NJ1G4Ueaz!!",
            "the ssh-ed25519 key is not valid base64",
        ),
        ("@cert-authority * {key}", "@cert-authority lines are not supported"),
        ("{name} ssh-foo {key_data}", "key type 'ssh-foo' is unknown"),
    ],
    ids=["bad-base64", "cert-authority", "unknown-type"],
)
def test_unusable_known_hosts_line_is_named_and_nothing_is_contacted(
    running_lab: RunningSim, lab_repo: Path, bad_line: str, expected: str
) -> None:
    _, key = _master_pin(lab_repo)
    cluster = _cluster(lab_repo)
    name = f"[{cluster['master']}]:{cluster['nodes'][0]['ssh_port']}"
    number = _append_known_hosts(
        lab_repo, bad_line.format(name=name, key=key, key_data=key.split()[1])
    )
    where = f"clusters/known_hosts line {number}: {expected}"

    validate = reconcile("validate", "--cluster", "lab", repo=lab_repo)
    assert validate.returncode == 1
    assert f"error   clusters/lab.yaml: ssh.known_hosts: {where}" in validate.stdout
    assert "FAILED  cluster lab" in validate.stdout

    plan = reconcile("--plan", "--cluster", "lab", repo=lab_repo)
    assert plan.returncode == 1
    assert plan.stderr.startswith("error: ")
    assert where in plan.stderr

    status = reconcile("status", "--cluster", "lab", repo=lab_repo)
    assert status.returncode == 1
    assert status.stderr.startswith("error: cluster lab: ssh.known_hosts: ")
    assert where in status.stderr

    _nobody_contacted(running_lab, lab_repo)
    _no_traceback(validate, plan, status)


# --- a peer that sends the SSH banner and then stalls or hangs up -------------------------


@pytest.fixture
def stalled_peers(request: pytest.FixtureRequest) -> Iterator[list[StalledSSHServer]]:
    close: bool = request.param
    servers = [StalledSSHServer(OPENSSH_BANNER, close=close, lifetime=60) for _ in range(3)]
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


def _point_nodes_at(repo: Path, servers: list[StalledSSHServer], connect: str) -> None:
    path = repo / "clusters" / "lab.yaml"
    document = _cluster(repo)
    for node, server in zip(document["nodes"], servers, strict=True):
        node["ssh_host"], node["ssh_port"] = server.host, server.port
    document.setdefault("timeouts", {})["connect"] = connect
    path.write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.mark.parametrize(
    ("stalled_peers", "expected"),
    [
        (False, "no SSH handshake from 127.0.0.1:{port} within 2 s"),
        (True, "127.0.0.1:{port} closed the connection during the SSH handshake"),
    ],
    ids=["stalls", "closes"],
    indirect=["stalled_peers"],
)
def test_a_peer_without_a_handshake_fails_fast_and_cleanly(
    lab_repo: Path, stalled_peers: list[StalledSSHServer], expected: str
) -> None:
    _point_nodes_at(lab_repo, stalled_peers, "2s")
    started = time.monotonic()
    plan = reconcile("--plan", "--cluster", "lab", repo=lab_repo, timeout=60)
    elapsed = time.monotonic() - started
    assert plan.returncode == 1, plan.stdout + plan.stderr
    assert elapsed < 10, elapsed  # the three nodes are read in parallel, each within 2 s
    for server in stalled_peers:
        assert server.accepted >= 1
        assert expected.format(port=server.port) in plan.stdout + plan.stderr
    assert "No existing session" not in plan.stdout + plan.stderr
    assert "paramiko" not in plan.stderr.lower()
    assert "Exception" not in plan.stderr
    _no_traceback(plan)


# --- a wrong password ---------------------------------------------------------------------


def test_wrong_password_names_the_user_and_the_variable(
    running_lab: RunningSim, lab_repo: Path
) -> None:
    plan = reconcile("--plan", "--cluster", "lab", repo=lab_repo, env={"CMS_LAB_PASSWORD": "no"})
    assert plan.returncode == 1
    output = plan.stdout + plan.stderr
    assert "authentication failed for user 'admin'" in output
    assert "the node refused the password in $CMS_LAB_PASSWORD" in output
    _no_traceback(plan)
