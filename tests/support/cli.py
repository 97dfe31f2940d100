"""The e2e tests' way to run the real `reconcile` CLI: ``run`` (as ``subprocess.run``) and
``start`` (as ``subprocess.Popen``).

Each run is a process of its own, forked from a per-test-process fork server that has
already imported the package (`cli_forkserver.py` says what that does and does not skip).
``RECONCILE_TEST_EXEC=1`` starts every run with a real ``exec`` of ``python -m reconciler``
instead, as the tests did before, and so is any run that would inherit a terminal (a forked
run's streams are buffered as on pipes); `tests/e2e/test_cli_launch.py` compares the two.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

from tests.support.cli_forkserver import HEADER

RECONCILE = [sys.executable, "-m", "reconciler"]
ROOT = Path(__file__).resolve().parents[2]
PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL


class ForkServer:
    """This test process's fork server, started on first use and stopped at exit."""

    def __init__(self) -> None:
        # A unix socket's path has at most 107 bytes: a long TMPDIR is not used.
        folder = tempfile.gettempdir() if len(tempfile.gettempdir()) < 60 else "/tmp"
        self.folder = tempfile.mkdtemp(prefix="reconcile-forkserver-", dir=folder)
        self.path = os.path.join(self.folder, "socket")
        self.environment = dict(os.environ)  # the server's: what its imports saw
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.cli_forkserver", self.path],
            cwd=ROOT,
            env=self.environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if line != "ready\n":
            self.process.kill()
            self.process.wait()
            raise RuntimeError(f"the CLI fork server did not start: {line!r}")

    def launch(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: str, fds: list[int]
    ) -> socket.socket:
        """Ask for a run; returns the connection its pid and then its wait status arrive on."""
        body = json.dumps({"argv": list(argv), "env": dict(env), "cwd": cwd}).encode()
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect(self.path)
        socket.send_fds(connection, [len(body).to_bytes(HEADER, "big") + body], fds)
        return connection

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        try:
            os.unlink(self.path)
            os.rmdir(self.folder)
        except OSError:
            pass


_server: ForkServer | None = None
_server_lock = threading.Lock()


def fork_server() -> ForkServer:
    global _server
    with _server_lock:
        if _server is None or _server.process.poll() is not None:
            _server = ForkServer()
            atexit.register(_server.stop)
        return _server


class ForkedProcess:
    """A run started by the fork server, with the part of ``Popen``'s interface tests use."""

    def __init__(self, args: list[str], connection: socket.socket, pipes: dict[int, int]) -> None:
        self.args = args
        self._connection = connection
        self._received = b""
        pid = self._reply(timeout=60)
        if pid is None:
            raise RuntimeError("the CLI fork server did not start the run")
        self.pid = pid
        self.returncode: int | None = None
        self.stdin: IO[str] | None = _wrap(pipes.get(0), "w")
        self.stdout: IO[str] | None = _wrap(pipes.get(1), "r")
        self.stderr: IO[str] | None = _wrap(pipes.get(2), "r")
        self._output: dict[str, str] = {}
        self._readers: list[threading.Thread] = []

    def _reply(self, timeout: float | None) -> int | None:
        """The server's next number, or None if none came within ``timeout``; a server that
        died answers as a failed run would."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._received:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            self._connection.settimeout(left)
            try:
                chunk = self._connection.recv(64)
            except (TimeoutError, BlockingIOError):
                return None
            if not chunk:
                return 255 << 8
            self._received += chunk
        line, _, self._received = self._received.partition(b"\n")
        return int(line)

    def poll(self) -> int | None:
        return self._status(timeout=0)

    def wait(self, timeout: float | None = None) -> int:
        returncode = self._status(timeout)
        if returncode is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return returncode

    def _status(self, timeout: float | None) -> int | None:
        if self.returncode is None:
            status = self._reply(timeout)
            if status is not None:
                self.returncode = os.waitstatus_to_exitcode(status)
                self._connection.close()
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def communicate(
        self, input: str | None = None, timeout: float | None = None
    ) -> tuple[str, str]:
        """What the run wrote to its piped stdout and stderr, once it has ended; may be
        called again after a timeout, as ``Popen.communicate`` may."""
        if not self._readers:
            for name, stream in (("stdout", self.stdout), ("stderr", self.stderr)):
                if stream is not None:
                    reader = threading.Thread(target=_drain, args=(stream, name, self._output))
                    reader.daemon = True
                    reader.start()
                    self._readers.append(reader)
            if self.stdin is not None:
                with contextlib.suppress(BrokenPipeError):  # it ended unread, as Popen allows
                    if input:
                        self.stdin.write(input)
                    self.stdin.close()
        deadline = None if timeout is None else time.monotonic() + timeout
        self.wait(timeout)
        for reader in self._readers:
            reader.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if reader.is_alive():  # a grandchild holds the pipe open
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return self._output.get("stdout", ""), self._output.get("stderr", "")

    def __enter__(self) -> ForkedProcess:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for stream in (self.stdin, self.stdout, self.stderr):
            if stream is not None:
                stream.close()
        self.wait()


def _wrap(fd: int | None, mode: str) -> IO[str] | None:
    return None if fd is None else open(fd, mode, encoding="utf-8")


def _drain(stream: IO[str], name: str, results: dict[str, str]) -> None:
    results[name] = stream.read()
    stream.close()


Process = ForkedProcess | subprocess.Popen[str]

# What is read once, at start-up, and so would be the fork server's, not the run's: the
# interpreter's own variables, the locale, the time zone, typer's and GitPython's settings,
# and PATH (GitPython finds git on it when imported).
STARTUP_ENVIRONMENT = ("PYTHON", "LC_", "LANG", "TZ", "TYPER_", "_TYPER", "GIT_PYTHON", "PATH")


def _needs_exec(environment: Mapping[str, str], streams: list[int | None]) -> bool:
    """Exec when asked to, when a stream would be a terminal (a forked run's are buffered as
    on pipes), or when the run's start-up environment is not the server's."""
    if os.environ.get("RECONCILE_TEST_EXEC") == "1":
        return True
    if any(os.isatty(target) for target, choice in enumerate(streams) if choice is None):
        return True
    server = fork_server().environment
    keys = {key for key in {*environment, *server} if key.startswith(STARTUP_ENVIRONMENT)}
    return any(environment.get(key) != server.get(key) for key in keys)


def start(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    stdin: int | None = DEVNULL,
    stdout: int | None = PIPE,
    stderr: int | None = PIPE,
) -> Process:
    """``reconcile *args`` started, as ``subprocess.Popen([*RECONCILE, *args], text=True)``;
    ``stdin``, ``stdout`` and ``stderr`` are PIPE, DEVNULL or None (this process's own)."""
    environment = dict(os.environ if env is None else env)
    folder = str(cwd if cwd is not None else os.getcwd())
    if _needs_exec(environment, [stdin, stdout, stderr]):
        return subprocess.Popen(
            [*RECONCILE, *args],
            env=environment,
            cwd=folder,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            text=True,
        )
    fds, ours, theirs = [], {}, []
    for target, choice in enumerate((stdin, stdout, stderr)):
        if choice == PIPE:
            read, write = os.pipe()
            mine, child = (write, read) if target == 0 else (read, write)
            ours[target] = mine
            theirs.append(child)
            fds.append(child)
        elif choice == DEVNULL:
            null = os.open(os.devnull, os.O_RDWR)
            theirs.append(null)
            fds.append(null)
        else:
            fds.append(target)
    try:
        connection = fork_server().launch(args, environment, folder, fds)
    finally:
        for fd in theirs:
            os.close(fd)
    return ForkedProcess(list(args), connection, ours)


def run(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    input: str | None = None,
    timeout: float | None = 120,
) -> subprocess.CompletedProcess[str]:
    """``reconcile *args`` run to its end, as ``subprocess.run([*RECONCILE, *args],
    capture_output=True, text=True, check=False)``."""
    process = start(args, env=env, cwd=cwd, stdin=PIPE if input is not None else DEVNULL)
    try:
        out, err = process.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    assert process.returncode is not None
    return subprocess.CompletedProcess([*RECONCILE, *args], process.returncode, out, err)
