"""SSH and SFTP to one MMP: the only module of the reconciler that imports paramiko.

One connection per node per run, reused for the interactive shell and for SFTP. Host keys
are pinned from the cluster's ``known_hosts``: a revoked, unknown or changed key is refused
before authentication, so no command (and no password) reaches an impostor.

The connection is built step by step (TCP, SSH handshake, host key, login) rather than through
``paramiko.SSHClient``, so that each step has its own deadline and its own message, and so the
host key is judged by our ``known_hosts`` reader (revocations included) before any secret is
sent.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import paramiko

from reconciler.errors import (
    AuthenticationFailed,
    ConfigError,
    HostKeyRejected,
    RemoteFileTooLarge,
    TransportError,
)
from reconciler.mmp import known_hosts as kh
from reconciler.mmp.known_hosts import host_key_name

# paramiko logs a failed handshake from its transport thread at ERROR; with no handler
# configured, Python's last-resort handler would print those lines on stderr, next to (and
# garbling) the one clear message the transport raises for the same failure.
_PARAMIKO_LOG = logging.getLogger("paramiko")
_PARAMIKO_LOG.addHandler(logging.NullHandler())
_PARAMIKO_LOG.propagate = False

_LOST = (paramiko.SSHException, EOFError, OSError)
"""What paramiko raises when a connection breaks (EOFError when the peer just closes)."""


def _in_sftp_prefetch(traceback: TracebackType | None) -> bool:
    while traceback is not None:
        code = traceback.tb_frame.f_code
        if code.co_name == "_prefetch_thread" and code.co_filename.endswith("sftp_file.py"):
            return True
        traceback = traceback.tb_next
    return False


def _quiet_lost_prefetch(args: threading.ExceptHookArgs) -> None:
    """paramiko's SFTP download reads ahead in a thread of its own; when the connection
    drops mid-download, that thread dies with a traceback on stderr while the download
    itself fails with our one-line error. Only that case is silenced."""
    lost = issubclass(args.exc_type, _LOST)
    if lost and _in_sftp_prefetch(args.exc_traceback):
        return
    _previous_excepthook(args)


_previous_excepthook = threading.excepthook
threading.excepthook = _quiet_lost_prefetch

_HOST_KEY_ALGORITHMS = {"ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256")}
"""An RSA host key is offered under its SHA-2 signature algorithms; others under their type."""


@dataclass(frozen=True)
class Endpoint:
    """Where a node's MMP listens and who we log in as."""

    node: str  # the node's name, used in every message
    host: str
    port: int
    username: str
    # A sentence added when the connection is refused, naming what should be serving the
    # node when the caller knows (the simulated lab's command); the transport never guesses.
    refused_hint: str = ""


@dataclass(frozen=True)
class Credentials:
    """Secrets come from the environment; never printed (repr hides them).

    ``password_env`` and ``key_file_env`` are the names of the variables they came from, so a
    refused login can say which variable to check.
    """

    password: str | None = field(default=None, repr=False)
    key_file: Path | None = None
    password_env: str | None = None
    key_file_env: str | None = None


@dataclass(frozen=True)
class TransportTimeouts:
    connect: float = 15.0  # TCP, SSH handshake and authentication, each
    command: float = 60.0  # one command's output up to the prompt


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH-style ``SHA256:...`` fingerprint, as ``ssh-keygen -l`` prints it."""
    return kh.fingerprint(key.asbytes())


@dataclass(frozen=True)
class KnownHosts:
    """Pinned host keys and revocations (from the working tree or a git commit), and where from.

    Build it with ``parse``: a file with any unusable line is refused whole, before any node
    is contacted.
    """

    file: kh.KnownHostsFile
    origin: str

    @classmethod
    def parse(cls, text: str, origin: str) -> KnownHosts:
        """Read ``text``; ``ConfigError`` naming every line that is not a usable pin."""
        parsed = kh.parse_known_hosts(text)
        problems = list(parsed.problems)
        for line in parsed.lines:
            try:
                paramiko.PKey.from_type_string(line.key_type, line.blob)
            # Whatever paramiko cannot decode is unusable; its errors vary by key type.
            except Exception as error:
                reason = str(error) or type(error).__name__
                problems.append(kh.Problem(line.number, f"the {line.key_type} key: {reason}"))
        if problems:
            problems.sort(key=lambda problem: problem.number)
            raise ConfigError(
                f"{origin} cannot be used until these lines are fixed or deleted:\n  "
                + "\n  ".join(problem.describe(origin) for problem in problems)
            )
        return cls(parsed, origin)

    def host_key_algorithms(self, name: str) -> list[str]:
        """Host key algorithms of the keys pinned for ``name``, to ask the node for first."""
        algorithms: list[str] = []
        for pin in self.file.pins(name):
            for algorithm in _HOST_KEY_ALGORITHMS.get(pin.key_type, (pin.key_type,)):
                if algorithm not in algorithms:
                    algorithms.append(algorithm)
        return algorithms

    def usable_pin(self, name: str) -> bool:
        """Whether some key pinned for ``name`` is not revoked: whether ``verify`` could
        accept any key at all (a caller may then decline to connect to it)."""
        return any(self.file.revocation(pin.blob) is None for pin in self.file.pins(name))

    def verify(self, node: str, name: str, key: paramiko.PKey) -> None:
        """Accept ``key`` for ``name`` only if it is pinned and not revoked."""
        blob = key.asbytes()
        offered = f"{key.get_name()} {fingerprint(key)}"
        revoked = self.file.revocation(blob)
        if revoked is not None:
            raise HostKeyRejected(
                node,
                f"host key REVOKED: {name} offered {offered}, which {self.origin} line "
                f"{revoked.number} marks @revoked; a revoked key is refused even where another "
                "line pins it. This may be an impostor; if the node was re-keyed, pin its new key",
            )
        pins = self.file.pins(name)
        if any(pin.blob == blob for pin in pins):
            return
        if not pins:
            raise HostKeyRejected(
                node,
                f"unknown host key {offered} for {name}: it is not pinned in {self.origin}. "
                "Check the fingerprint over a path you trust (`reconcile hostkeys` shows it "
                'without logging in; README: "Use it on your cluster"); if it is right, add '
                f"'{name} {key.get_name()} {key.get_base64()}' to that file "
                "(keys are never added automatically)",
            )
        pinned = ", ".join(f"{pin.fingerprint} (line {pin.number})" for pin in pins)
        raise HostKeyRejected(
            node,
            f"host key CHANGED for {name}: the node offered {offered} but {self.origin} pins "
            f"{pinned}. This may be an impostor; if the node was really re-keyed, update the "
            "pinned key",
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
        self._ssh: paramiko.Transport | None = None
        self._channel: paramiko.Channel | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self._refused: AuthenticationFailed | None = None

    @property
    def login_refused(self) -> bool:
        """The node refused our login once: it is never tried again on this transport."""
        return self._refused is not None

    @property
    def node(self) -> str:
        return self.endpoint.node

    @property
    def _where(self) -> str:
        return f"{self.endpoint.host}:{self.endpoint.port}"

    def connect(self) -> None:
        """TCP, SSH handshake, host key check, login: each within ``timeouts.connect``."""
        if self._ssh is not None:
            return
        if self._refused is not None:
            # A refused login is never tried again in the same run: MMP accounts lock
            # after failed logins, and the same secret cannot succeed the second time.
            raise self._refused
        ssh = paramiko.Transport(self._open_socket())
        try:
            self._handshake(ssh)
            name = host_key_name(self.endpoint.host, self.endpoint.port)
            self._known_hosts.verify(self.node, name, ssh.get_remote_server_key())
            self._authenticate(ssh)
        except AuthenticationFailed as error:
            self._refused = error
            ssh.close()
            raise
        except BaseException:
            ssh.close()
            raise
        self._ssh = ssh

    def _open_socket(self) -> socket.socket:
        try:
            return socket.create_connection(
                (self.endpoint.host, self.endpoint.port), timeout=self.timeouts.connect
            )
        except OSError as error:
            raise TransportError(
                self.node, f"cannot connect to {self._where}: {_reason(error)}{self._hint(error)}"
            ) from error

    def _hint(self, error: OSError) -> str:
        """What to check when the TCP connection fails: the fix, not only the cause."""
        port = self.endpoint.port
        if isinstance(error, ConnectionRefusedError):
            hint = f"; is the node up, with its MMP listening on port {port}?"
            if self.endpoint.refused_hint:
                hint += f" {self.endpoint.refused_hint}"
            return hint
        if isinstance(error, socket.timeout | TimeoutError):
            return (
                f" (no answer within {self.timeouts.connect:g} s); is the address right, and "
                f"is port {port} open from here?"
            )
        return ""

    def _handshake(self, ssh: paramiko.Transport) -> None:
        seconds = self.timeouts.connect
        ssh.banner_timeout = seconds
        ssh.auth_timeout = seconds
        name = host_key_name(self.endpoint.host, self.endpoint.port)
        preferred = self._known_hosts.host_key_algorithms(name)
        if preferred:
            # Ask for the pinned key's type first, or a node with several host keys could
            # present another (correct but unpinned) one and be refused as unknown.
            options = ssh.get_security_options()
            available = list(options.key_types)
            first = [algorithm for algorithm in preferred if algorithm in available]
            options.key_types = first + [a for a in available if a not in first]
        done = threading.Event()
        try:
            ssh.start_client(event=done)
        except _LOST as error:
            raise self._handshake_failed(error) from error
        if not done.wait(seconds):
            raise TransportError(
                self.node, f"no SSH handshake from {self._where} within {seconds:g} s"
            )
        if not ssh.is_active():
            cause = ssh.get_exception()
            raise self._handshake_failed(cause) from cause

    def _handshake_failed(self, error: BaseException | None) -> TransportError:
        cause = error
        if error is not None and str(error).startswith("Error reading SSH protocol banner"):
            cause = error.__context__  # paramiko wraps why the banner could not be read
        if cause is None or isinstance(cause, EOFError | ConnectionResetError):
            return TransportError(
                self.node, f"{self._where} closed the connection during the SSH handshake"
            )
        if isinstance(cause, TimeoutError):
            return TransportError(
                self.node,
                f"no SSH handshake from {self._where} within {self.timeouts.connect:g} s "
                "(no SSH banner)",
            )
        return TransportError(
            self.node, f"SSH handshake with {self._where} failed: {_reason(cause)}"
        )

    def _authenticate(self, ssh: paramiko.Transport) -> None:
        user, credentials = self.endpoint.username, self._credentials
        attempts: list[tuple[str, str | None, Callable[[], object]]] = []
        if credentials.key_file is not None:
            key = self._private_key(credentials.key_file)
            attempts.append(
                ("key", credentials.key_file_env, lambda: ssh.auth_publickey(user, key))
            )
        if credentials.password is not None:
            password = credentials.password
            attempts.append(
                ("password", credentials.password_env, lambda: ssh.auth_password(user, password))
            )
        refused: list[str] = []
        for what, env, attempt in attempts:
            try:
                attempt()
                return
            except paramiko.AuthenticationException as error:
                # paramiko also says "Authentication failed." when the connection died, and
                # raises this class on its own auth timeout: neither is a refusal.
                if not ssh.is_active() or "timeout" in str(error).lower():
                    raise self._login_failed(ssh, error) from error
                refused.append(self._refusal(error, what, env))
            except _LOST as error:
                raise self._login_failed(ssh, error) from error
        raise AuthenticationFailed(
            self.node,
            f"authentication failed for user {user!r}: "
            + ("; ".join(refused) or "no password or key to log in with"),
        )

    def _refusal(self, error: paramiko.AuthenticationException, what: str, env: str | None) -> str:
        if isinstance(error, paramiko.BadAuthenticationType):
            offered = ", ".join(error.allowed_types) or "nothing"
            return f"the node does not accept {what} login (it offers: {offered})"
        if env is None:
            return f"the node refused the {what}"
        if what == "key":
            return f"the node refused the key {self._credentials.key_file} named by ${env}"
        return f"the node refused the password in ${env} (check that variable)"

    def _login_failed(self, ssh: paramiko.Transport, error: BaseException) -> TransportError:
        if not ssh.is_active():
            return TransportError(self.node, f"{self._where} closed the connection during login")
        if "timeout" in str(error).lower():
            return TransportError(
                self.node,
                f"no answer to the login from {self._where} within {self.timeouts.connect:g} s",
            )
        return TransportError(self.node, f"login to {self._where} failed: {_reason(error)}")

    def _private_key(self, path: Path) -> paramiko.PKey:
        env = self._credentials.key_file_env
        named = f"the SSH key {path} (from ${env})" if env else f"the SSH key {path}"
        try:
            # The SSH password is not a key passphrase: an encrypted key is refused clearly.
            return paramiko.PKey.from_path(path)
        except (paramiko.PasswordRequiredException, TypeError) as error:
            # paramiko raises TypeError ("Key is password-protected") for some key formats.
            raise TransportError(
                self.node, f"{named} is encrypted; give an unencrypted key"
            ) from error
        except (paramiko.SSHException, paramiko.pkey.UnknownKeyType, OSError, ValueError) as error:
            raise TransportError(self.node, f"{named} cannot be read: {_reason(error)}") from error

    def _transport(self) -> paramiko.Transport:
        self.connect()
        assert self._ssh is not None
        if not self._ssh.is_active():
            raise TransportError(self.node, "the SSH connection was lost")
        return self._ssh

    # --- the interactive shell (bytes in, bytes out; prompts belong to the session) ------
    def open_shell(self) -> None:
        if self._channel is not None:
            return
        try:
            channel = self._transport().open_session(timeout=self.timeouts.connect)
            channel.get_pty(term="vt100", width=250, height=1000)
            channel.invoke_shell()
        except _LOST as error:
            raise TransportError(self.node, f"cannot open a shell: {_reason(error)}") from error
        self._channel = channel

    def write(self, data: str) -> None:
        channel = self._require_channel()
        try:
            channel.sendall(data.encode())
        except _LOST as error:
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
        except _LOST as error:
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
            except _LOST as error:
                raise TransportError(self.node, f"cannot open SFTP: {_reason(error)}") from error
            if sftp is None:
                raise TransportError(self.node, "cannot open SFTP")
            sftp.get_channel().settimeout(self.timeouts.command)  # type: ignore[union-attr]
            self._sftp = sftp
        return self._sftp

    def read_file(self, name: str) -> bytes | None:
        """A file of the node's flat file area, or None when it does not exist."""

        def whole(sftp: paramiko.SFTPClient) -> bytes:
            buffer = io.BytesIO()
            sftp.getfo(name, buffer)
            return buffer.getvalue()

        return self._read(name, whole)

    def read_file_bounded(self, name: str, limit: int) -> bytes | None:
        """A file of the node's flat file area, None when it does not exist, and never more
        than ``limit`` bytes of it in memory: its size is asked first (``RemoteFileTooLarge``
        without reading when it is over), and the read itself stops at ``limit + 1`` bytes in
        case the size was wrong (``RemoteFileTooLarge`` too). No read-ahead is asked for."""
        attributes = self._stat(name)
        if attributes is None:
            return None
        if attributes.st_size is not None and attributes.st_size > limit:
            raise RemoteFileTooLarge(self.node, name, int(attributes.st_size), limit)

        def head(sftp: paramiko.SFTPClient) -> bytes:
            with sftp.open(name, "rb") as remote:
                return remote.read(limit + 1)

        data = self._read(name, head)
        if data is not None and len(data) > limit:
            raise RemoteFileTooLarge(self.node, name, None, limit)
        return data

    def _read(self, name: str, read: Callable[[paramiko.SFTPClient], bytes]) -> bytes | None:
        """What ``read`` reads of ``name`` over SFTP, or None when it does not exist."""
        sftp = self._sftp_client()
        try:
            return read(sftp)
        except FileNotFoundError:
            return None
        except _LOST as error:
            raise TransportError(
                self.node, f"cannot read {name} over SFTP: {_reason(error)}"
            ) from error

    def write_file(self, name: str, data: bytes) -> None:
        sftp = self._sftp_client()
        try:
            sftp.putfo(io.BytesIO(data), name, file_size=len(data), confirm=True)
        except _LOST as error:
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
        except (paramiko.SSHException, EOFError) as error:
            raise TransportError(self.node, f"cannot create {name}: {_reason(error)}") from error
        return True

    def remove_file(self, name: str) -> None:
        sftp = self._sftp_client()
        try:
            sftp.remove(name)
        except FileNotFoundError:
            return
        except _LOST as error:
            raise TransportError(self.node, f"cannot remove {name}: {_reason(error)}") from error

    def download(self, name: str, local: Path) -> int:
        """Copy a node file to ``local``; returns its size on the node."""
        sftp = self._sftp_client()
        try:
            sftp.get(name, str(local))
            return int(sftp.stat(name).st_size or 0)
        except _LOST as error:
            raise TransportError(self.node, f"cannot download {name}: {_reason(error)}") from error

    def file_size(self, name: str) -> int | None:
        attributes = self._stat(name)
        if attributes is None:
            return None
        if attributes.st_mode is not None and not stat.S_ISREG(attributes.st_mode):
            return None
        return int(attributes.st_size or 0)

    def list_files(self) -> list[str]:
        """The names in the node's flat file area (SFTP listdir of the login folder)."""
        sftp = self._sftp_client()
        try:
            return sorted(sftp.listdir("."))
        except _LOST as error:
            raise TransportError(
                self.node, f"cannot list files over SFTP: {_reason(error)}"
            ) from error

    def _stat(self, name: str) -> paramiko.SFTPAttributes | None:
        """What SFTP says of ``name``, or None when it does not exist."""
        sftp = self._sftp_client()
        try:
            return sftp.stat(name)
        except FileNotFoundError:
            return None
        except _LOST as error:
            raise TransportError(self.node, f"cannot stat {name}: {_reason(error)}") from error

    def close(self) -> None:
        for closable in (self._sftp, self._channel, self._ssh):
            if closable is not None:
                with contextlib.suppress(*_LOST):
                    closable.close()
        self._sftp = self._channel = None
        self._ssh = None


def _reason(error: BaseException) -> str:
    if isinstance(error, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    return str(error) or type(error).__name__


# --- host key scan: the handshake only, no login ------------------------------------------


@dataclass(frozen=True)
class ScannedHostKey:
    """The host key a node offered in the SSH key exchange (no login was attempted)."""

    key_type: str
    blob: bytes
    """The public key in SSH wire format."""
    base64: str
    """``blob`` in base64, as a known_hosts line holds it."""

    @property
    def fingerprint(self) -> str:
        return kh.fingerprint(self.blob)

    def known_hosts_line(self, name: str) -> str:
        """The line that pins this key for ``name`` (``host`` or ``[host]:port``)."""
        return f"{name} {self.key_type} {self.base64}"


def scan_host_key(
    endpoint: Endpoint,
    known_hosts: KnownHosts | None = None,
    timeouts: TransportTimeouts | None = None,
) -> ScannedHostKey:
    """Connect just far enough to read a node's host key: TCP and the key exchange.

    No authentication is attempted: neither the user name nor any password or key leaves this
    machine, so the node can be asked for its key before it is trusted. The key types pinned
    in ``known_hosts`` for the node are asked for first, as ``connect`` does, so the key
    compared is the one a login would be checked against. The user name of ``endpoint`` is
    not used.
    """
    pins = known_hosts or KnownHosts(kh.KnownHostsFile((), ()), "no pins")
    transport = SSHTransport(endpoint, Credentials(), pins, timeouts)
    ssh = paramiko.Transport(transport._open_socket())
    try:
        transport._handshake(ssh)
        key = ssh.get_remote_server_key()
        return ScannedHostKey(key.get_name(), key.asbytes(), key.get_base64())
    finally:
        with contextlib.suppress(*_LOST):
            ssh.close()
