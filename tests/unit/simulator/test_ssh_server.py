"""NodeServer over real SSH: auth, shell (with and without pty), exec, faults, lifecycle."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from reconciler.simulator.backend import Disconnect, SessionIO
from reconciler.simulator.ssh_server import NodeServer, generate_ed25519_key

PROMPT = "cms1> "
USER = "admin"
PASSWORD = "s3cret"
TIMEOUT = 5.0


class FakeHandler:
    """Echo-like device: just enough behaviour to exercise the transport."""

    def __init__(self, root: Path, allowed_key: paramiko.PKey) -> None:
        self.root = root
        self.allowed_key = allowed_key
        self.up = True
        self.connects: list[tuple[str, tuple[str, int]]] = []
        self.sftp_ops: list[tuple[str, str, str]] = []
        self.commands: list[str] = []
        self._lock = threading.Lock()

    def prompt(self) -> str:
        return PROMPT

    def authenticate_password(self, username: str, password: str) -> bool:
        return username == USER and password == PASSWORD

    def authenticate_key(self, username: str, key: paramiko.PKey) -> bool:
        return username == USER and key == self.allowed_key

    def on_connect(self, username: str, peer: tuple[str, int]) -> None:
        with self._lock:
            self.connects.append((username, peer))

    def run_command(self, line: str, io: SessionIO, username: str) -> None:
        with self._lock:
            self.commands.append(line)
        if line == "hello":
            io.write("hi\n")
        elif line == "ask":
            io.write("Are you sure? (Y/n)\n")
            if io.read_line(timeout=TIMEOUT) == "Y":
                io.write("yes\n")
        elif line == "wait":
            try:
                io.read_line(timeout=0.2)
            except TimeoutError:
                io.write("timeout\n")
        elif line == "boom":
            io.write("going down\n")
            raise Disconnect(line)
        elif line == "crash":
            raise RuntimeError("handler bug")
        else:
            io.write(f"unknown: {line}\n")

    def sftp_root(self) -> Path:
        return self.root

    def on_sftp(self, operation: str, path: str, username: str) -> None:
        with self._lock:
            self.sftp_ops.append((operation, path, username))

    def sftp_refused(self, operation: str, path: str) -> bool:
        return False

    def accepting(self) -> bool:
        return self.up


def connect(
    server: NodeServer,
    host_key: paramiko.PKey,
    *,
    password: str | None = PASSWORD,
    pkey: paramiko.PKey | None = None,
) -> paramiko.SSHClient:
    """A real client that pins the host key (RejectPolicy) and never looks elsewhere."""
    client = paramiko.SSHClient()
    client.get_host_keys().add(f"[127.0.0.1]:{server.port}", host_key.get_name(), host_key)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        "127.0.0.1",
        server.port,
        username=USER,
        password=None if pkey is not None else password,
        pkey=pkey,
        allow_agent=False,
        look_for_keys=False,
        timeout=TIMEOUT,
        banner_timeout=TIMEOUT,
        auth_timeout=TIMEOUT,
        channel_timeout=TIMEOUT,
    )
    return client


def read_until(chan: paramiko.Channel, marker: str, timeout: float = TIMEOUT) -> str:
    """Read until ``marker`` has arrived (count=1 past what was there); fail on timeout/EOF."""
    buf = b""
    deadline = time.monotonic() + timeout
    while marker.encode() not in buf:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out waiting for {marker!r}; got {buf!r}")
        chan.settimeout(remaining)
        try:
            data = chan.recv(4096)
        except TimeoutError:
            continue
        if not data:
            raise AssertionError(f"EOF waiting for {marker!r}; got {buf!r}")
        buf += data
    return buf.decode()


def read_to_eof(chan: paramiko.Channel, timeout: float = TIMEOUT) -> bytes:
    buf = b""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no EOF within {timeout} s; got {buf!r}")
        chan.settimeout(remaining)
        try:
            data = chan.recv(4096)
        except TimeoutError:
            continue
        except (EOFError, OSError, paramiko.SSHException):
            return buf
        if not data:
            return buf
        buf += data


def wait_for(condition: object, timeout: float = TIMEOUT) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def sim_threads(port: int) -> list[threading.Thread]:
    """The server's own threads still alive (all are named ``sim-<port>-...``)."""
    return [t for t in threading.enumerate() if t.name.startswith(f"sim-{port}-") and t.is_alive()]


@pytest.fixture(scope="module")
def host_key() -> paramiko.PKey:
    return generate_ed25519_key()


@pytest.fixture(scope="module")
def client_key() -> paramiko.PKey:
    return generate_ed25519_key()


@pytest.fixture
def handler(tmp_path: Path, client_key: paramiko.PKey) -> FakeHandler:
    root = tmp_path / "files"
    root.mkdir()
    return FakeHandler(root, client_key)


@pytest.fixture
def server(handler: FakeHandler, host_key: paramiko.PKey) -> Iterator[NodeServer]:
    node = NodeServer(handler, "127.0.0.1", 0, host_key)
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def client(server: NodeServer, host_key: paramiko.PKey) -> Iterator[paramiko.SSHClient]:
    ssh = connect(server, host_key)
    try:
        yield ssh
    finally:
        ssh.close()


def exec_output(client: paramiko.SSHClient, command: str, stdin_text: str = "") -> str:
    stdin, stdout, _ = client.exec_command(command, timeout=TIMEOUT)
    if stdin_text:
        stdin.write(stdin_text)
        stdin.flush()
    stdin.channel.shutdown_write()
    out = stdout.read().decode()
    assert stdout.channel.recv_exit_status() == 0
    return out


def test_port_zero_reports_real_port(server: NodeServer) -> None:
    assert server.port > 0
    assert server.address == ("127.0.0.1", server.port)


# -- authentication -------------------------------------------------------------


def test_password_auth_ok_and_logged(
    server: NodeServer, host_key: paramiko.PKey, handler: FakeHandler
) -> None:
    ssh = connect(server, host_key)
    try:
        assert exec_output(ssh, "hello") == "hi\n"
        local = ssh.get_transport()
        assert local is not None
        port = local.sock.getsockname()[1]  # type: ignore[union-attr]
    finally:
        ssh.close()
    assert handler.connects == [(USER, ("127.0.0.1", port))]


def test_wrong_password_refused(server: NodeServer, host_key: paramiko.PKey) -> None:
    with pytest.raises(paramiko.AuthenticationException):
        connect(server, host_key, password="wrong")


def test_publickey_auth_ok(
    server: NodeServer, host_key: paramiko.PKey, client_key: paramiko.PKey
) -> None:
    ssh = connect(server, host_key, pkey=client_key)
    try:
        assert exec_output(ssh, "hello") == "hi\n"
    finally:
        ssh.close()


def test_publickey_auth_other_key_refused(server: NodeServer, host_key: paramiko.PKey) -> None:
    with pytest.raises(paramiko.AuthenticationException):
        connect(server, host_key, pkey=generate_ed25519_key())


def test_unknown_host_key_rejected_by_client(server: NodeServer) -> None:
    # Sanity check of the test client itself: it really pins the key.
    with pytest.raises(paramiko.SSHException):
        connect(server, generate_ed25519_key())


# -- exec -------------------------------------------------------------------------


def test_exec_hello(client: paramiko.SSHClient) -> None:
    assert exec_output(client, "hello") == "hi\n"


def test_exec_confirmation_reads_stdin(client: paramiko.SSHClient) -> None:
    assert exec_output(client, "ask", "Y\n") == "Are you sure? (Y/n)\nyes\n"
    assert exec_output(client, "ask", "y\n") == "Are you sure? (Y/n)\n"


def test_exec_confirmation_without_trailing_newline(client: paramiko.SSHClient) -> None:
    assert exec_output(client, "ask", "Y") == "Are you sure? (Y/n)\nyes\n"


def test_several_exec_channels_on_one_transport(
    client: paramiko.SSHClient, handler: FakeHandler
) -> None:
    for _ in range(3):
        assert exec_output(client, "hello") == "hi\n"
    assert handler.commands == ["hello"] * 3
    assert len(handler.connects) == 1


def test_exec_with_pty_uses_crlf(client: paramiko.SSHClient) -> None:
    _, stdout, _ = client.exec_command("hello", timeout=TIMEOUT, get_pty=True)
    assert stdout.read() == b"hi\r\n"


def test_exec_handler_error_reported_and_status_zero(client: paramiko.SSHClient) -> None:
    assert exec_output(client, "crash") == "ERROR: internal simulator error\n"


# -- shell ------------------------------------------------------------------------


def test_shell_with_pty_echoes_and_uses_crlf(client: paramiko.SSHClient) -> None:
    chan = client.invoke_shell()
    assert read_until(chan, PROMPT) == PROMPT
    chan.sendall(b"hello\r")
    assert read_until(chan, PROMPT) == "hello\r\nhi\r\n" + PROMPT


def test_shell_with_pty_backspace(client: paramiko.SSHClient, handler: FakeHandler) -> None:
    chan = client.invoke_shell()
    read_until(chan, PROMPT)
    chan.sendall(b"helx\x7flo\r")
    out = read_until(chan, PROMPT)
    assert out == "helx\b \blo\r\nhi\r\n" + PROMPT
    assert handler.commands == ["hello"]


def test_shell_without_pty_no_echo(client: paramiko.SSHClient) -> None:
    transport = client.get_transport()
    assert transport is not None
    chan = transport.open_session(timeout=TIMEOUT)
    chan.invoke_shell()
    assert read_until(chan, PROMPT) == PROMPT
    chan.sendall(b"hello\n")
    assert read_until(chan, PROMPT) == "hi\n" + PROMPT


def test_shell_crlf_is_one_line_and_empty_lines_reprompt(client: paramiko.SSHClient) -> None:
    transport = client.get_transport()
    assert transport is not None
    chan = transport.open_session(timeout=TIMEOUT)
    chan.invoke_shell()
    read_until(chan, PROMPT)
    chan.sendall(b"hello\r\n\r\n  \nhello\r")
    out = read_until(chan, "hi\n" + PROMPT + PROMPT + PROMPT + "hi\n" + PROMPT)
    assert out == "hi\n" + PROMPT + PROMPT + PROMPT + "hi\n" + PROMPT


def test_shell_confirmation(client: paramiko.SSHClient) -> None:
    chan = client.invoke_shell()
    read_until(chan, PROMPT)
    chan.sendall(b"ask\r")
    assert read_until(chan, "(Y/n)\r\n") == "ask\r\nAre you sure? (Y/n)\r\n"
    chan.sendall(b"Y\r")
    assert read_until(chan, PROMPT) == "Y\r\nyes\r\n" + PROMPT
    chan.sendall(b"ask\r")
    read_until(chan, "(Y/n)\r\n")
    chan.sendall(b"y\r")
    assert read_until(chan, PROMPT) == "y\r\n" + PROMPT


def test_shell_read_line_timeout(client: paramiko.SSHClient) -> None:
    chan = client.invoke_shell()
    read_until(chan, PROMPT)
    chan.sendall(b"wait\r")
    assert read_until(chan, PROMPT) == "wait\r\ntimeout\r\n" + PROMPT


def test_shell_handler_error_is_reported_and_session_continues(
    client: paramiko.SSHClient, caplog: pytest.LogCaptureFixture
) -> None:
    chan = client.invoke_shell()
    read_until(chan, PROMPT)
    with caplog.at_level(logging.ERROR, logger="reconciler.simulator.session"):
        chan.sendall(b"crash\r")
        assert read_until(chan, PROMPT) == "crash\r\nERROR: internal simulator error\r\n" + PROMPT
    assert any("handler bug" in (r.exc_text or "") or r.exc_info for r in caplog.records)
    chan.sendall(b"hello\r")
    assert read_until(chan, PROMPT).endswith("hi\r\n" + PROMPT)


@pytest.mark.parametrize("word", ["exit", "quit", "logout"])
def test_shell_exit_words_close_channel(client: paramiko.SSHClient, word: str) -> None:
    chan = client.invoke_shell()
    read_until(chan, PROMPT)
    chan.sendall(word.encode() + b"\r")
    assert read_to_eof(chan) == word.encode() + b"\r\n"
    assert chan.recv_exit_status() == 0
    transport = client.get_transport()
    assert transport is not None
    assert transport.is_active()  # only the channel ends, like OpenSSH


def test_shell_boom_drops_connection(client: paramiko.SSHClient) -> None:
    chan = client.invoke_shell()
    read_until(chan, PROMPT)
    chan.sendall(b"boom\r")
    out = read_to_eof(chan)
    assert b"going down" in out
    assert not out.endswith(PROMPT.encode())
    transport = client.get_transport()
    assert transport is not None
    wait_for(lambda: not transport.is_active())


def test_exec_boom_drops_connection(client: paramiko.SSHClient) -> None:
    _, stdout, _ = client.exec_command("boom", timeout=TIMEOUT)
    stdout.read()
    transport = client.get_transport()
    assert transport is not None
    wait_for(lambda: not transport.is_active())
    with pytest.raises(paramiko.SSHException):
        client.exec_command("hello", timeout=TIMEOUT)


# -- shell + SFTP on one connection --------------------------------------------------


def test_shell_and_sftp_share_transport(
    client: paramiko.SSHClient, handler: FakeHandler, tmp_path: Path
) -> None:
    chan = client.invoke_shell()
    read_until(chan, PROMPT)
    sftp = client.open_sftp()
    try:
        local = tmp_path / "cms.lic"
        local.write_bytes(b"license")
        sftp.put(str(local), "/cms.lic")
        chan.sendall(b"hello\r")
        assert read_until(chan, PROMPT).endswith("hi\r\n" + PROMPT)
        assert sftp.listdir("/") == ["cms.lic"]
        assert (handler.root / "cms.lic").read_bytes() == b"license"
    finally:
        sftp.close()
    chan.sendall(b"hello\r")
    assert read_until(chan, PROMPT).endswith("hi\r\n" + PROMPT)
    assert ("put", "cms.lic", USER) in handler.sftp_ops


# -- lifecycle and faults --------------------------------------------------------------


def tcp_connect(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT):
        pass


def test_set_down_refuses_and_drops_then_comes_back(
    server: NodeServer, host_key: paramiko.PKey, client: paramiko.SSHClient
) -> None:
    port = server.port
    chan = client.invoke_shell()
    read_until(chan, PROMPT)

    server.set_down(True)
    read_to_eof(chan)
    with pytest.raises(ConnectionRefusedError):
        tcp_connect(port)

    server.set_down(False)
    assert server.port == port
    ssh = connect(server, host_key)
    try:
        assert exec_output(ssh, "hello") == "hi\n"
    finally:
        ssh.close()


def test_stop_closes_open_connections_and_threads(
    handler: FakeHandler, host_key: paramiko.PKey
) -> None:
    node = NodeServer(handler, "127.0.0.1", 0, host_key)
    node.start()
    ssh = connect(node, host_key)
    try:
        chan = ssh.invoke_shell()
        read_until(chan, PROMPT)
        node.stop()
        read_to_eof(chan)
        transport = ssh.get_transport()
        assert transport is not None
        wait_for(lambda: not transport.is_active())
        with pytest.raises(ConnectionRefusedError):
            tcp_connect(node.port)
        wait_for(lambda: not sim_threads(node.port))
    finally:
        ssh.close()
        node.stop()


def test_not_accepting_hangs_up_before_banner(
    server: NodeServer, host_key: paramiko.PKey, handler: FakeHandler
) -> None:
    handler.up = False
    with pytest.raises((paramiko.SSHException, EOFError, OSError)):
        connect(server, host_key)
    handler.up = True
    connect(server, host_key).close()


def test_abrupt_client_drop_leaves_no_threads_or_errors(
    server: NodeServer, host_key: paramiko.PKey, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ssh = connect(server, host_key)
    chan = ssh.invoke_shell()
    read_until(chan, PROMPT)
    transport = ssh.get_transport()
    assert transport is not None
    transport.sock.close()  # no SSH goodbye, no channel close
    tcp_connect(server.port)  # a bare probe: no SSH banner at all
    wait_for(lambda: [t.name for t in sim_threads(server.port)] == [f"sim-{server.port}-accept"])
    ssh.close()
    noisy = [
        r
        for r in caplog.records
        if r.name.startswith("reconciler.simulator") and r.levelno >= logging.WARNING
    ]
    assert noisy == []
