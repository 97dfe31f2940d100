"""Apply progress: a live line on a terminal, "still waiting" lines in a log; fake clocks only."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import pytest
from rich.console import Console

from reconciler.apply.executor import Executor
from reconciler.apply.journal import Journal
from reconciler.apply.waits import Clock, Waiting, wait_for_operation
from reconciler.errors import ConfigError
from reconciler.plan.models import Action, ClusterPlan, Expectation, Impact, Step, Strategy
from reconciler.progress import ApplyProgress, period_from, progress_printer, still_waiting
from tests.support.fake_session import FakeSession
from tests.unit.apply.test_safety import DESIRED

JOIN = Step(
    id=26,
    node="127.0.85.74",
    node_name="cms2",
    action=Action.JOIN,
    command="database cluster join 127.0.85.73",
    reason="t",
)
REMOVE = Step(
    id=4,
    node="10.0.0.2",
    node_name="cms2",
    action=Action.REMOVE,
    command="database cluster remove",
    reason="t",
)
DISABLING = "Status : Disabling (Started 3 seconds ago)\n\nNodes:\nNode in use : None\n"
DISABLED = (
    "Status : Disabled\nNode in use : None\n\nInterface : a\n\nCertificates\n\n"
    "Last command : 'database cluster remove' (Success)\n"
)
ENABLED = "Status : Enabled\nNode in use : None\n\nInterface : a\n\nCertificates\n"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class FakeTime:
    """One clock for the waits (now and sleep) and for the progress (now)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> Clock:
        return Clock(now=self, sleep=self.sleep)


def log_console(width: int = 200) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=width, force_terminal=False, color_system=None), buffer


def waiting(elapsed: float, expect: Expectation = Expectation.IN_SYNC) -> Waiting:
    return Waiting(
        node="cms2",
        command=JOIN.command,
        expect=expect,
        elapsed=elapsed,
        timeout=600,
        status_text="Enabled",
    )


# --- in a log (no terminal) -----------------------------------------------------------------


def test_a_log_gets_a_line_every_period_while_a_step_waits() -> None:
    console, buffer = log_console()
    progress = ApplyProgress(console, live=False, period=10, clock=FakeTime())
    progress.started("lab", JOIN, 27)
    for elapsed in (0.1, 3.0, 9.9, 10.2, 13.0, 19.9, 20.5, 31.0):
        progress.waiting(JOIN, waiting(elapsed))
    assert buffer.getvalue().splitlines() == [
        "[cms2] join 127.0.85.73: still waiting for In Sync (10s elapsed, timeout 10m)",
        "[cms2] join 127.0.85.73: still waiting for In Sync (20s elapsed, timeout 10m)",
        "[cms2] join 127.0.85.73: still waiting for In Sync (31s elapsed, timeout 10m)",
    ]


def test_a_step_that_ends_within_the_period_prints_only_its_result() -> None:
    console, buffer = log_console()
    progress = ApplyProgress(console, live=False, period=10, clock=FakeTime())
    progress.started("lab", JOIN, 27)
    progress.waiting(JOIN, waiting(4.0))
    progress.ended(JOIN, "done", 4.2)
    assert buffer.getvalue() == (
        "  done 26/27 [cms2] join       database cluster join 127.0.85.73  (4.2s)\n"
    )


def test_each_step_counts_its_own_period() -> None:
    console, buffer = log_console()
    progress = ApplyProgress(console, live=False, period=10, clock=FakeTime())
    progress.started("lab", REMOVE, 27)
    progress.waiting(REMOVE, waiting(12, Expectation.DISABLED))
    progress.ended(REMOVE, "done", 13)
    progress.started("lab", JOIN, 27)
    progress.waiting(JOIN, waiting(5))
    progress.waiting(JOIN, waiting(11))
    lines = buffer.getvalue().splitlines()
    assert lines[0] == "[cms2] remove: still waiting for Disabled (12s elapsed, timeout 10m)"
    assert lines[1].startswith("  done  4/27 [cms2] remove ")
    assert lines[2].startswith("[cms2] join 127.0.85.73: still waiting for In Sync (11s")
    assert len(lines) == 3


def test_minutes_are_said_in_minutes() -> None:
    line = still_waiting(JOIN, waiting(125.4))
    assert line.endswith("(2m 5s elapsed, timeout 10m)")


def test_a_log_line_is_never_wrapped_however_narrow_the_console() -> None:
    console, buffer = log_console(width=30)
    progress = ApplyProgress(console, live=False, period=10, clock=FakeTime())
    progress.started("lab", JOIN, 27)
    progress.ended(JOIN, "failed", 1.0)
    assert buffer.getvalue().count("\n") == 1
    assert "database cluster join 127.0.85.73" in buffer.getvalue()


def test_the_waits_report_every_poll_and_the_log_hears_every_period() -> None:
    """The real wait loop, its intervals and a fake clock: a line at 10 s and 20 s of waiting."""
    time_ = FakeTime()
    console, buffer = log_console()
    progress = ApplyProgress(console, live=False, period=10, clock=time_)
    session = FakeSession(statuses=[DISABLING] * 70 + [DISABLED])  # about 22 s of polls
    polls: list[Waiting] = []

    def on_poll(wait: Waiting) -> None:
        polls.append(wait)
        progress.waiting(REMOVE, wait)

    progress.started("lab", REMOVE, 27)
    wait_for_operation(
        session,
        "database cluster remove",
        Expectation.DISABLED,
        master="10.0.0.1",
        timeout=300,
        clock=time_.clock(),
        on_poll=on_poll,
    )
    assert len(polls) == 70  # every poll but the last, which found the node Disabled
    assert [wait.elapsed for wait in polls] == sorted(wait.elapsed for wait in polls)
    assert {wait.expect for wait in polls} == {Expectation.DISABLED}
    assert {wait.timeout for wait in polls} == {300}
    assert str(polls[0].status_text).startswith("Disabling")
    lines = buffer.getvalue().splitlines()
    assert 20 < polls[-1].elapsed < 30
    assert len(lines) == 2, lines
    assert all(line.startswith("[cms2] remove: still waiting for Disabled (") for line in lines)


def test_the_executor_tells_the_progress_of_each_poll(tmp_path: Path) -> None:
    class Recorder:
        def __init__(self) -> None:
            self.polls: list[tuple[int, Expectation]] = []

        def started(self, cluster: str, step: Step, total: int) -> None:
            pass

        def waiting(self, step: Step, wait: Waiting) -> None:
            self.polls.append((step.id, wait.expect))

        def ended(self, step: Step, state: str, seconds: float) -> None:
            pass

    recorder = Recorder()
    session = FakeSession(statuses=[ENABLED, DISABLING, DISABLING, DISABLED])
    plan = ClusterPlan(
        name="lab",
        state_fingerprint="x",
        strategy=Strategy.ROLLING,
        findings=[],
        steps=[REMOVE],
        impact=Impact(restarts=[], max_nodes_out=0, estimated_seconds=0, summary=""),
    )
    executor = Executor(
        plan,
        DESIRED,
        {"10.0.0.2": session},
        journal=Journal(tmp_path / "j.jsonl"),
        backup_dir=tmp_path,
        progress=recorder,
        clock=FakeTime().clock(),
    )
    executor.backed_up.add("10.0.0.2")
    executor._execute(REMOVE)
    assert recorder.polls == [(4, Expectation.DISABLED)] * 2


# --- on a terminal -----------------------------------------------------------------------------


def test_the_live_line_shows_the_step_what_it_waits_for_and_the_time() -> None:
    time_ = FakeTime(start=100)
    console, _ = log_console()
    progress = ApplyProgress(console, live=True, period=10, clock=time_)
    assert progress.line().plain == ""
    progress.started("lab", REMOVE, 27)
    time_.now = 103
    assert progress.line().plain == "4/27 [cms2] remove 0:03"
    wait = Waiting("cms2", REMOVE.command, Expectation.DISABLED, 40, 300, "Disabling")
    progress.waiting(REMOVE, wait)
    time_.now = 105  # the line keeps counting between polls
    assert progress.line().plain == "4/27 [cms2] remove — waiting for Disabled 0:42 / 5:00"
    progress.ended(REMOVE, "done", 45)
    assert progress.line().plain == ""


def test_a_live_terminal_gets_no_still_waiting_lines() -> None:
    console, buffer = log_console()
    progress = ApplyProgress(console, live=True, period=10, clock=FakeTime())
    progress.started("lab", JOIN, 27)
    progress.waiting(JOIN, waiting(35))
    assert buffer.getvalue() == ""


def test_the_cluster_is_named_when_the_apply_changes_several() -> None:
    console, _ = log_console()
    progress = ApplyProgress(console, live=True, clock=FakeTime(), show_cluster=True)
    progress.started("lab", JOIN, 27)
    assert progress.line().plain.startswith("lab 26/27 [cms2] join 127.0.85.73")


def test_clusters_applying_at_once_get_a_live_line_each_and_named_results() -> None:
    console, buffer = log_console()
    progress = ApplyProgress(console, live=True, clock=FakeTime(), show_cluster=True)
    other = JOIN.model_copy(update={"node": "127.0.9.2"})  # equal ids, another cluster
    progress.started("lab", JOIN, 27)
    progress.started("branch", other, 27)
    progress.waiting(other, waiting(5))
    assert progress.line().plain.splitlines() == [
        "branch 26/27 [cms2] join 127.0.85.73 — waiting for In Sync 0:05 / 10:00",
        "lab 26/27 [cms2] join 127.0.85.73 0:00",
    ]
    progress.ended(other, "done", 5)
    assert progress.line().plain == "lab 26/27 [cms2] join 127.0.85.73 0:00"
    assert buffer.getvalue().split()[:3] == ["done", "branch", "26/27"]


def test_the_live_lines_are_one_line_each_on_a_narrow_terminal() -> None:
    console = Console(file=io.StringIO(), width=20, force_terminal=True)
    progress = ApplyProgress(console, live=True, clock=FakeTime(), show_cluster=True)
    progress.started("lab", JOIN, 27)
    progress.started("branch", JOIN.model_copy(), 27)
    assert len(console.render_lines(progress.line())) == 2


def test_the_live_line_is_one_line_on_a_narrow_terminal() -> None:
    console = Console(file=io.StringIO(), width=20, force_terminal=True)
    progress = ApplyProgress(console, live=True, clock=FakeTime())
    progress.started("lab", JOIN, 27)
    progress.waiting(JOIN, waiting(1))
    assert len(console.render_lines(progress.line())) == 1


def test_stopping_clears_the_live_line_and_nothing_is_drawn_after() -> None:
    """As on Ctrl-C: the block is left by an exception; the line is erased, the display
    thread stops, and what the step printed stays."""
    buffer = io.StringIO()
    console = Console(
        file=buffer, width=60, force_terminal=True, force_interactive=True, color_system=None
    )

    def interrupted_apply() -> None:
        with progress_printer(console, env={}) as progress:
            assert progress.live
            progress.started("lab", REMOVE, 27)
            progress.ended(REMOVE, "done", 1.0)
            progress.started("lab", JOIN, 27)
            progress.waiting(JOIN, waiting(2))
            time.sleep(0.3)  # let the display draw the line at least once
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted_apply()
    drawn = buffer.getvalue()
    assert "done  4/27 [cms2] remove" in ANSI.sub("", drawn)
    # 60 cells: what the step waits for is cut, its clock and timeout are not.
    assert "26/27 [cms2] join 127.0.85.73 — waiting for In… 0:02 / 10:00" in drawn
    assert drawn.endswith("\x1b[1A\x1b[2K")  # the live line erased, last of all
    assert console._live_stack == []
    time.sleep(0.3)
    assert buffer.getvalue() == drawn  # the display thread has stopped


# --- the period ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"), [(None, 10.0), ("", 10.0), ("2", 2.0), ("2s", 2.0), ("500ms", 0.5)]
)
def test_the_period_can_be_overridden(value: str | None, seconds: float) -> None:
    env = {} if value is None else {"RECONCILE_PROGRESS_PERIOD": value}
    assert period_from(env) == seconds


@pytest.mark.parametrize("value", ["0", "soon", "-1s"])
def test_a_bad_period_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="RECONCILE_PROGRESS_PERIOD"):
        period_from({"RECONCILE_PROGRESS_PERIOD": value})


def rendered(progress: ApplyProgress, width: int) -> list[str]:
    """The live display as a terminal ``width`` cells wide draws it, line by line."""
    console = Console(file=io.StringIO(), width=width, force_terminal=True, color_system=None)
    return [
        "".join(segment.text for segment in line).rstrip()
        for line in console.render_lines(progress)
    ]


def test_a_narrow_terminal_cuts_the_step_name_first_and_keeps_the_clock() -> None:
    """Issue 23: the clock and the timeout are what a person watching a wait needs; the
    step's name and what it waits for give way first, then the step number and node."""
    progress = ApplyProgress(log_console()[0], live=True, clock=FakeTime())
    progress.started("lab", JOIN, 27)
    progress.waiting(JOIN, waiting(42))
    assert rendered(progress, 80) == [
        "26/27 [cms2] join 127.0.85.73 — waiting for In Sync 0:42 / 10:00"
    ]
    assert rendered(progress, 40) == ["26/27 [cms2] join 127.0.85… 0:42 / 10:00"]
    assert rendered(progress, 26) == ["26/27 [cms2] 0:42 / 10:00"]  # no room for the name
    assert rendered(progress, 20) == ["26/27 … 0:42 / 10:00"]  # then the node is cut
    assert rendered(progress, 12) == ["0:42 / 10:00"]


def test_every_cluster_keeps_its_clock_on_a_narrow_terminal() -> None:
    progress = ApplyProgress(log_console()[0], live=True, clock=FakeTime(), show_cluster=True)
    progress.started("lab", REMOVE, 27)
    progress.started("branch", JOIN, 27)
    progress.waiting(JOIN, waiting(5))
    assert rendered(progress, 36) == [
        "branch 26/27 [cms2] jo… 0:05 / 10:00",
        "lab 4/27 [cms2] remove 0:00",
    ]
    assert rendered(progress, 30) == [
        "branch 26/27 [cm… 0:05 / 10:00",
        "lab 4/27 [cms2] remove 0:00",
    ]
