"""A real OpenSSH ``sshd`` standing in for one simulated node, for interop tests.

Not the system's sshd and none of its configuration: each server has its own directory with
its config, host keys, client key, ``authorized_keys`` and pid file, listens on a free loopback
address and port, and runs in the foreground (``-D -e``) as a child of the test.

It runs as the user running the tests (root in CI and on the lab machines), and that user logs
in, by public key only (no password, no PAM). It does not drop to another account: a non-root
sshd only logs in the account it runs as, through that account's login shell, and Debian's
system accounts all have ``nologin``, so it would take creating an account on the developer's
machine; and on this project's machines a non-root sshd cannot hand a pty to its session
("chown(/dev/pts/N, ...) failed: Operation not permitted", then it closes the connection),
which the interactive tests need. A root sshd needs its privilege separation directory
(``/run/sshd``, which the package's tmpfiles.d entry creates at boot and containers skip).

sshd_config(5), ForceCommand: "The command is invoked by using the user's login shell with the
-c option. This applies to shell, command, or subsystem execution. [...] The command originally
supplied by the client is available in the SSH_ORIGINAL_COMMAND environment variable."
So the ``sftp`` subsystem reaches the ForceCommand (``relay.py``) too, with the Subsystem's
command line in SSH_ORIGINAL_COMMAND; ``internal-sftp`` lives inside sshd and cannot be run from
there, so the subsystem is OpenSSH's ``sftp-server`` (the same SFTP code), which the relay
starts in the node's file directory (``-d``).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from tests.support.lab import REPO, free_lab_addresses

SSHD = Path("/usr/sbin/sshd")
SFTP_SERVERS = (
    Path("/usr/lib/openssh/sftp-server"),  # Debian, Ubuntu
    Path("/usr/libexec/openssh/sftp-server"),  # Fedora, RHEL
    Path("/usr/libexec/sftp-server"),  # OpenSSH's own default
)
RELAY = REPO / "reconciler" / "simulator" / "relay.py"
HOST_KEY_TYPES = ("ed25519", "rsa")
"""Two host keys, so a test can prove the pinned one is the one used."""
READY_SECONDS = 10.0


class SSHDUnavailable(RuntimeError):
    """sshd is not installed or would not start; the message says why and what to do."""


def sftp_server() -> Path:
    for path in SFTP_SERVERS:
        if path.is_file():
            return path
    raise SSHDUnavailable(
        f"OpenSSH's sftp-server is not at any of {', '.join(map(str, SFTP_SERVERS))}; "
        "install openssh-server (`make system-tools`)"
    )


def keygen(path: Path, key_type: str, comment: str = "interop") -> str:
    """A new unencrypted key pair with the real ssh-keygen; the public line ``type base64``."""
    bits = ["-b", "2048"] if key_type == "rsa" else []
    subprocess.run(
        ["ssh-keygen", "-q", "-t", key_type, *bits, "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    key_type_name, blob = path.with_name(path.name + ".pub").read_text().split()[:2]
    return f"{key_type_name} {blob}"


@dataclass
class OpenSSHServer:
    """One running sshd: where it listens, who logs in with which key, its host keys."""

    host: str
    port: int
    directory: Path
    user: str
    client_key: Path
    host_keys: dict[str, str]
    """By ssh-keygen type (ed25519, rsa): the public key as ``type base64``."""
    process: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The server's name in known_hosts: ``[host]:port``."""
        return f"[{self.host}]:{self.port}"

    def known_hosts_line(self, key_type: str = "ed25519") -> str:
        return f"{self.name} {self.host_keys[key_type]}"

    def log_text(self) -> str:
        return "".join(self.log)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def __enter__(self) -> OpenSSHServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def short_directory() -> Path:
    """A directory whose paths fit a Unix socket address (108 bytes), unlike pytest's."""
    return Path(tempfile.mkdtemp(prefix="cms-sshd-"))


def start_sshd(directory: Path, relay_socket: Path | None, *, attempts: int = 3) -> OpenSSHServer:
    """Keys, config, then sshd on a free loopback address; returns once it listens.

    Without ``relay_socket`` there is no ForceCommand: a login gets the account's own shell,
    as a host's own sshd would give it.
    """
    if not SSHD.is_file():
        raise SSHDUnavailable(f"{SSHD} is missing; install openssh-server (`make system-tools`)")
    user = pwd.getpwuid(os.geteuid()).pw_name
    if os.geteuid() == 0:
        # A root sshd refuses to start without its (root-owned, 0755) privilege separation
        # directory; the package's tmpfiles.d entry makes it at boot, which a container skips.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    host_keys = {
        key_type: keygen(directory / f"ssh_host_{key_type}_key", key_type, "interop-host")
        for key_type in HOST_KEY_TYPES
    }
    client_key = directory / "client_ed25519"
    (directory / "authorized_keys").write_text(keygen(client_key, "ed25519", "interop-client"))
    failures = []
    for _ in range(attempts):
        addresses = free_lab_addresses()
        host, port = addresses.spare, addresses.port
        config = directory / "sshd_config"
        config.write_text(_config(directory, host, port, user, relay_socket))
        server = _launch(directory, host, port, user, client_key, host_keys, config)
        if server is not None:
            return server
        failures.append(f"{host}:{port}: {_tail(directory / 'sshd.log')}")
    raise SSHDUnavailable("sshd did not start:\n  " + "\n  ".join(failures))


def _config(directory: Path, host: str, port: int, user: str, relay_socket: Path | None) -> str:
    forced = []
    if relay_socket is not None:
        relay = [sys.executable, "-I", str(RELAY), str(relay_socket), str(sftp_server())]
        forced.append(f"ForceCommand {shlex.join(relay)}")
    return "\n".join(
        [
            f"ListenAddress {host}:{port}",
            *(f"HostKey {directory / f'ssh_host_{key_type}_key'}" for key_type in HOST_KEY_TYPES),
            f"PidFile {directory / 'sshd.pid'}",
            f"AuthorizedKeysFile {directory / 'authorized_keys'}",
            f"AllowUsers {user}",
            "StrictModes no",  # the test's temporary directory, not a home directory
            "UsePAM no",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            "UseDNS no",
            "PrintMotd no",
            "PrintLastLog no",
            "X11Forwarding no",
            "AllowTcpForwarding no",
            "AllowAgentForwarding no",
            "LogLevel VERBOSE",  # logs each subsystem request, which tests check
            f"Subsystem sftp {sftp_server()}",
            *forced,
            "",
        ]
    )


def _launch(
    directory: Path,
    host: str,
    port: int,
    user: str,
    client_key: Path,
    host_keys: dict[str, str],
    config: Path,
) -> OpenSSHServer | None:
    process = subprocess.Popen(
        [str(SSHD), "-D", "-e", "-f", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        start_new_session=True,  # its own process group: signals meant for pytest stay there
    )
    server = OpenSSHServer(host, port, directory, user, client_key, host_keys, process)
    listening = threading.Event()
    threading.Thread(
        target=_read_log, args=(server, listening, directory / "sshd.log"), daemon=True
    ).start()
    # sshd prints "Server listening on HOST port PORT." once bound; its log ends if it exits.
    if listening.wait(READY_SECONDS) and process.poll() is None:
        return server
    server.stop()
    return None


def _read_log(server: OpenSSHServer, listening: threading.Event, copy: Path) -> None:
    stream = server.process.stderr
    assert stream is not None
    with copy.open("a") as saved:
        for line in stream:
            server.log.append(line)
            saved.write(line)
            saved.flush()
            if "Server listening on" in line:
                listening.set()
    listening.set()


def _tail(path: Path) -> str:
    with contextlib.suppress(OSError):
        return " | ".join(path.read_text().strip().splitlines()[-3:]) or "no output"
    return "no output"


def remove(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
