"""Progress of a long apply, end to end: lines in a CI log, a live line on a terminal, Ctrl-C.

The lab's joins are made slow (2.6 s) and the log period short (RECONCILE_PROGRESS_PERIOD=1)
so a test sees several "still waiting" lines without waiting ten seconds for each.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.simulator.service import SimulatedCluster
from reconciler.simulator.state import Durations
from tests.e2e.conftest import LAB_ENV, lab_cluster, reconcile
from tests.support.terminal import ANSI, run_in_terminal

pytestmark = pytest.mark.e2e
SLOW = Durations(remove=1.4, initialize=0.3, join=2.6, upgrade_schema=0.2)
STILL_WAITING = re.compile(
    r"^\[(cms[23])\] join (\S+): still waiting for In Sync \((\d+)s elapsed, timeout 10m\)$",
    re.MULTILINE,
)


@pytest.fixture
def slow_lab(lab_repo: Path, tmp_path: Path) -> Iterator[SimulatedCluster]:
    """The lab, in-process, with slow joins (and removes, for the Ctrl-C test)."""
    with lab_cluster(lab_repo, tmp_path / "sim", durations=SLOW) as cluster:
        yield cluster


@pytest.mark.parametrize("output_format", ["json", "markdown"])
def test_a_ci_log_hears_that_a_slow_join_is_still_waiting(
    slow_lab: SimulatedCluster, lab_repo: Path, output_format: str
) -> None:
    result = reconcile(
        "--apply",
        "--auto-approve",
        "--cluster",
        "lab",
        "--format",
        output_format,
        repo=lab_repo,
        env={"RECONCILE_PROGRESS_PERIOD": "1"},
    )
    assert result.returncode == 0, result.stderr
    master = slow_lab.node("cms1").address
    lines = STILL_WAITING.findall(result.stderr)
    for node in ("cms2", "cms3"):
        seconds = [int(elapsed) for name, target, elapsed in lines if name == node]
        assert {target for name, target, _ in lines if name == node} == {master}
        assert len(seconds) >= 2, result.stderr  # a 2.6 s join, a line every second
        assert seconds == sorted(seconds)
    assert "still waiting for Disabled" in result.stderr  # the 2 s removes, too
    # A log gets no live line: no cursor movements, no colour.
    assert "\x1b[" not in result.stderr
    # stdout is the outcome alone.
    assert "still waiting" not in result.stdout
    if output_format == "json":
        assert json.loads(result.stdout)["converged"] is True
    else:
        assert result.stdout.startswith("<!-- cms-reconciler apply -->\n")
    assert "Traceback" not in result.stderr + result.stdout


def test_a_terminal_gets_a_live_line_and_ctrl_c_clears_it_before_the_message(
    slow_lab: SimulatedCluster, lab_repo: Path
) -> None:
    run = run_in_terminal(
        ["--apply", "--auto-approve", "--cluster", "lab"],
        repo=lab_repo,
        env=LAB_ENV,
        columns=60,  # the live line fits; a narrower terminal cuts it short with "…"
        interrupt_when=lambda shown: "waiting for Disabled" in shown,
    )
    assert run.exit_code == 130, run.text
    assert run.interrupted_at is not None
    before, after = run.raw[: run.interrupted_at], run.raw[run.interrupted_at :]
    # The live line: step number, node, what it waits for and the time against the timeout.
    shown = ANSI.sub("", before)
    assert re.search(r"\d+/27 \[cms\d\] remove — waiting for Disabled \d:\d\d / 5:00", shown)
    assert "still waiting" not in run.raw  # that is for logs
    # After Ctrl-C: the line is erased, then the message, and nothing is drawn after it.
    message = after.index("error: apply interrupted")
    assert "\x1b[2K" in after[:message]
    assert "waiting for" not in after[message:]
    assert "Traceback" not in run.text
    text = run.text
    # The command to run next is never broken, however narrow the terminal.
    assert "Run `reconcile plan` to see the safe continuation from here." in text
    # Nothing was sent after the interrupt: the journal ends with the interrupted step, the
    # transcripts and the end; the lock was released, so the next apply runs and converges.
    events = [
        json.loads(line)
        for path in sorted((lab_repo / ".reconcile" / "journal").glob("lab-*.jsonl"))
        for line in path.read_text().splitlines()
    ]
    kinds = [event["event"] for event in events]
    after_interrupt = kinds[kinds.index("step.interrupted") + 1 :]
    assert set(after_interrupt) == {"transcript", "apply.end"}, kinds
    assert events[-1]["interrupted"] is True
    deadline = time.monotonic() + 30
    while reconcile("--plan", "--cluster", "lab", repo=lab_repo).returncode == 1:
        assert time.monotonic() < deadline, "the interrupted remove never finished"
        time.sleep(0.5)  # the node carries out the remove it was sent
    final = reconcile("--apply", "--auto-approve", "--cluster", "lab", repo=lab_repo)
    assert final.returncode == 0, final.stderr


def test_a_terminal_shows_each_finished_step_and_no_progress_is_left_over(
    slow_lab: SimulatedCluster, lab_repo: Path
) -> None:
    run = run_in_terminal(
        ["--apply", "--auto-approve", "--cluster", "lab"], repo=lab_repo, env=LAB_ENV
    )
    assert run.exit_code == 0, run.text
    text = run.text
    assert "waiting for In Sync" in run.raw
    for number in range(1, 28):
        assert re.search(rf"done +{number}/27 \[cms\d\] ", text), number
    # The outcome's last line before the converged plan's caveat (issue 23, item 6).
    assert "Apply complete: every cluster is converged.\nNote: certificates are judged" in text
    assert "Traceback" not in text
