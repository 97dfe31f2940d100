"""SSHTransport.connect over real sockets: stalled and closing peers, host keys, login.

Every server here listens on 127.0.0.1 port 0 and stops by itself within a few seconds.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from reconciler.connect import credentials_for, timeouts_for
from reconciler.desired.models import ClusterSpec
from reconciler.errors import HostKeyRejected, TransportError
from reconciler.mmp.transport import (
    Credentials,
    Endpoint,
    KnownHosts,
    SSHTransport,
    TransportTimeouts,
)
from reconciler.simulator.backend import SessionIO
from reconciler.simulator.ssh_server import NodeServer, generate_ed25519_key
from tests.support.stalled_ssh import OPENSSH_BANNER, StalledSSHServer
from tests.unit.desired.labrepo import good_doc

USER = "admin"
PASSWORD = "s3cret"
SHORT = TransportTimeouts(connect=1.0, command=5.0)


@pytest.fixture
def fake_server(request: pytest.FixtureRequest) -> Iterator[StalledSSHServer]:
    greeting, close = request.param
    with StalledSSHServer(greeting, close=close, lifetime=10) as server:
        yield server


class Handler:
    """Just enough of a node to log in to; records every login attempt."""

    def __init__(self, root: Path, client_key: paramiko.PKey | None = None) -> None:
        self.root = root
        self.client_key = client_key
        self.attempts: list[str] = []

    def prompt(self) -> str:
        return "cms1> "

    def authenticate_password(self, username: str, password: str) -> bool:
        self.attempts.append("password")
        return username == USER and password == PASSWORD

    def authenticate_key(self, username: str, key: paramiko.PKey) -> bool:
        self.attempts.append("key")
        return username == USER and key == self.client_key

    def on_connect(self, username: str, peer: tuple[str, int]) -> None:
        pass

    def run_command(self, line: str, io: SessionIO, username: str) -> None:
        io.write(f"{line}\n")

    def sftp_root(self) -> Path:
        return self.root

    def on_sftp(self, operation: str, path: str, username: str) -> None:
        pass

    def sftp_refused(self, operation: str, path: str) -> bool:
        return False

    def accepting(self) -> bool:
        return True


@pytest.fixture(scope="module")
def host_key() -> paramiko.PKey:
    return generate_ed25519_key()


@pytest.fixture
def node(tmp_path: Path, host_key: paramiko.PKey) -> Iterator[tuple[NodeServer, Handler]]:
    handler = Handler(tmp_path)
    server = NodeServer(handler, "127.0.0.1", 0, host_key)
    server.start()
    try:
        yield server, handler
    finally:
        server.stop()


def pin(port: int, key: paramiko.PKey, marker: str = "") -> str:
    return f"{marker} [127.0.0.1]:{port} {key.get_name()} {key.get_base64()}".strip()


def transport(
    port: int,
    known_hosts: str,
    credentials: Credentials | None = None,
    timeouts: TransportTimeouts = SHORT,
) -> SSHTransport:
    return SSHTransport(
        Endpoint(node="cms1", host="127.0.0.1", port=port, username=USER),
        credentials or Credentials(password=PASSWORD, password_env="T_PASSWORD"),
        KnownHosts.parse(known_hosts, "clusters/known_hosts"),
        timeouts,
    )


# --- a peer that is not (or stops being) an SSH server ------------------------------------


@pytest.mark.parametrize("fake_server", [(OPENSSH_BANNER, False), (b"", False)], indirect=True)
def test_no_handshake_within_the_connect_timeout(
    fake_server: StalledSSHServer, host_key: paramiko.PKey
) -> None:
    ssh = transport(fake_server.port, pin(fake_server.port, host_key))
    started = time.monotonic()
    with pytest.raises(TransportError) as raised:
        ssh.connect()
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 4, elapsed
    assert str(raised.value).startswith(
        f"cms1: no SSH handshake from 127.0.0.1:{fake_server.port} within 1 s"
    )
    ssh.close()


@pytest.mark.parametrize("fake_server", [(OPENSSH_BANNER, True), (b"", True)], indirect=True)
def test_peer_closing_during_the_handshake(
    fake_server: StalledSSHServer, host_key: paramiko.PKey
) -> None:
    ssh = transport(fake_server.port, pin(fake_server.port, host_key))
    with pytest.raises(TransportError) as raised:
        ssh.connect()
    assert str(raised.value) == (
        f"cms1: 127.0.0.1:{fake_server.port} closed the connection during the SSH handshake"
    )


def test_paramiko_log_lines_never_reach_stderr() -> None:
    # paramiko logs a failed handshake at ERROR from its own thread; unhandled, Python's
    # last-resort handler would print it under the transport's own message.
    script = (
        "import logging, reconciler.mmp.transport\n"
        "logging.getLogger('paramiko.transport').error('Exception (client): boom')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_nothing_listening() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    with pytest.raises(TransportError, match=rf"cannot connect to 127.0.0.1:{port}: connection"):
        transport(port, "").connect()


# --- host keys are judged before login ----------------------------------------------------


def test_pinned_key_and_password_log_in(
    node: tuple[NodeServer, Handler], host_key: paramiko.PKey
) -> None:
    server, handler = node
    ssh = transport(server.port, pin(server.port, host_key))
    try:
        ssh.open_shell()
        ssh.write("hello\n")
        deadline = time.monotonic() + 5
        output = ""
        while "hello" not in output and time.monotonic() < deadline:
            output += ssh.read(0.2) or ""
        assert "hello" in output
    finally:
        ssh.close()
    assert handler.attempts == ["password"]


def test_revoked_key_is_refused_before_login(
    node: tuple[NodeServer, Handler], host_key: paramiko.PKey
) -> None:
    server, handler = node
    known_hosts = f"{pin(server.port, host_key)}\n{pin(server.port, host_key, '@revoked')}\n"
    ssh = transport(server.port, known_hosts)
    with pytest.raises(HostKeyRejected) as raised:
        ssh.connect()
    message = str(raised.value)
    assert message.startswith(f"cms1: host key REVOKED: [127.0.0.1]:{server.port} offered")
    assert "clusters/known_hosts line 2 marks @revoked" in message
    assert handler.attempts == []  # no password was sent


def test_unpinned_key_is_refused_before_login(
    node: tuple[NodeServer, Handler], host_key: paramiko.PKey
) -> None:
    server, handler = node
    with pytest.raises(HostKeyRejected, match="unknown host key"):
        transport(server.port, "").connect()
    with pytest.raises(HostKeyRejected, match="host key CHANGED"):
        transport(server.port, pin(server.port, generate_ed25519_key())).connect()
    assert handler.attempts == []


# --- login --------------------------------------------------------------------------------


def test_wrong_password_names_user_and_variable(
    node: tuple[NodeServer, Handler], host_key: paramiko.PKey
) -> None:
    server, _ = node
    spec = ClusterSpec.model_validate(good_doc())
    credentials = credentials_for(spec, {"T_PASSWORD": "wrong"})
    with pytest.raises(TransportError) as raised:
        transport(server.port, pin(server.port, host_key), credentials).connect()
    message = str(raised.value)
    assert message.startswith("cms1: authentication failed for user 'admin'")
    assert "the node refused the password in $T_PASSWORD (check that variable)" in message
    assert "wrong" not in message


def test_key_file_login(
    tmp_path: Path, host_key: paramiko.PKey, node: tuple[NodeServer, Handler]
) -> None:
    server, handler = node
    key_file = tmp_path / "id_ed25519"
    key_file.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    handler.client_key = paramiko.Ed25519Key(filename=str(key_file))
    credentials = Credentials(key_file=key_file, key_file_env="T_KEY")
    ssh = transport(server.port, pin(server.port, host_key), credentials)
    ssh.connect()
    ssh.close()
    assert handler.attempts == ["key"]
    handler.client_key = generate_ed25519_key()
    with pytest.raises(TransportError, match=r"refused the key .*id_ed25519 named by \$T_KEY"):
        transport(server.port, pin(server.port, host_key), credentials).connect()


def test_key_file_and_password_together_log_in_with_the_key(
    tmp_path: Path, host_key: paramiko.PKey, node: tuple[NodeServer, Handler]
) -> None:
    """Review finding: the password was handed to paramiko as a key passphrase (a str),
    which crashed with a TypeError traceback whenever both were set."""
    server, handler = node
    key_file = tmp_path / "id_ed25519"
    key_file.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    handler.client_key = paramiko.Ed25519Key(filename=str(key_file))
    credentials = Credentials(
        password="pw", password_env="T_PASSWORD", key_file=key_file, key_file_env="T_KEY"
    )
    ssh = transport(server.port, pin(server.port, host_key), credentials)
    ssh.connect()
    ssh.close()
    assert handler.attempts == ["key"]


@pytest.mark.parametrize("password", [None, "pw"])
def test_an_encrypted_key_file_is_refused_clearly(
    tmp_path: Path,
    host_key: paramiko.PKey,
    node: tuple[NodeServer, Handler],
    password: str | None,
) -> None:
    server, _ = node
    key_file = tmp_path / "id_ed25519"
    key_file.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    credentials = Credentials(
        password=password,
        password_env="T_PASSWORD" if password else None,
        key_file=key_file,
        key_file_env="T_KEY",
    )
    with pytest.raises(TransportError, match="is encrypted; give an unencrypted key"):
        transport(server.port, pin(server.port, host_key), credentials).connect()


# --- the cluster file's timeouts.connect ------------------------------------------------


def _spec(**timeouts: Any) -> ClusterSpec:
    document = good_doc()
    document["timeouts"].update(timeouts)
    return ClusterSpec.model_validate(document)


def test_connect_timeout_comes_from_the_cluster_file() -> None:
    assert _spec().timeouts.connect == timedelta(seconds=15)
    assert timeouts_for(_spec()).connect == 15.0
    assert timeouts_for(_spec(connect="2s")).connect == 2.0
    assert timeouts_for(_spec(connect=0.5)).connect == 0.5
    with pytest.raises(ValueError, match="must be longer than zero"):
        _spec(connect="0s")
