"""The twin's side of a session: the real ``MMPShell`` and the executor's file calls, in
process, against one simulated node.

``TwinChannel`` is a ``ShellChannel`` whose far end is the simulator's command interpreter:
each command line runs in a worker thread (the interpreter blocks in ``read_line`` while it
waits for a ``(Y/n)`` answer, as the device does), and ``read`` returns once the worker has
printed all it will print before the next input. When nothing new is printed, reading
waits for its timeout on the virtual clock, so the shell's quiet periods are modelled too.
``TwinFiles`` is the node's SFTP file area, refusing and damaging files as the simulator's
faults say, with the messages the real transport gives.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from reconciler.errors import TransportError
from reconciler.mmp.session import MMPShell, Redactor, ShellSession
from reconciler.rehearse.clock import VirtualTime
from reconciler.simulator.commands import DisconnectRequested, Interpreter
from reconciler.simulator.state import SimNode

USER = "rehearsal"
# Real seconds a worker may take to print (it never waits for anything but the answer):
# beyond that the twin is broken, and the rehearsal says so rather than hanging.
WORKER_LIMIT = 30.0


def _refused_connection(node: SimNode) -> TransportError:
    return TransportError(
        node.name,
        f"cannot connect to {node.address}: connection refused (the twin has this node down, "
        "as the live read found it)",
    )


class TwinChannel:
    """Bytes of one node's MMP shell, served by the simulator's interpreter."""

    def __init__(self, node: SimNode, interpreter: Interpreter, time: VirtualTime) -> None:
        self._node = node
        self._interpreter = interpreter
        self._time = time
        self._changed = threading.Condition()
        self._output: list[str] = [f"{node.name}> "]
        self._typed = ""
        self._worker: threading.Thread | None = None
        self._answers: list[str] = []
        self._asking = False  # the worker waits for a line (a confirmation)
        self._closed = False

    @property
    def node(self) -> str:
        return self._node.name

    def write(self, data: str) -> None:
        if self._node.faults.down:
            raise _refused_connection(self._node)
        self._typed += data
        while True:
            cut = min(
                (i for i in (self._typed.find("\r"), self._typed.find("\n")) if i >= 0), default=-1
            )
            if cut < 0:
                return
            line, self._typed = self._typed[:cut], self._typed[cut + 1 :]
            self._line(line)

    def _line(self, line: str) -> None:
        with self._changed:
            self._output.append(line + "\n")  # the echo of a terminal
            if self._asking:
                self._answers.append(line)
                self._asking = False
                self._changed.notify_all()
                return
            if self._busy():
                raise TransportError(self.node, "the twin's shell got a line while it was busy")
            self._worker = threading.Thread(
                target=self._run, args=(line,), name=f"twin-{self._node.name}", daemon=True
            )
            self._worker.start()

    def _busy(self) -> bool:
        return self._worker is not None and self._worker.is_alive() and not self._asking

    def _run(self, line: str) -> None:
        closed = False
        try:
            self._interpreter.run(self._node, line, _WorkerIO(self), USER)
        except DisconnectRequested:
            closed = True
        finally:
            with self._changed:
                if closed:
                    self._closed = True
                else:
                    self._output.append(f"{self._node.name}> ")
                self._worker = None
                self._changed.notify_all()

    def read(self, timeout: float) -> str | None:
        if self._node.faults.down:
            raise _refused_connection(self._node)
        with self._changed:
            if not self._changed.wait_for(lambda: not self._busy(), WORKER_LIMIT):
                raise TransportError(self.node, "the twin did not answer (a rehearsal bug)")
            text = "".join(self._output)
            self._output.clear()
            closed = self._closed
        if text:
            return text
        if closed:
            return None
        self._time.sleep(timeout)  # a quiet wait, on the twin's clock
        return ""

    # --- the worker's side ------------------------------------------------------------------
    def printed(self, text: str) -> None:
        with self._changed:
            self._output.append(text)
            self._changed.notify_all()

    def answer(self) -> str | None:
        with self._changed:
            self._asking = True
            self._changed.notify_all()
            if not self._changed.wait_for(lambda: bool(self._answers), WORKER_LIMIT):
                self._asking = False
                return None
            return self._answers.pop(0)


class _WorkerIO:
    """The interpreter's ``ConsoleIO`` inside a ``TwinChannel``."""

    def __init__(self, channel: TwinChannel) -> None:
        self._channel = channel

    def write(self, text: str) -> None:
        self._channel.printed(text)

    def read_line(self, timeout: float | None = None) -> str | None:
        return self._channel.answer()


class TwinFiles:
    """One simulated node's flat file area, as the executor's SFTP calls see it."""

    def __init__(self, node: SimNode) -> None:
        self._node = node

    def _check(self, operation: str, name: str) -> Path:
        node = self._node
        if node.faults.down:
            raise _refused_connection(node)
        if "/" in name or name in ("", ".", ".."):
            raise TransportError(node.name, f"{name!r} is not a name in the file area")
        if node.faults.refuses(operation, name):
            verb = {"get": "read", "put": "write"}[operation]
            raise TransportError(node.name, f"cannot {verb} {name} over SFTP: Failure")
        return node.file_path(name)

    def read_file(self, name: str) -> bytes | None:
        path = self._check("get", name)
        return path.read_bytes() if path.is_file() else None

    def write_file(self, name: str, data: bytes) -> None:
        self._check("put", name).write_bytes(self._node.faults.as_uploaded(name, data))

    def create_file(self, name: str, data: bytes) -> bool:
        path = self._check("put", name)
        if path.exists():
            return False
        path.write_bytes(data)
        return True

    def remove_file(self, name: str) -> None:
        path = self._check("put", name)
        path.unlink(missing_ok=True)

    def download(self, name: str, local: Path) -> int:
        path = self._check("get", name)
        if not path.is_file():
            raise TransportError(self._node.name, f"cannot download {name}: No such file")
        shutil.copyfile(path, local)
        return path.stat().st_size

    def file_size(self, name: str) -> int | None:
        path = self._check("get", name)
        return path.stat().st_size if path.is_file() else None


def twin_session(
    node: SimNode, interpreter: Interpreter, time: VirtualTime, redactor: Redactor | None = None
) -> ShellSession:
    """An ``MMPSession`` onto one twin node: the real shell, and the twin's file area."""
    shell = MMPShell(
        TwinChannel(node, interpreter, time), node.name, redactor=redactor, clock=time.now
    )
    return ShellSession(shell, TwinFiles(node))
