"""A refused login is never sent again on the same transport (MMP accounts lock)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from reconciler.errors import AuthenticationFailed
from reconciler.mmp.transport import Credentials
from reconciler.simulator.ssh_server import NodeServer, generate_ed25519_key
from tests.unit.mmp.test_transport_handshake import Handler, pin, transport


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[NodeServer, Handler, paramiko.PKey]]:
    key = generate_ed25519_key()
    handler = Handler(tmp_path)
    server = NodeServer(handler, "127.0.0.1", 0, key)
    server.start()
    try:
        yield server, handler, key
    finally:
        server.stop()


def test_a_refused_password_is_not_sent_again(
    served: tuple[NodeServer, Handler, paramiko.PKey],
) -> None:
    server, handler, key = served
    wrong = Credentials(password="wrong", password_env="T_PASSWORD")
    ssh = transport(server.port, pin(server.port, key), wrong)
    with pytest.raises(AuthenticationFailed) as first:
        ssh.connect()
    assert ssh.login_refused
    with pytest.raises(AuthenticationFailed) as again:  # every later call: the same refusal
        ssh.read_file("anything")
    assert again.value is first.value
    assert handler.attempts == ["password"]  # one login attempt in all
