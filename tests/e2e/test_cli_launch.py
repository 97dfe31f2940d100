"""The tests run most commands in-process (`tests/support/cli.py`): such a run must say and exit
as ``python -m reconciler`` in a process of its own does, see only the environment and folder
it is given, and leave the test process as it found it. What needs a process (signals) is
run in one, and checked here too."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from reconciler.simulator.service import SimulatedCluster
from tests.e2e.conftest import LAB_ENV
from tests.support import cli

pytestmark = pytest.mark.e2e


def without_time(text: str) -> str:
    return re.sub(
        r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\+00:00| UTC)?|\b\d{8}T\d{4,6}Z\b", "TIME", text
    )


RUNS = {"process": cli.run_process, "in-process": cli.run_in_process}


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["plan", "--bogus"],
        ["validate"],
        ["--plan", "--cluster", "lab"],
        ["--plan", "--cluster", "lab", "--format", "json"],
        ["status", "--cluster", "lab"],
    ],
    ids=["help", "usage error", "validate", "plan", "plan json", "status"],
)
def test_an_in_process_run_says_and_exits_as_a_process_does(
    lab_sim: SimulatedCluster, lab_repo: Path, args: list[str]
) -> None:
    env = {**os.environ, **LAB_ENV}
    results = {how: run([*args, "--repo", str(lab_repo)], env=env) for how, run in RUNS.items()}
    real, inside = results["process"], results["in-process"]
    assert inside.returncode == real.returncode
    assert without_time(inside.stdout) == without_time(real.stdout)
    assert without_time(inside.stderr) == without_time(real.stderr)
    assert real.stdout or real.stderr


@pytest.mark.parametrize("how", list(RUNS))
def test_a_run_has_only_the_environment_and_folder_it_is_given(
    lab_repo: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CMS_")}
    for name, value in LAB_ENV.items():  # in the test's own environment, not the run's
        monkeypatch.setenv(name, value)
    result = RUNS[how](["validate"], env=env, cwd=lab_repo / "clusters")
    assert result.returncode == 1
    assert "CMS_LAB_KEY_PASSPHRASE" in result.stdout + result.stderr  # not set for the run
    # The repo found from the folder given (a copy, not in git), not from the test's own
    # folder (this checkout, in git).
    assert "desired state: no git commit" in result.stdout + result.stderr


def test_an_in_process_run_leaves_the_test_process_as_it_found_it(
    lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    """The plan sets SIGTERM's handler; every run gets its own environment and folder."""
    environment, folder, argv = dict(os.environ), os.getcwd(), list(sys.argv)
    temporary = tempfile.gettempdir()
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    streams = (sys.stdin, sys.stdout, sys.stderr)
    root = logging.getLogger()
    logging_state = (list(root.handlers), root.level)
    previous_umask = os.umask(0o027)
    try:
        result = cli.run_in_process(
            ["--plan", "--cluster", "lab", "--repo", str(lab_repo)],
            env={**os.environ, **LAB_ENV, "TMPDIR": str(lab_repo)},
            cwd=lab_repo,
        )
        umask = os.umask(0o027)
    finally:
        os.umask(previous_umask)
    assert result.returncode in (0, 2), result.stderr
    assert umask == 0o027
    assert dict(os.environ) == environment
    assert os.getcwd() == folder
    assert sys.argv == argv
    assert {signum: signal.getsignal(signum) for signum in handlers} == handlers
    assert (sys.stdin, sys.stdout, sys.stderr) == streams
    assert (list(root.handlers), root.level) == logging_state
    assert tempfile.gettempdir() == temporary


def test_an_in_process_run_past_its_timeout_is_stopped(lab_repo: Path) -> None:
    """As ``subprocess.run``'s timeout: the run is ended and TimeoutExpired raised."""
    with pytest.raises(subprocess.TimeoutExpired):
        cli.run_in_process(
            ["sim", "--cluster", "lab", "--repo", str(lab_repo)],
            env={**os.environ, **LAB_ENV},
            timeout=3,
        )
    assert signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None, signal.SIG_IGN)
    # The simulator it started has stopped serving: the same lab can be served again.
    again = cli.start(
        ["sim", "--cluster", "lab", "--repo", str(lab_repo)], env={**os.environ, **LAB_ENV}
    )
    assert again.stdout is not None
    while "ready" not in (line := again.stdout.readline()):
        assert line, again.communicate()
    again.terminate()
    assert again.wait(timeout=30) == 0


@pytest.mark.parametrize(
    ("signum", "code"),
    # The simulator stops serving cleanly on SIGTERM and Ctrl-C; SIGKILL gives it no say.
    [(signal.SIGKILL, -signal.SIGKILL), (signal.SIGTERM, 0), (signal.SIGINT, 0)],
    ids=["SIGKILL", "SIGTERM", "SIGINT"],
)
def test_a_signal_ends_the_run_it_is_sent_to(lab_repo: Path, signum: int, code: int) -> None:
    process = cli.start(
        ["sim", "--cluster", "lab", "--repo", str(lab_repo)], env={**os.environ, **LAB_ENV}
    )
    assert process.stdout is not None
    while "ready" not in (line := process.stdout.readline()):
        assert line, process.communicate()
    process.send_signal(signum)
    assert process.wait(timeout=30) == code


def test_a_run_ignores_ctrl_c_when_its_starter_does(lab_repo: Path) -> None:
    """As in a shell's background job: an ignored SIGINT is inherited, and Python keeps it."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        process = cli.start(
            ["sim", "--cluster", "lab", "--repo", str(lab_repo)], env={**os.environ, **LAB_ENV}
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    assert process.stdout is not None
    while "ready" not in (line := process.stdout.readline()):
        assert line, process.communicate()
    process.send_signal(signal.SIGINT)
    with pytest.raises(subprocess.TimeoutExpired):
        process.wait(timeout=0.5)
    process.terminate()
    assert process.wait(timeout=30) == 0
