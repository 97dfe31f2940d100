"""Issue 24: strict where it is cheap, tolerant where stopping hurts.

Once a node has left the cluster, a step is judged by its post-condition read back from the
node, not by the exact words: an extra line after ``certs`` is recorded, an unknown status
during a wait means "not finished yet" (until the timeout, whose error quotes it). Planning
reads stay strict.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from reconciler.apply.executor import Executor
from reconciler.apply.journal import Journal
from reconciler.apply.waits import (
    Clock,
    Waiting,
    read_status,
    read_status_tolerantly,
    wait_for_operation,
)
from reconciler.errors import ApplyFailed, OperationTimeout, StatusParseError
from reconciler.mmp.parsers.certs import read_certs_answer
from reconciler.plan.models import Action, ClusterPlan, Expectation, Impact, Step, Strategy
from reconciler.progress import ApplyProgress
from tests.support.fake_session import FakeSession
from tests.unit.apply.test_safety import CERTS, DESIRED

DISABLED = "Status : Disabled\nNode in use : None\n\nInterface : a\n\nCertificates\n"
LOADED = DISABLED + (
    "  Server Key         : s.key\n"
    "  Server Certificate : s.cer\n"
    "  Client Key         : c.key\n"
    "  Client Certificate : c.cer\n"
    "  CA Certificate     : ca.cer\n"
)
OLD_FILES = LOADED.replace("ca.cer", "old-ca.cer")
REMOVED = DISABLED + "\nLast command : 'database cluster remove' (Success)\n"
JOINING_TWO_WORDS = (
    "Status : Joining cluster (Started {n} seconds ago)\n\nNodes:\nNode in use : None\n"
)
NEW_MEMBER_STATE = (
    "Status : Enabling (Started 2 seconds ago)\n\nNodes:\n"
    "  10.0.0.2 (me)      : Initialising\nNode in use : None\n"
)
SUCCEEDED = DISABLED + "\nLast command : 'database cluster remove' (Succeeded)\n"
SUCCESS_LINE = "SUCCESS: Key and certificate pair match"

CERTS_STEP = Step(
    id=3, node="10.0.0.2", node_name="cms2", action=Action.CERTS, command=CERTS, reason="t"
)
REMOVE_STEP = Step(
    id=2,
    node="10.0.0.2",
    node_name="cms2",
    action=Action.REMOVE,
    command="database cluster remove",
    reason="t",
)


def truthful(case: str) -> pytest.MarkDecorator:
    return pytest.mark.reliability(section="truthful", case=case)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> Clock:
        return Clock(now=lambda: self.now, sleep=self._sleep)

    def _sleep(self, seconds: float) -> None:
        self.now += seconds


class Heard:
    """A Progress that keeps what it heard."""

    def __init__(self) -> None:
        self.waits: list[Waiting] = []

    def started(self, cluster: str, step: Step, total: int) -> None:
        pass

    def waiting(self, step: Step, wait: Waiting) -> None:
        self.waits.append(wait)

    def ended(self, step: Step, state: str, seconds: float) -> None:
        pass


def executor(
    session: FakeSession, tmp_path: Path, step: Step, progress: Heard | None = None
) -> Executor:
    plan = ClusterPlan(
        name="lab",
        state_fingerprint="x",
        strategy=Strategy.REFORM,
        findings=[],
        steps=[step],
        impact=Impact(restarts=[], max_nodes_out=0, estimated_seconds=0, summary=""),
    )
    return Executor(
        plan,
        DESIRED,
        {"10.0.0.2": session},
        journal=Journal(tmp_path / "j.jsonl"),
        backup_dir=tmp_path,
        progress=progress,
        clock=FakeClock().clock(),
    )


def unknown_events(tmp_path: Path) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in (tmp_path / "j.jsonl").read_text().splitlines()]
    return [record for record in records if record["event"] == "device.unknown"]


# --- certs ------------------------------------------------------------------------------
@truthful("an extra SUCCESS: line after certs is recorded, not fatal")
def test_an_extra_success_line_after_certs_is_recorded_and_the_status_decides(
    tmp_path: Path,
) -> None:
    session = FakeSession(statuses=[DISABLED, LOADED])
    session.replies[CERTS] = f"{SUCCESS_LINE}\nCertificates updated\n"
    executor(session, tmp_path, CERTS_STEP)._certs(CERTS_STEP)
    assert session.commands == ["database cluster status", CERTS, "database cluster status"]
    [event] = unknown_events(tmp_path)
    assert event["line"] == SUCCESS_LINE
    assert event["command"] == CERTS
    assert event["node"] == "10.0.0.2"


@pytest.mark.parametrize(
    "answer",
    [
        "FAILURE: Key and certificate pair do not match\n",
        "ERROR: File not found: s.key\n",
        "error while loading s.key\n",
        "Usage:\n  database cluster certs <server_key> ...\n",
        "Certificates updated\nFAILURE: something after\n",
    ],
)
@truthful("a refusal after certs fails the step")
def test_a_line_starting_error_failure_or_usage_fails_certs(tmp_path: Path, answer: str) -> None:
    session = FakeSession(statuses=[DISABLED, LOADED])
    session.replies[CERTS] = answer
    with pytest.raises(ApplyFailed, match="the node refused: "):
        executor(session, tmp_path, CERTS_STEP)._certs(CERTS_STEP)
    assert session.commands == ["database cluster status", CERTS]  # no read-back needed


@truthful("certs is judged by the files the status names")
def test_certs_that_did_not_load_the_uploaded_files_fails_whatever_it_said(
    tmp_path: Path,
) -> None:
    session = FakeSession(statuses=[DISABLED, OLD_FILES])
    session.replies[CERTS] = "Certificates updated\n"
    with pytest.raises(ApplyFailed, match=r"names .*'old-ca.cer'.*not the uploaded"):
        executor(session, tmp_path, CERTS_STEP)._certs(CERTS_STEP)


def test_certs_answer_sorts_refusals_success_and_other_lines() -> None:
    echoed = f"cms2> {CERTS}\n{SUCCESS_LINE}\n...\nCertificates updated\ncms2> "
    answer = read_certs_answer(echoed)
    assert (answer.refusal, answer.updated, answer.other) == (None, True, (SUCCESS_LINE, "..."))
    refused = read_certs_answer("ERROR: Cannot change certificates\nDisable clustering first\n")
    assert refused.refusal == "ERROR: Cannot change certificates / Disable clustering first"


# --- waits --------------------------------------------------------------------------------
def test_every_unknown_line_is_found_and_the_rest_still_read() -> None:
    status, unknown = read_status_tolerantly(NEW_MEMBER_STATE + "Progress : 40%\n")
    assert unknown == ("10.0.0.2 (me)      : Initialising", "Progress : 40%")
    assert status is not None
    assert status.transitional
    assert read_status_tolerantly(REMOVED) == (read_status_tolerantly(REMOVED)[0], ())


@truthful("an unknown status word during a wait is not finished yet")
def test_an_unknown_status_during_a_wait_is_reported_once_then_the_end_is_seen(
    tmp_path: Path,
) -> None:
    statuses = [JOINING_TWO_WORDS.format(n=n) for n in (1, 2, 3)] + [REMOVED]
    session = FakeSession(statuses=statuses)
    heard = Heard()
    run = executor(session, tmp_path, REMOVE_STEP, heard)
    status = run._run_and_wait(REMOVE_STEP, session, None)
    assert status.state == "Disabled"
    reported = [line for wait in heard.waits for line in wait.unknown]
    assert reported == ["Status : Joining cluster (Started 1 seconds ago)"]  # once
    [event] = unknown_events(tmp_path)
    assert event["line"] == reported[0]
    assert event["command"] == "database cluster status"


@truthful("an unknown member state during a wait is not finished yet")
def test_an_unknown_member_state_is_not_taken_for_the_end() -> None:
    session = FakeSession(statuses=[NEW_MEMBER_STATE, NEW_MEMBER_STATE, REMOVED])
    clock = FakeClock()
    heard: list[Waiting] = []
    wait_for_operation(
        session,
        "database cluster remove",
        Expectation.DISABLED,
        master="10.0.0.1",
        timeout=60,
        clock=clock.clock(),
        on_poll=heard.append,
    )
    assert len(session.commands) == 3
    assert [wait.unknown for wait in heard] == [("10.0.0.2 (me)      : Initialising",), ()]


@truthful("after the timeout the error quotes the unknown line")
def test_an_unknown_last_command_result_waits_for_the_timeout_and_is_quoted() -> None:
    session = FakeSession(statuses=[SUCCEEDED])
    with pytest.raises(OperationTimeout) as caught:
        wait_for_operation(
            session,
            "database cluster remove",
            Expectation.DISABLED,
            master="10.0.0.1",
            timeout=5,
            clock=FakeClock().clock(),
        )
    message = str(caught.value)
    assert "within 5 s" in message
    assert "'Last command : 'database cluster remove' (Succeeded)'" in message
    assert "which cms-reconciler does not know" in message


@truthful("planning reads stay strict")
def test_planning_reads_still_refuse_what_they_cannot_read() -> None:
    for text in (JOINING_TWO_WORDS.format(n=1), NEW_MEMBER_STATE, SUCCEEDED):
        with pytest.raises(StatusParseError, match="cms2: status not understood"):
            read_status(FakeSession(statuses=[text]))


def test_the_progress_shows_each_unknown_line_once() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, force_terminal=False, color_system=None)
    progress = ApplyProgress(console, live=False, period=3600, clock=lambda: 0.0)
    line = "Status : Joining cluster (Started 1 seconds ago)"
    for unknown in ((line,), ()):
        progress.waiting(
            REMOVE_STEP,
            Waiting(
                node="10.0.0.2",
                command=REMOVE_STEP.command,
                expect=Expectation.DISABLED,
                elapsed=1.0,
                timeout=300,
                status_text=None,
                unknown=unknown,
            ),
        )
    said = (
        f"[cms2] remove: the node says '{line}', which cms-reconciler does not know; "
        "still waiting\n"
    )
    assert buffer.getvalue().count(said) == 1
