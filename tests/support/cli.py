"""The tests' ways to run the real `reconcile` CLI.

``run`` (as ``subprocess.run``, and returning its ``CompletedProcess``) runs the CLI in this
process, through ``python -m reconciler``'s own entry point (``reconciler/__main__.py``, which
calls ``reconciler.cli.main``) inside click's ``CliRunner`` isolation: for the many runs whose
test checks only what the CLI printed and the status it exited with. ``start`` (as
``subprocess.Popen``) and ``run_process`` start a real ``python -m reconciler`` process: for
what only a process has, namely signals sent to it, a terminal, a stdin read as it is written,
output read while the run goes on, its real exit status, and start-up.
``RECONCILE_TEST_PROCESS=1`` makes every ``run`` a real process too;
`tests/e2e/test_cli_launch.py` runs commands both ways and compares them.

An in-process run sees exactly the environment, folder, arguments and stdin it is given, not
the test's; stdout and stderr are pipes to it (no terminal, so no colour, and rich's width is
the one a piped process gets). What the CLI may change of the process is put back after each
run (``_Saved``): the environment, working folder, umask, SIGINT and SIGTERM handlers,
``sys.argv`` and the standard streams, the root logger's handlers and level, and tempfile's
folder (read from TMPDIR once a process, so read again for each run). Not repeated per
run: the imports, and what a module reads of the environment while being imported (it saw
the test process's own, which the tests' environments extend, as the runs' processes'
would).
"""

from __future__ import annotations

import contextlib
import logging
import os
import runpy
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType

from click.testing import CliRunner

RECONCILE = [sys.executable, "-m", "reconciler"]
ROOT = Path(__file__).resolve().parents[2]
PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL
PROCESS_VARIABLE = "RECONCILE_TEST_PROCESS"

Process = subprocess.Popen[str]


def start(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    stdin: int | None = DEVNULL,
    stdout: int | None = PIPE,
    stderr: int | None = PIPE,
) -> Process:
    """``reconcile *args`` started as a process of its own, as
    ``subprocess.Popen([*RECONCILE, *args], text=True)``; ``stdin``, ``stdout`` and ``stderr``
    are PIPE, DEVNULL or None (this process's own)."""
    return subprocess.Popen(
        [*RECONCILE, *args],
        env=dict(os.environ if env is None else env),
        cwd=cwd,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        text=True,
    )


def run_process(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    input: str | None = None,
    timeout: float | None = 120,
) -> subprocess.CompletedProcess[str]:
    """``reconcile *args`` run to its end in a process of its own, as ``subprocess.run([*RECONCILE,
    *args], capture_output=True, text=True, check=False)`` (stdin empty unless ``input``)."""
    return subprocess.run(
        [*RECONCILE, *args],
        env=dict(os.environ if env is None else env),
        cwd=cwd,
        input=input,
        stdin=DEVNULL if input is None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    input: str | None = None,
    timeout: float | None = 120,
) -> subprocess.CompletedProcess[str]:
    """``reconcile *args`` run to its end, as ``subprocess.run([*RECONCILE, *args],
    capture_output=True, text=True, check=False)`` would: in this process (``run_in_process``),
    or in one of its own with ``RECONCILE_TEST_PROCESS=1`` or off the main thread (signal
    handlers can be set only there)."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    if os.environ.get(PROCESS_VARIABLE) == "1" or not in_main_thread:
        return run_process(args, env=env, cwd=cwd, input=input, timeout=timeout)
    return run_in_process(args, env=env, cwd=cwd, input=input, timeout=timeout)


class _TimedOut(BaseException):
    """Raised in the run when its time is up; a BaseException, so the CLI's own ``except
    Exception`` does not swallow it."""


def run_in_process(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    input: str | None = None,
    timeout: float | None = 120,
) -> subprocess.CompletedProcess[str]:
    """``reconcile *args`` run to its end in this process, as ``python -m reconciler`` runs it
    (``runpy``, so click names the program as in a process's usage lines), its stdout and
    stderr captured apart; the status is the one the process would exit with (``-SIGINT``
    for an unhandled Ctrl-C, as a process killed by it). ``timeout`` raises
    ``subprocess.TimeoutExpired``, as ``subprocess.run`` does."""
    command = [*RECONCILE, *args]
    environment = dict(os.environ if env is None else env)
    # rich and click size output by the first terminal among fds 0-2, then 80 columns: a
    # process on pipes has none. pytest's capture normally leaves none here either, but
    # `pytest -s` on a terminal would: size as the pipes would.
    if "COLUMNS" not in environment and any(os.isatty(fd) for fd in (0, 1, 2)):
        environment["COLUMNS"] = "80"
    runner = CliRunner()
    returncode = 0
    before = set(threading.enumerate())
    with _Saved(), runner.isolation(input=input) as (out, err, _mixed):
        _become(environment, cwd, args)
        try:
            with _alarm(timeout):
                runpy.run_module("reconciler", run_name="__main__", alter_sys=True)
        except _TimedOut:
            raise subprocess.TimeoutExpired(command, timeout or 0) from None
        except SystemExit as leaving:
            returncode = _exit_code(leaving.code)
        except KeyboardInterrupt:
            sys.excepthook(*sys.exc_info())
            returncode = -signal.SIGINT
        except BaseException:
            sys.excepthook(*sys.exc_info())
            returncode = 1
        finally:
            _join_new_threads(before)
            sys.stdout.flush()
            sys.stderr.flush()
        stdout, stderr = out.getvalue(), err.getvalue()
    return subprocess.CompletedProcess(
        command,
        returncode,
        stdout.decode(runner.charset, "replace"),
        stderr.decode(runner.charset, "replace"),
    )


class _Saved(contextlib.ExitStack):
    """What a run may change of this process, put back when it ends."""

    def __enter__(self) -> _Saved:
        super().__enter__()
        environment = dict(os.environ)
        folder = os.getcwd()
        umask = os.umask(0o077)
        os.umask(umask)
        handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
        argv = list(sys.argv)
        root = logging.getLogger()
        logging_state = (list(root.handlers), root.level)
        # tempfile reads TMPDIR once and keeps it: the run's own is read again.
        temporary = tempfile.tempdir
        tempfile.tempdir = None

        def restore() -> None:
            tempfile.tempdir = temporary
            os.environ.clear()
            os.environ.update(environment)
            os.chdir(folder)
            os.umask(umask)
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
            sys.argv[:] = argv
            root.handlers[:], root.level = logging_state[0], logging_state[1]

        self.callback(restore)
        return self


def _become(environment: Mapping[str, str], cwd: str | Path | None, args: Sequence[str]) -> None:
    """The run's environment (exactly: nothing of the test's left), folder and arguments
    (``runpy`` puts ``reconciler/__main__.py`` first, as ``python -m`` does)."""
    os.environ.clear()
    os.environ.update(environment)
    if cwd is not None:
        os.chdir(cwd)
    sys.argv[:] = ["-m", *args]


@contextlib.contextmanager
def _alarm(timeout: float | None) -> Iterator[None]:
    """``_TimedOut`` raised in this (the main) thread after ``timeout`` seconds."""
    if timeout is None:
        yield
        return

    def expire(_signum: int, _frame: FrameType | None) -> None:
        raise _TimedOut

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _join_new_threads(before: set[threading.Thread], timeout: float = 30) -> None:
    """Wait for the run's own non-daemon threads, as the interpreter does before it exits."""
    for thread in threading.enumerate():
        if thread not in before and not thread.daemon and thread is not threading.current_thread():
            thread.join(timeout)


def _exit_code(code: object) -> int:
    """``sys.exit(code)``'s exit status, as the interpreter reports it (Python/pythonrun.c)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1
