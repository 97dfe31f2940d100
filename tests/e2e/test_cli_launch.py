"""The e2e tests' runs are forked from a fork server (`tests/support/cli.py`): a forked run
must be indistinguishable from ``python -m reconciler`` started with exec, in its output,
exit status, environment, working directory and signals."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from reconciler.simulator.service import SimulatedCluster
from tests.e2e.conftest import LAB_ENV
from tests.support import cli

pytestmark = pytest.mark.e2e


def launched(
    monkeypatch: pytest.MonkeyPatch,
    how: str,
    args: list[str],
    env: dict[str, str],
    cwd: Path | None = None,
) -> cli.Process:
    """``args`` started the way ``how`` names; checked to have been started that way."""
    monkeypatch.setenv("RECONCILE_TEST_EXEC", "1" if how == "exec" else "0")
    process = cli.start(args, env=env, cwd=cwd)
    assert isinstance(process, subprocess.Popen if how == "exec" else cli.ForkedProcess)
    return process


def outcome(process: cli.Process) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=120)
    return process.wait(), out, err


def without_time(text: str) -> str:
    return re.sub(
        r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\+00:00| UTC)?|\b\d{8}T\d{4,6}Z\b", "TIME", text
    )


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
def test_a_forked_run_says_and_exits_as_an_exec_run_does(
    lab_sim: SimulatedCluster, lab_repo: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    env = {**os.environ, **LAB_ENV}
    results = {
        how: outcome(launched(monkeypatch, how, [*args, "--repo", str(lab_repo)], env=env))
        for how in ("exec", "fork")
    }
    (code, out, err), (forked_code, forked_out, forked_err) = results["exec"], results["fork"]
    assert forked_code == code
    assert without_time(forked_out) == without_time(out)
    assert without_time(forked_err) == without_time(err)
    assert out or err


@pytest.mark.parametrize("how", ["exec", "fork"])
def test_a_run_has_only_the_environment_and_folder_it_is_given(
    lab_repo: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CMS_")}
    for name, value in LAB_ENV.items():  # in the fork server's own environment, not the run's
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(cli, "_server", None)
    process = launched(monkeypatch, how, ["validate"], env=env, cwd=lab_repo / "clusters")
    code, out, err = outcome(process)
    assert code == 1
    assert "CMS_LAB_KEY_PASSPHRASE" in out + err  # not set for the run: refused
    # The repo found from the folder given (a copy, not in git), not from the server's own
    # folder (this checkout, in git).
    assert "desired state: no git commit" in out + err


@pytest.mark.parametrize("how", ["exec", "fork"])
@pytest.mark.parametrize(
    ("signum", "code"),
    # The simulator stops serving cleanly on SIGTERM and Ctrl-C; SIGKILL gives it no say.
    [(signal.SIGKILL, -signal.SIGKILL), (signal.SIGTERM, 0), (signal.SIGINT, 0)],
    ids=["SIGKILL", "SIGTERM", "SIGINT"],
)
def test_a_signal_ends_the_run_it_is_sent_to(
    lab_repo: Path, monkeypatch: pytest.MonkeyPatch, how: str, signum: int, code: int
) -> None:
    process = launched(
        monkeypatch,
        how,
        ["sim", "--cluster", "lab", "--repo", str(lab_repo)],
        env={**os.environ, **LAB_ENV},
    )
    assert process.stdout is not None
    while "ready" not in (line := process.stdout.readline()):
        assert line, process.communicate()
    process.send_signal(signum)
    assert process.wait(timeout=30) == code
    assert cli.fork_server().process.poll() is None  # the server is still serving


@pytest.mark.parametrize("how", ["exec", "fork"])
def test_a_run_ignores_ctrl_c_when_its_starter_does(
    lab_repo: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """As in a shell's background job: an ignored SIGINT is inherited, and Python keeps it."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        monkeypatch.setattr(cli, "_server", None)  # a server started while SIGINT is ignored
        process = launched(
            monkeypatch,
            how,
            ["sim", "--cluster", "lab", "--repo", str(lab_repo)],
            env={**os.environ, **LAB_ENV},
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


def test_a_run_whose_start_up_environment_differs_is_started_with_exec(
    lab_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A time zone, locale or interpreter setting is read once at start-up: the server's
    would be used, so such a run is exec'd."""
    monkeypatch.delenv("RECONCILE_TEST_EXEC", raising=False)
    process = cli.start(["--help"], env={**os.environ, "TZ": "Asia/Tokyo"})
    assert isinstance(process, subprocess.Popen)
    assert outcome(process)[0] == 0
    process = cli.start(["--help"], env=dict(os.environ))
    assert isinstance(process, cli.ForkedProcess)
    assert outcome(process)[0] == 0
