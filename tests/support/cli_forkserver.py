"""A fork server for the e2e tests' `reconcile` processes: the CLI's imports paid once.

The e2e tests start several hundred `reconcile` processes; each real start spends about 0.3 s of
CPU importing the same modules (docs/benchmarks.md), which on 2 cores was most of `make test`.
This server imports every module of the package once and then forks a child per run. The child
is still a process of its own: its own pid, standard streams (the caller's pipes, passed over a
unix socket), working directory, environment, argv and exit status, and signals sent to it land
on it alone. It runs ``reconciler/__main__.py`` as ``python -m reconciler`` would, and leaves
as the interpreter does (threads joined, atexit handlers run, streams flushed, the same exit
status), short of tearing down the modules (``finish``).

What a child does not repeat is the interpreter's start-up and the imports: a module that read
the environment while being imported would see the server's environment, not the run's. So
the client uses exec for a run whose environment differs from the server's in what the
interpreter, the locale, typer or GitPython read at start-up (``cli.STARTUP_ENVIRONMENT``);
`test_cli_launch.py` runs commands both ways and compares them. Every forked run shares the
server's string-hash seed (set and dict order of strings), where exec'd runs each draw one.
Nor does a `reconcile sim` child repeat the KDFs of the lab's simulated host keys and device
keys (0.4 s in all): the server fills the simulator's own by-content caches with them, as
every test process that serves the lab in-process has them filled after its first test.

Protocol, one connection per run: the client sends a length-prefixed JSON request with its
stdin, stdout and stderr descriptors attached; the server answers ``<pid>\\n`` once forked and
``<wait status>\\n`` when the child has ended. The server ends when its stdin reaches EOF (its
parent, the test process, is gone), and kills the runs still going.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import os
import pkgutil
import runpy
import selectors
import signal
import socket
import sys
import threading
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import NoReturn

HEADER = 8  # bytes of the request's length, big-endian
ORIGINAL_SIGCHLD = signal.getsignal(signal.SIGCHLD)


@dataclass(frozen=True)
class Request:
    argv: list[str]
    env: dict[str, str]
    cwd: str
    fds: list[int]  # stdin, stdout, stderr, as received


def preload() -> None:
    """Import every module a run may need, except the ``__main__`` modules (which run), and
    decrypt the lab simulator's keys into its caches."""
    import reconciler
    from reconciler.simulator.scenario import device_bytes, load_host_key, load_scenario

    for module in pkgutil.walk_packages(reconciler.__path__, "reconciler."):
        if not module.name.endswith("__main__"):
            import_module(module.name)
    lab = Path(reconciler.__file__).parent / "lab" / "sim" / "lab"
    scenario = load_scenario(lab)
    passphrase = scenario.get("key_passphrase")
    for key in sorted((lab / str(scenario.get("host_keys", "host_keys"))).glob("*")):
        load_host_key(key, passphrase)
    for device_file in sorted((lab / str(scenario.get("files", "device-files"))).glob("*")):
        device_bytes(device_file, passphrase)


def read_request(connection: socket.socket) -> Request | None:
    """The request on ``connection``, or None when the client went away before sending it."""
    data, fds, _flags, _address = socket.recv_fds(connection, 1 << 16, 3)
    while len(data) < HEADER or len(data) < HEADER + int.from_bytes(data[:HEADER], "big"):
        more = connection.recv(1 << 16)
        if not more:
            for fd in fds:
                os.close(fd)
            return None
        data += more
    body = json.loads(data[HEADER:])
    return Request(argv=body["argv"], env=body["env"], cwd=body["cwd"], fds=list(fds))


def send_line(connection: socket.socket, value: int) -> None:
    with contextlib.suppress(OSError):  # the client stopped waiting (its test ended)
        connection.sendall(f"{value}\n".encode())


class Server:
    """The accept loop; single-threaded, so that forking it is safe."""

    def __init__(self, path: str) -> None:
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(64)
        self.wake_read, self.wake_write = os.pipe()
        os.set_blocking(self.wake_write, False)
        signal.set_wakeup_fd(self.wake_write)
        signal.signal(signal.SIGCHLD, lambda _signum, _frame: None)  # wakes select()
        self.waiting: dict[int, socket.socket] = {}  # pid -> its client's connection

    def serve(self) -> Request:
        """Accept runs until the parent goes away; returns only in a forked child."""
        selector = selectors.DefaultSelector()
        selector.register(self.listener, selectors.EVENT_READ, "accept")
        selector.register(self.wake_read, selectors.EVENT_READ, "child")
        selector.register(sys.stdin.fileno(), selectors.EVENT_READ, "parent")
        print("ready", flush=True)
        while True:
            for key, _events in selector.select():
                if key.data == "parent" and not os.read(sys.stdin.fileno(), 4096):
                    self.end_runs()
                if key.data == "child":
                    os.read(self.wake_read, 4096)
                if key.data == "accept" and (request := self.accept()) is not None:
                    return request
            self.reap()

    def accept(self) -> Request | None:
        """Fork a run for the next client; its request in the child, None in the server."""
        connection, _address = self.listener.accept()
        request = read_request(connection)
        if request is None:
            connection.close()
            return None
        pid = os.fork()
        if pid == 0:
            signal.set_wakeup_fd(-1)
            for fd in (self.wake_read, self.wake_write):
                os.close(fd)
            for other in [self.listener, connection, *self.waiting.values()]:
                os.close(other.detach())
            return request
        for fd in request.fds:
            os.close(fd)
        send_line(connection, pid)
        self.waiting[pid] = connection
        return None

    def end_runs(self) -> NoReturn:
        """The test process is gone: so are the runs it left (a failed test's hung apply)."""
        for pid in self.waiting:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        os._exit(0)

    def reap(self) -> None:
        """Tell each ended run's client its wait status."""
        while self.waiting:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            connection = self.waiting.pop(pid, None)
            if connection is not None:
                send_line(connection, status)
                connection.close()


def become(request: Request) -> None:
    """The run's streams, directory, environment and arguments. Signal handling is the
    server's own from its start, as an exec'd interpreter's would be (Ctrl-C ignored if the
    test process ignores it, as in a shell's background job), except SIGCHLD, which the
    server took over."""
    signal.signal(signal.SIGCHLD, ORIGINAL_SIGCHLD)
    # The server's own sys.stdin/stdout/stderr now read and write the run's streams. They are
    # buffered as a new interpreter's would be on pipes and files (stderr line by line); the
    # client runs with a real exec anything that needs a terminal.
    for target, fd in enumerate(request.fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request.cwd)
    os.environ.clear()
    os.environ.update(request.env)
    sys.argv = ["-m", *request.argv]
    sys.path[0] = request.cwd  # as `python -m` puts it


def run(request: Request) -> NoReturn:
    """Become the run, then run the CLI and leave as the interpreter would."""
    try:
        become(request)
        runpy.run_module("reconciler", run_name="__main__", alter_sys=True)
    except SystemExit as leaving:
        finish(exit_code(leaving.code))
    except KeyboardInterrupt:
        sys.excepthook(*sys.exc_info())
        finish(None)
    except BaseException:
        sys.excepthook(*sys.exc_info())
        finish(1)
    finish(0)


def exit_code(code: object) -> int:
    """``sys.exit(code)``'s exit status, as the interpreter reports it (Python/pythonrun.c)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def finish(code: int | None) -> NoReturn:
    """End as the interpreter does (Py_FinalizeEx): wait for non-daemon threads, run the atexit
    handlers, flush the standard streams; then leave without tearing down the modules, which
    for this many imported modules cost 30 ms of CPU a run and touch nothing outside the
    process. ``None``: an unhandled Ctrl-C, which ends by SIGINT, as Python 3.8+ does."""
    with contextlib.suppress(KeyboardInterrupt):  # "Exception ignored", and on to the end
        threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    if code is None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
        code = 130
    os._exit(code)


def main() -> None:
    preload()
    gc.freeze()
    run(Server(sys.argv[1]).serve())


if __name__ == "__main__":
    main()
