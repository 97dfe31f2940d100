"""SSH and SFTP to one MMP: the only module of the reconciler that imports paramiko.

One connection per node per run, reused for the interactive shell and for SFTP. Host keys
are pinned from the cluster's ``known_hosts``: an unknown or changed key is refused before
authentication, so no command (and no password) reaches an impostor.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import socket
import stat
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from reconciler.errors import HostKeyRejected, TransportError


@dataclass(frozen=True)
class Endpoint:
    """Where a node's MMP listens and who we log in as."""

    node: str  # the node's name, used in every message
    host: str
    port: int
    username: str


@dataclass(frozen=True)
class Credentials:
    """Secrets come from the environment; never printed (repr hides them)."""

    password: str | None = field(default=None, repr=False)
    key_file: Path | None = None


@dataclass(frozen=True)
class TransportTimeouts:
    connect: float = 15.0  # TCP, SSH banner and authentication
    command: float = 60.0  # one command's output up to the prompt


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH-style ``SHA256:...`` fingerprint, as ``ssh-keygen -l`` prints it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_hosts_name(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


@dataclass(frozen=True)
class KnownHosts:
    """Pinned host keys as text (from the working tree or a git commit) and where from."""

    text: str
    origin: str

    def install(self, host_keys: paramiko.HostKeys) -> None:
        for number, raw in enumerate(self.text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            try:
                entry = paramiko.hostkeys.HostKeyEntry.from_line(line, number)
            except (paramiko.SSHException, ValueError) as error:
                raise HostKeyRejected(
                    "known_hosts", f"{self.origin} line {number} is not a host key: {error}"
                ) from error
            if entry is None or entry.key is None:
                raise HostKeyRejected(
                    "known_hosts", f"{self.origin} line {number} is not a host key line"
                )
            for name in entry.hostnames:
                host_keys.add(name, entry.key.get_name(), entry.key)


class _RefuseUnknown(paramiko.MissingHostKeyPolicy):
    def __init__(self, node: str, known_hosts: str) -> None:
        self._node = node
        self._known_hosts = known_hosts

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        raise HostKeyRejected(
            self._node,
            f"unknown host key {key.get_name()} {fingerprint(key)} for {hostname}: it is not "
            f"pinned in {self._known_hosts}. Check the fingerprint on the node's console; if it "
            f"is right, add '{hostname} {key.get_name()} {key.get_base64()}' to that file "
            "(keys are never added automatically)",
        )


class SSHTransport:
    """An SSH connection to one node: a shell channel and an SFTP client on it."""

    def __init__(
        self,
        endpoint: Endpoint,
        credentials: Credentials,
        known_hosts: KnownHosts,
        timeouts: TransportTimeouts | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._credentials = credentials
        self._known_hosts = known_hosts
        self.timeouts = timeouts or TransportTimeouts()
        self._client: paramiko.SSHClient | None = None
        self._channel: paramiko.Channel | None = None
        self._sftp: paramiko.SFTPClient | None = None

    @property
    def node(self) -> str:
        return self.endpoint.node

    def connect(self) -> None:
        if self._client is not None:
            return
        endpoint = self.endpoint
        client = paramiko.SSHClient()
        self._known_hosts.install(client.get_host_keys())
        client.set_missing_host_key_policy(_RefuseUnknown(self.node, self._known_hosts.origin))
        key_file = self._credentials.key_file
        try:
            client.connect(
                endpoint.host,
                endpoint.port,
                username=endpoint.username,
                password=self._credentials.password,
                key_filename=str(key_file) if key_file else None,
                timeout=self.timeouts.connect,
                banner_timeout=self.timeouts.connect,
                auth_timeout=self.timeouts.connect,
                allow_agent=False,
                look_for_keys=False,
            )
        except HostKeyRejected:
            client.close()
            raise
        except paramiko.BadHostKeyException as error:
            client.close()
            raise HostKeyRejected(
                self.node,
                f"host key CHANGED for {known_hosts_name(endpoint.host, endpoint.port)}: the "
                f"node offered {error.key.get_name()} {fingerprint(error.key)} but "
                f"{self._known_hosts.origin} pins {fingerprint(error.expected_key)}. This may "
                "be an impostor; if the node was really re-keyed, update the pinned key",
            ) from error
        except paramiko.AuthenticationException as error:
            client.close()
            raise TransportError(
                self.node,
                f"authentication failed for user {endpoint.username!r}; check the password or "
                "key the cluster file's ssh.password_env / ssh.key_file_env names",
            ) from error
        except (paramiko.SSHException, OSError) as error:
            client.close()
            raise TransportError(
                self.node, f"cannot connect to {endpoint.host}:{endpoint.port}: {_reason(error)}"
            ) from error
        self._client = client

    def _transport(self) -> paramiko.Transport:
        self.connect()
        assert self._client is not None
        transport = self._client.get_transport()
        if transport is None or not transport.is_active():
            raise TransportError(self.node, "the SSH connection was lost")
        return transport

    # --- the interactive shell (bytes in, bytes out; prompts belong to the session) ------
    def open_shell(self) -> None:
        if self._channel is not None:
            return
        try:
            channel = self._transport().open_session(timeout=self.timeouts.connect)
            channel.get_pty(term="vt100", width=250, height=1000)
            channel.invoke_shell()
        except (paramiko.SSHException, OSError) as error:
            raise TransportError(self.node, f"cannot open a shell: {_reason(error)}") from error
        self._channel = channel

    def write(self, data: str) -> None:
        channel = self._require_channel()
        try:
            channel.sendall(data.encode())
        except (paramiko.SSHException, OSError) as error:
            raise TransportError(
                self.node, f"connection lost while sending: {_reason(error)}"
            ) from error

    def read(self, timeout: float) -> str | None:
        """Whatever output arrives within ``timeout``: '' if none yet, None once closed."""
        channel = self._require_channel()
        channel.settimeout(max(timeout, 0.001))
        try:
            data = channel.recv(65536)
        except TimeoutError:
            return ""
        except (paramiko.SSHException, OSError) as error:
            raise TransportError(
                self.node, f"connection lost while reading: {_reason(error)}"
            ) from error
        if not data:
            return None
        return data.decode("utf-8", errors="replace")

    def _require_channel(self) -> paramiko.Channel:
        self.open_shell()
        assert self._channel is not None
        return self._channel

    # --- SFTP on the same connection ------------------------------------------------------
    def _sftp_client(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            try:
                sftp = paramiko.SFTPClient.from_transport(self._transport())
            except (paramiko.SSHException, OSError) as error:
                raise TransportError(self.node, f"cannot open SFTP: {_reason(error)}") from error
            if sftp is None:
                raise TransportError(self.node, "cannot open SFTP")
            sftp.get_channel().settimeout(self.timeouts.command)  # type: ignore[union-attr]
            self._sftp = sftp
        return self._sftp

    def read_file(self, name: str) -> bytes | None:
        """A file of the node's flat file area, or None when it does not exist."""
        sftp = self._sftp_client()
        buffer = io.BytesIO()
        try:
            sftp.getfo(name, buffer)
        except FileNotFoundError:
            return None
        except (paramiko.SSHException, OSError) as error:
            raise TransportError(
                self.node, f"cannot read {name} over SFTP: {_reason(error)}"
            ) from error
        return buffer.getvalue()

    def write_file(self, name: str, data: bytes) -> None:
        sftp = self._sftp_client()
        try:
            sftp.putfo(io.BytesIO(data), name, file_size=len(data), confirm=True)
        except (paramiko.SSHException, OSError) as error:
            raise TransportError(
                self.node, f"cannot write {name} over SFTP: {_reason(error)}"
            ) from error

    def create_file(self, name: str, data: bytes) -> bool:
        """Create ``name`` only if it does not exist (SFTP exclusive open); False if it does."""
        sftp = self._sftp_client()
        try:
            with sftp.open(name, "wx") as remote:
                remote.write(data)
        except FileExistsError:
            return False
        except OSError as error:
            if self.file_size(name) is not None:
                return False
            raise TransportError(self.node, f"cannot create {name}: {_reason(error)}") from error
        except paramiko.SSHException as error:
            raise TransportError(self.node, f"cannot create {name}: {_reason(error)}") from error
        return True

    def remove_file(self, name: str) -> None:
        sftp = self._sftp_client()
        try:
            sftp.remove(name)
        except FileNotFoundError:
            return
        except (paramiko.SSHException, OSError) as error:
            raise TransportError(self.node, f"cannot remove {name}: {_reason(error)}") from error

    def download(self, name: str, local: Path) -> int:
        """Copy a node file to ``local``; returns its size on the node."""
        sftp = self._sftp_client()
        try:
            sftp.get(name, str(local))
            return int(sftp.stat(name).st_size or 0)
        except (paramiko.SSHException, OSError) as error:
            raise TransportError(self.node, f"cannot download {name}: {_reason(error)}") from error

    def file_size(self, name: str) -> int | None:
        sftp = self._sftp_client()
        try:
            attributes = sftp.stat(name)
        except FileNotFoundError:
            return None
        except (paramiko.SSHException, OSError) as error:
            raise TransportError(self.node, f"cannot stat {name}: {_reason(error)}") from error
        if attributes.st_mode is not None and not stat.S_ISREG(attributes.st_mode):
            return None
        return int(attributes.st_size or 0)

    def close(self) -> None:
        for closable in (self._sftp, self._channel, self._client):
            if closable is not None:
                with contextlib.suppress(paramiko.SSHException, OSError):
                    closable.close()
        self._sftp = self._channel = None
        self._client = None


def _reason(error: BaseException) -> str:
    if isinstance(error, paramiko.ssh_exception.NoValidConnectionsError):
        return (
            "connection refused"
            if all(isinstance(e, ConnectionRefusedError) for e in error.errors.values())
            else str(error)
        )
    if isinstance(error, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    return str(error) or type(error).__name__
