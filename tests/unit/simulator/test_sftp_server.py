"""The flat SFTP area: path mapping, the interface directly, and a real client round trip."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest
from paramiko.sftp import SFTP_NO_SUCH_FILE, SFTP_OK, SFTP_PERMISSION_DENIED

from reconciler.simulator.sftp_server import ROOT, FlatSFTPHandle, FlatSFTPInterface, flat_name
from reconciler.simulator.ssh_server import NodeServer, generate_ed25519_key
from tests.unit.simulator.test_ssh_server import PROMPT, USER, FakeHandler, connect, read_until

# -- path mapping --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", ROOT),
        (".", ROOT),
        ("", ROOT),
        ("/.", ROOT),
        ("cms.lic", "cms.lic"),
        ("/cms.lic", "cms.lic"),
        ("./cms.lic", "cms.lic"),
        ("//cms.lic", "cms.lic"),
        ("..", None),
        ("../x", None),
        ("/../x", None),
        ("sub/x", None),
        ("/etc/passwd", None),
        ("x/..", None),
        ("a\\b", None),
        ("a\x00b", None),
    ],
)
def test_flat_name(path: str, expected: str | None) -> None:
    assert flat_name(path) == expected


# -- the interface without a network --------------------------------------------------


class Backend:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.ops: list[tuple[str, str, str]] = []
        self.fail = False

    def sftp_root(self) -> Path:
        return self.root

    def on_sftp(self, operation: str, path: str, username: str) -> None:
        self.ops.append((operation, path, username))
        if self.fail:
            raise RuntimeError("hook bug")

    def sftp_refused(self, operation: str, path: str) -> bool:
        return False


@pytest.fixture
def backend(tmp_path: Path) -> Backend:
    root = tmp_path / "area"
    root.mkdir()
    return Backend(root)


@pytest.fixture
def sftp_si(backend: Backend) -> FlatSFTPInterface:
    return FlatSFTPInterface(paramiko.ServerInterface(), backend, lambda: USER)


def write_file(si: FlatSFTPInterface, path: str, data: bytes) -> None:
    handle = si.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, paramiko.SFTPAttributes())
    assert isinstance(handle, FlatSFTPHandle)
    assert handle.write(0, data) == SFTP_OK
    handle.close()


def test_write_read_and_hooks(sftp_si: FlatSFTPInterface, backend: Backend) -> None:
    write_file(sftp_si, "/a.pem", b"PEM")
    assert (backend.root / "a.pem").read_bytes() == b"PEM"
    assert backend.ops == [("put", "a.pem", USER)]  # fires on close, not on open

    handle = sftp_si.open("a.pem", os.O_RDONLY, paramiko.SFTPAttributes())
    assert isinstance(handle, FlatSFTPHandle)
    assert handle.read(0, 100) == b"PEM"
    attrs = handle.stat()
    assert isinstance(attrs, paramiko.SFTPAttributes)
    assert attrs.st_size == 3
    handle.close()
    assert backend.ops[-1] == ("get", "a.pem", USER)


def test_append_and_truncate(sftp_si: FlatSFTPInterface, backend: Backend) -> None:
    write_file(sftp_si, "log.txt", b"one\n")
    handle = sftp_si.open("log.txt", os.O_WRONLY | os.O_APPEND, paramiko.SFTPAttributes())
    assert isinstance(handle, FlatSFTPHandle)
    handle.write(0, b"two\n")
    handle.close()
    assert (backend.root / "log.txt").read_bytes() == b"one\ntwo\n"
    write_file(sftp_si, "log.txt", b"x")
    assert (backend.root / "log.txt").read_bytes() == b"x"


def test_escapes_refused(sftp_si: FlatSFTPInterface, backend: Backend, tmp_path: Path) -> None:
    (tmp_path / "outside").write_bytes(b"secret")
    attrs = paramiko.SFTPAttributes()
    for path in ("../outside", "sub/x", "/etc/passwd", "..", "/"):
        assert sftp_si.open(path, os.O_WRONLY | os.O_CREAT, attrs) == SFTP_PERMISSION_DENIED
    for path in ("../outside", "sub/x", "/etc/passwd"):
        assert sftp_si.open(path, os.O_RDONLY, attrs) == SFTP_NO_SUCH_FILE
        assert sftp_si.stat(path) == SFTP_NO_SUCH_FILE
        assert sftp_si.remove(path) == SFTP_PERMISSION_DENIED
        assert sftp_si.list_folder(path) == SFTP_PERMISSION_DENIED
    assert sftp_si.rename("../outside", "stolen") == SFTP_PERMISSION_DENIED
    assert (tmp_path / "outside").read_bytes() == b"secret"
    assert list(backend.root.iterdir()) == []
    assert backend.ops == []


def test_directories_and_symlinks_are_not_files(
    sftp_si: FlatSFTPInterface, backend: Backend, tmp_path: Path
) -> None:
    (backend.root / "sub").mkdir()
    (tmp_path / "outside").write_bytes(b"secret")
    (backend.root / "link").symlink_to(tmp_path / "outside")
    write_file(sftp_si, "real", b"1")
    listing = sftp_si.list_folder("/")
    assert isinstance(listing, list)
    assert [a.filename for a in listing] == ["real"]
    attrs = paramiko.SFTPAttributes()
    assert sftp_si.open("link", os.O_RDONLY, attrs) == SFTP_PERMISSION_DENIED
    assert sftp_si.open("link", os.O_WRONLY | os.O_TRUNC, attrs) == SFTP_PERMISSION_DENIED
    assert sftp_si.open("sub", os.O_RDONLY, attrs) == SFTP_PERMISSION_DENIED
    assert sftp_si.stat("link") == SFTP_NO_SUCH_FILE
    assert (tmp_path / "outside").read_bytes() == b"secret"


def test_mkdir_rmdir_symlink_refused_chattr_noop(
    sftp_si: FlatSFTPInterface, backend: Backend
) -> None:
    attrs = paramiko.SFTPAttributes()
    assert sftp_si.mkdir("/new", attrs) == SFTP_PERMISSION_DENIED
    assert sftp_si.rmdir("/new") == SFTP_PERMISSION_DENIED
    assert sftp_si.symlink("/etc/passwd", "p") == SFTP_PERMISSION_DENIED
    write_file(sftp_si, "f", b"1")
    assert sftp_si.chattr("/f", attrs) == SFTP_OK
    assert sftp_si.chattr("/missing", attrs) == SFTP_NO_SUCH_FILE
    assert sftp_si.chattr("../f", attrs) == SFTP_PERMISSION_DENIED


def test_rename_overwrites(sftp_si: FlatSFTPInterface, backend: Backend) -> None:
    write_file(sftp_si, "new.pem", b"new")
    write_file(sftp_si, "cur.pem", b"old")
    assert sftp_si.rename("/new.pem", "cur.pem") == SFTP_OK
    assert (backend.root / "cur.pem").read_bytes() == b"new"
    assert not (backend.root / "new.pem").exists()
    assert backend.ops[-1] == ("rename", "new.pem -> cur.pem", USER)
    assert sftp_si.posix_rename("missing", "x") == SFTP_NO_SUCH_FILE


def test_canonicalize(sftp_si: FlatSFTPInterface) -> None:
    assert sftp_si.canonicalize(".") == "/"
    assert sftp_si.canonicalize("cms.lic") == "/cms.lic"
    assert sftp_si.canonicalize("../../etc/passwd") == "/etc/passwd"


def test_hook_exception_does_not_fail_operation(
    sftp_si: FlatSFTPInterface, backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    backend.fail = True
    write_file(sftp_si, "f", b"1")
    assert sftp_si.remove("f") == SFTP_OK
    assert not (backend.root / "f").exists()
    assert "hook failed" in caplog.text


# -- over real SSH ------------------------------------------------------------------


@pytest.fixture(scope="module")
def host_key() -> paramiko.PKey:
    return generate_ed25519_key()


@pytest.fixture
def handler(tmp_path: Path) -> FakeHandler:
    root = tmp_path / "files"
    root.mkdir()
    return FakeHandler(root, generate_ed25519_key())


@pytest.fixture
def ssh(handler: FakeHandler, host_key: paramiko.PKey) -> Iterator[paramiko.SSHClient]:
    node = NodeServer(handler, "127.0.0.1", 0, host_key)
    node.start()
    client = connect(node, host_key)
    try:
        yield client
    finally:
        client.close()
        node.stop()


@pytest.fixture
def sftp(ssh: paramiko.SSHClient) -> Iterator[paramiko.SFTPClient]:
    client = ssh.open_sftp()
    client.get_channel().settimeout(5.0)  # type: ignore[union-attr]
    try:
        yield client
    finally:
        client.close()


def test_round_trip(sftp: paramiko.SFTPClient, handler: FakeHandler, tmp_path: Path) -> None:
    local = tmp_path / "up.pem"
    local.write_bytes(b"-----BEGIN CERTIFICATE-----\n")
    sftp.put(str(local), "/dbserver.pem")
    assert (handler.root / "dbserver.pem").read_bytes() == local.read_bytes()

    assert sftp.listdir("/") == ["dbserver.pem"]
    assert sftp.listdir(".") == ["dbserver.pem"]
    [attrs] = sftp.listdir_attr("/")
    assert attrs.filename == "dbserver.pem"
    assert attrs.st_size == len(local.read_bytes())
    assert attrs.st_mode is not None
    assert stat.S_ISREG(attrs.st_mode)
    root_attrs = sftp.stat("/")
    assert root_attrs.st_mode is not None
    assert stat.S_ISDIR(root_attrs.st_mode)
    assert sftp.stat("dbserver.pem").st_size == attrs.st_size

    back = tmp_path / "back.pem"
    sftp.get("dbserver.pem", str(back))
    assert back.read_bytes() == local.read_bytes()

    sftp.rename("/dbserver.pem", "/dbserver-2025.pem")
    (handler.root / "other").write_bytes(b"x")
    sftp.posix_rename("other", "dbserver-2025.pem")  # overwrites
    assert sftp.listdir("/") == ["dbserver-2025.pem"]
    assert sftp.open("/dbserver-2025.pem").read() == b"x"

    sftp.remove("/dbserver-2025.pem")
    assert sftp.listdir("/") == []
    with pytest.raises(FileNotFoundError):
        sftp.stat("dbserver-2025.pem")

    ops = [op for op, _, user in handler.sftp_ops if user == USER]
    for expected in ("put", "get", "listdir", "stat", "rename", "remove"):
        assert expected in ops
    assert ("rename", "dbserver.pem -> dbserver-2025.pem", USER) in handler.sftp_ops


def test_path_escape_refused(sftp: paramiko.SFTPClient, tmp_path: Path) -> None:
    local = tmp_path / "x"
    local.write_bytes(b"x")
    for remote in ("../x", "sub/x", "/etc/passwd", "/tmp/x"):
        with pytest.raises(PermissionError):
            sftp.put(str(local), remote)
        with pytest.raises(FileNotFoundError):
            sftp.get(remote, str(tmp_path / "y"))
    with pytest.raises(PermissionError):
        sftp.mkdir("/sub")
    with pytest.raises(PermissionError):
        sftp.rmdir("/")
    with pytest.raises(PermissionError):
        sftp.listdir("/etc/ssl")
    with pytest.raises(FileNotFoundError):
        sftp.listdir("/etc")  # a name in the flat area, but not a directory


def test_sftp_and_shell_interleave(
    ssh: paramiko.SSHClient, sftp: paramiko.SFTPClient, handler: FakeHandler
) -> None:
    chan = ssh.invoke_shell()
    read_until(chan, PROMPT)
    with sftp.open("/note.txt", "w") as remote:
        remote.write(b"hello")
    chan.sendall(b"hello\r")
    assert read_until(chan, PROMPT).endswith("hi\r\n" + PROMPT)
    assert sftp.open("note.txt").read() == b"hello"
    assert (handler.root / "note.txt").read_bytes() == b"hello"
