"""The reconciler's SSH transport against a real OpenSSH server, not only the paramiko simulator.

One ``sshd`` per module (tests/support/sshd.py) stands in for one simulated node: its
ForceCommand relays every shell, exec and SFTP session to the node's command engine, served
by this test process (``RelayServer``), so the state a test inspects is the one sshd's sessions
changed. Each test points the relay at its own fresh lab.
"""

from __future__ import annotations

import dataclasses
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.errors import HostKeyRejected, NotAnMMP
from reconciler.mmp.parsers.status import parse_cluster_status
from reconciler.mmp.session import MMPShell, SSHSession
from reconciler.mmp.transport import (
    Credentials,
    Endpoint,
    KnownHosts,
    SSHTransport,
    TransportTimeouts,
    scan_host_key,
)
from reconciler.simulator.lab import build_cluster, load_topology
from reconciler.simulator.relay_server import RelayServer
from reconciler.simulator.service import ClusterNodeBackend, SimulatedCluster
from tests.e2e.conftest import LAB_ENV, reconcile
from tests.support.lab import FAST, LabAddresses, make_lab
from tests.support.sshd import (
    OpenSSHServer,
    keygen,
    remove,
    short_directory,
    start_sshd,
)

pytestmark = pytest.mark.e2e

KEY_ENV = "CMS_INTEROP_KEY"
TIMEOUTS = TransportTimeouts(connect=10.0, command=10.0)


@dataclasses.dataclass
class Interop:
    server: OpenSSHServer
    relay: RelayServer

    def serve(self, cluster: SimulatedCluster, node: str) -> None:
        self.relay.handler = ClusterNodeBackend(cluster, cluster.node(node))


@pytest.fixture(scope="module")
def interop() -> Iterator[Interop]:
    """sshd and the relay it runs, for the whole module; a test says which node to serve."""
    directory = short_directory()
    relay = RelayServer(None, directory / "relay.sock").start()
    try:
        server = start_sshd(directory, relay.path)
        with server:
            yield Interop(server, relay)
    finally:
        relay.stop()
        remove(directory)


@pytest.fixture
def lab(tmp_path: Path, interop: Interop) -> Iterator[SimulatedCluster]:
    """A fresh lab model (no paramiko servers needed); sshd serves its cms2."""
    cluster = make_lab(tmp_path / "sim")
    interop.serve(cluster, "cms2")
    yield cluster
    interop.relay.handler = None


def known_hosts(*lines: str, origin: str = "known_hosts") -> KnownHosts:
    return KnownHosts.parse("\n".join(lines) + "\n", origin)


def session(server: OpenSSHServer, pins: KnownHosts, node: str = "cms2") -> SSHSession:
    endpoint = Endpoint(node=node, host=server.host, port=server.port, username=server.user)
    credentials = Credentials(key_file=server.client_key, key_file_env=KEY_ENV)
    transport = SSHTransport(endpoint, credentials, pins, TIMEOUTS)
    return SSHSession(transport, MMPShell(transport, node, command_timeout=TIMEOUTS.command))


def openssh_client(server: OpenSSHServer, known_hosts_file: Path, *args: str) -> list[str]:
    """OpenSSH's own client, with nothing from this machine's ~/.ssh."""
    return [
        "ssh",
        "-F",
        "/dev/null",
        "-i",
        str(server.client_key),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        f"UserKnownHostsFile={known_hosts_file}",
        "-p",
        str(server.port),
        f"{server.user}@{server.host}",
        *args,
    ]


def logins(server: OpenSSHServer) -> int:
    return server.log_text().count("Accepted publickey")


@pytest.mark.reliability(
    section="interop", case="OpenSSH exec: a command given to ssh runs once on the node"
)
def test_exec_runs_one_command(interop: Interop, lab: SimulatedCluster, tmp_path: Path) -> None:
    pins = tmp_path / "known_hosts"
    pins.write_text(interop.server.known_hosts_line() + "\n")
    result = subprocess.run(
        openssh_client(interop.server, pins, "database cluster status"),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr + interop.server.log_text()
    status = parse_cluster_status(result.stdout)
    assert status.state == "Enabled"
    assert [member.address for member in status.members if member.me] == [lab.node("cms2").address]
    assert "\r" not in result.stdout  # no pty: plain newlines, no echo, no prompt
    assert "cms2>" not in result.stdout
    assert lab.commands("cms2") == ["database cluster status"]


@pytest.mark.reliability(
    section="interop",
    case="OpenSSH shell: prompts, a (Y/n) confirmation answered Y, then the new status",
)
def test_shell_prompt_and_confirmation(interop: Interop, lab: SimulatedCluster) -> None:
    mmp = session(interop.server, known_hosts(interop.server.known_hosts_line()))
    try:
        before = parse_cluster_status(mmp.run("database cluster status").output)
        assert before.state == "Enabled"
        removed = mmp.run_confirmed("database cluster remove")
        assert removed.confirmed
        assert "Remove started..." in removed.output
        assert "(Y/n)" in removed.output
        deadline = time.monotonic() + 10
        while True:
            after = parse_cluster_status(mmp.run("database cluster status").output)
            if after.state == "Disabled" or time.monotonic() > deadline:
                break
            time.sleep(FAST.remove / 3)
    finally:
        mmp.close()
    assert after.state == "Disabled"
    assert after.last_command is not None
    assert after.last_command.command == "database cluster remove"
    assert after.last_command.result == "Success"
    nodes = {node["name"]: node for node in lab.snapshot()["nodes"]}
    assert nodes["cms2"]["status"] == "Disabled"
    assert nodes["cms1"]["status"] == "Enabled"
    # The pty is raw: typed input is echoed once, by the node's own terminal, not the kernel's.
    received = "".join(entry.text for entry in mmp.transcript if entry.direction == "received")
    assert received.count("database cluster remove\n") == 1


@pytest.mark.reliability(
    section="interop", case="OpenSSH SFTP: put, get and exclusive create in the node's files"
)
def test_sftp_through_the_session(interop: Interop, lab: SimulatedCluster, tmp_path: Path) -> None:
    files = lab.node("cms2").files
    mmp = session(interop.server, known_hosts(interop.server.known_hosts_line()))
    data = b"-----BEGIN CERTIFICATE-----\ninterop\n-----END CERTIFICATE-----\n" * 40
    try:
        assert mmp.read_file("interop.cer") is None
        mmp.write_file("interop.cer", data)
        assert (files / "interop.cer").read_bytes() == data  # landed in the node's directory
        assert mmp.read_file("interop.cer") == data
        assert mmp.file_size("interop.cer") == len(data)
        assert mmp.read_file("CA.cer") == (files / "CA.cer").read_bytes()  # the seed's file
        assert mmp.create_file("interop.lock", b"first") is True
        assert mmp.create_file("interop.lock", b"second") is False
        assert (files / "interop.lock").read_bytes() == b"first"
        local = tmp_path / "copy.cer"
        assert mmp.download("interop.cer", local) == len(data)
        assert local.read_bytes() == data
        mmp.remove_file("interop.lock")
        assert not (files / "interop.lock").exists()
        mmp.remove_file("interop.lock")  # already gone: not an error
    finally:
        mmp.close()


@pytest.mark.reliability(
    section="interop",
    case="OpenSSH host key pinned by a plain known_hosts line (either of sshd's two key types)",
)
@pytest.mark.parametrize("key_type", ["ed25519", "rsa"])
def test_plain_pin(interop: Interop, lab: SimulatedCluster, key_type: str) -> None:
    mmp = session(interop.server, known_hosts(interop.server.known_hosts_line(key_type)))
    try:
        assert parse_cluster_status(mmp.run("database cluster status").output).state == "Enabled"
    finally:
        mmp.close()


@pytest.mark.reliability(
    section="interop", case="OpenSSH host key pinned by a hashed line from ssh-keygen -H"
)
def test_hashed_pin(interop: Interop, lab: SimulatedCluster, tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    path.write_text(interop.server.known_hosts_line() + "\n")
    subprocess.run(["ssh-keygen", "-H", "-f", str(path)], check=True, capture_output=True)
    hashed = path.read_text()
    assert hashed.startswith("|1|")
    assert interop.server.host not in hashed
    mmp = session(interop.server, KnownHosts.parse(hashed, str(path)))
    try:
        assert parse_cluster_status(mmp.run("database cluster status").output).state == "Enabled"
    finally:
        mmp.close()


@pytest.mark.reliability(
    section="interop",
    case="OpenSSH host key changed: refused before login with the reconciler's error",
)
@pytest.mark.parametrize("hashed", [False, True], ids=["plain", "hashed"])
def test_changed_host_key_is_refused(
    interop: Interop, lab: SimulatedCluster, tmp_path: Path, hashed: bool
) -> None:
    old = keygen(tmp_path / "old_host_key", "ed25519", "the node's previous key")
    path = tmp_path / "known_hosts"
    path.write_text(f"{interop.server.name} {old}\n")
    if hashed:
        subprocess.run(["ssh-keygen", "-H", "-f", str(path)], check=True, capture_output=True)
    before = logins(interop.server)
    mmp = session(interop.server, KnownHosts.parse(path.read_text(), "known_hosts"))
    with pytest.raises(HostKeyRejected) as raised:
        mmp.run("database cluster status")
    mmp.close()
    message = str(raised.value)
    assert "host key CHANGED" in message
    offered = scan_host_key(
        Endpoint("cms2", interop.server.host, interop.server.port, interop.server.user)
    )
    assert offered.fingerprint in message
    assert logins(interop.server) == before  # no login attempted, no key offered
    assert lab.commands("cms2") == []


@pytest.mark.reliability(section="interop", case="OpenSSH host key scan agrees with ssh-keyscan")
def test_scan_agrees_with_ssh_keyscan(interop: Interop) -> None:
    server = interop.server
    result = subprocess.run(
        ["ssh-keyscan", "-t", "ed25519,rsa", "-p", str(server.port), server.host],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    scanned = {" ".join(line.split()[1:3]) for line in result.stdout.splitlines() if line.strip()}
    assert scanned == set(server.host_keys.values())
    for key_type in ("ed25519", "rsa"):
        pins = known_hosts(server.known_hosts_line(key_type))
        key = scan_host_key(Endpoint("cms2", server.host, server.port, server.user), pins)
        # Asked for the pinned key's type first, sshd offers that key.
        assert key.known_hosts_line(server.name) == server.known_hosts_line(key_type)


@pytest.mark.reliability(
    section="interop", case="reconcile status reads a node served by OpenSSH (shell and SFTP)"
)
def test_status_cli_through_sshd(
    interop: Interop, lab_repo: Path, lab_addresses: LabAddresses, tmp_path: Path
) -> None:
    """cms1 of the lab behind sshd, cms2 and cms3 on the paramiko simulator, one cluster."""
    server = interop.server
    topology = dataclasses.replace(load_topology(lab_repo, "lab"), username=server.user)
    cluster = build_cluster(
        lab_repo, topology, env=LAB_ENV, workdir=tmp_path / "sim", durations=FAST
    )
    cluster_file = lab_repo / "clusters" / "lab.yaml"
    cms1 = lab_addresses.cms1
    text = cluster_file.read_text()
    node_line = f"{{name: cms1, address: {cms1}, ssh_port: {lab_addresses.port}}}"
    assert node_line in text
    text = text.replace(
        node_line,
        f"{{name: cms1, address: {cms1}, ssh_host: {server.host}, ssh_port: {server.port}}}",
    ).replace("  username: admin\n", f"  username: {server.user}\n  key_file_env: {KEY_ENV}\n")
    cluster_file.write_text(text)
    pins = lab_repo / "clusters" / "known_hosts"
    pins.write_text(pins.read_text() + server.known_hosts_line() + "\n")
    log_before = len(server.log)
    with cluster:
        interop.serve(cluster, "cms1")
        try:
            result = reconcile(
                "status",
                "--cluster",
                "lab",
                repo=lab_repo,
                env={KEY_ENV: str(server.client_key)},
            )
        finally:
            interop.relay.handler = None
    assert result.returncode == 2, result.stdout + result.stderr  # the seed's certs expired
    assert "expired" in result.stdout
    assert cms1 in result.stdout
    # cms1 was read through sshd (shell and SFTP), not through the simulator's own server.
    assert "database cluster status" in cluster.commands("cms1")
    assert cluster.connections("cms1") == 1
    log = "".join(server.log[log_before:])
    assert log.count(f"Accepted publickey for {server.user}") == 1, log
    # One connection, two sessions: the shell (on a pty) and SFTP (sshd logs no more at VERBOSE).
    sessions = [line for line in log.splitlines() if "Starting session: forced-command" in line]
    assert len(sessions) == 2, log
    assert sum(" on pts/" in line for line in sessions) == 1, log
    # The simulator's own SFTP server logs what it serves: cms2 was read through it, cms1 not.
    sftp = {
        node["name"]: [entry for entry in node["log"] if entry["kind"] == "sftp"]
        for node in cluster.snapshot()["nodes"]
    }
    assert sftp["cms2"]
    assert sftp["cms1"] == []


@pytest.mark.reliability(
    section="interop",
    case="ssh_port pointed at a host's own OpenSSH: a shell prompt is not taken for an MMP",
)
def test_host_shell_is_not_an_mmp() -> None:
    directory = short_directory()
    try:
        with start_sshd(directory, None) as server:
            mmp = session(server, known_hosts(server.known_hosts_line()))
            try:
                with pytest.raises(NotAnMMP) as raised:
                    mmp.run("database cluster status")
            finally:
                mmp.close()
    finally:
        remove(directory)
    assert "this is not an MMP" in str(raised.value)
    assert "database cluster status" not in "".join(
        entry.text for entry in mmp.transcript if entry.direction == "sent"
    )
