"""``reconcile apply --step``: the gate the executor calls before each step that changes a
node, with the question the CLI asks (apply.supervised), against an in-memory node."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from reconciler.apply.executor import Executor
from reconciler.apply.journal import Journal
from reconciler.apply.supervised import (
    ANSWERS_HINT,
    STEP_QUESTION,
    Decision,
    Preview,
    ask_step,
    asks_before,
)
from reconciler.apply.waits import Clock
from reconciler.errors import ApplyInterrupted
from reconciler.plan.models import Action, ClusterPlan, Impact, Step, Strategy
from tests.support.fake_session import FakeSession
from tests.unit.apply.test_safety import DESIRED

ENABLED = (
    "Status : Enabled\nNodes:\n    10.0.0.2 (me) : Connected Slave ( In Sync )\n"
    "    10.0.0.1 : Connected Master\nNode in use : 10.0.0.1\n\nInterface : a\n\n"
    "Certificates\n"
)
REMOVED = (
    "Status : Disabled\nNode in use : None\n\nInterface : a\n\nCertificates\n\n"
    "Last command : 'database cluster remove' (Success)\n"
)
BACKUP = Step(
    id=1,
    node="10.0.0.2",
    node_name="cms2",
    action=Action.BACKUP,
    command="backup snapshot lab-cms2-20261202T050000Z",
    reason="before anything changes on cms2",
    backup_name="lab-cms2-20261202T050000Z",
)
REMOVE = Step(
    id=2,
    node="10.0.0.2",
    node_name="cms2",
    action=Action.REMOVE,
    command="database cluster remove",
    reason="cms2 leaves the cluster for its new certificates",
)
JOIN = Step(
    id=3,
    node="10.0.0.2",
    node_name="cms2",
    action=Action.JOIN,
    command="database cluster join 10.0.0.1",
    reason="cms2 joins again",
)


def plan_of(*steps: Step) -> ClusterPlan:
    return ClusterPlan(
        name="lab",
        state_fingerprint="x",
        strategy=Strategy.ROLLING,
        findings=[],
        steps=list(steps),
        impact=Impact(restarts=[], max_nodes_out=0, estimated_seconds=0, summary=""),
    )


class Person:
    """The CLI's gate without a terminal: ``ask_step`` with scripted answers."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.asked: list[str] = []
        self.said: list[str] = []
        self.previews: list[Preview] = []

    def __call__(self, preview: Preview) -> Decision:
        self.previews.append(preview)
        return ask_step(preview, self._ask, self.said.append)

    def _ask(self, question: str) -> str:
        self.asked.append(question)
        return self.answers.pop(0)


def supervised(
    session: FakeSession, tmp_path: Path, person: Person, *steps: Step
) -> tuple[Executor, threading.Event]:
    """An executor of a plan: a backup of cms2 (never asked about), then ``steps``."""
    cancel = threading.Event()
    name = BACKUP.backup_name
    session.replies[BACKUP.command] = f"{name}.bak ready for download\n"
    session.files.update({f"{name}.bak": b"snapshot", f"{name}.json": b"{}"})
    executor = Executor(
        plan_of(BACKUP, *steps),
        DESIRED,
        {"10.0.0.2": session},
        journal=Journal(tmp_path / "j.jsonl"),
        backup_dir=tmp_path,
        clock=Clock(now=lambda: 0.0, sleep=lambda seconds: None),
        cancel=cancel,
        gate=person,
    )
    return executor, cancel


def journal(tmp_path: Path, event: str) -> list[dict[str, object]]:
    records = [json.loads(line) for line in (tmp_path / "j.jsonl").read_text().splitlines()]
    return [record for record in records if record["event"] == event]


def test_y_runs_the_step_after_showing_the_status_read_just_then(tmp_path: Path) -> None:
    session = FakeSession(statuses=[ENABLED, ENABLED, REMOVED])
    person = Person("y")
    executor, cancel = supervised(session, tmp_path, person, REMOVE)
    outcome = executor.run_steps()
    assert outcome.error is None
    assert [step.state for step in outcome.steps] == ["done", "done"]
    assert person.asked == [STEP_QUESTION]  # once: not before the backup
    # The status was read for the question, before the step's own read and its command.
    assert session.commands[:4] == [
        BACKUP.command,
        "database cluster status",
        "database cluster status",
        "database cluster remove",
    ]
    preview = person.previews[0]
    assert preview.status is not None
    assert preview.status.state == "Enabled"
    shown = person.said[0]
    assert "Step 2/2 of cluster lab: remove on cms2 (10.0.0.2)" in shown
    assert "will run: database cluster remove" in shown
    assert "why: cms2 leaves the cluster for its new certificates" in shown
    assert "    Status : Enabled" in shown  # the node's own words
    assert "read as: Enabled; replica; in sync" in shown
    assert not cancel.is_set()
    [asked] = journal(tmp_path, "step.asked")
    assert (asked["id"], asked["answers"], asked["decision"]) == (2, ["y"], "run")
    assert asked["status"] == "Enabled"


def test_q_stops_before_the_step_as_ctrl_c_does(tmp_path: Path) -> None:
    session = FakeSession(statuses=[ENABLED, ENABLED, REMOVED, REMOVED])
    person = Person("y", "q")
    executor, cancel = supervised(session, tmp_path, person, REMOVE, JOIN)
    with pytest.raises(KeyboardInterrupt):
        executor.run_steps()
    assert cancel.is_set()  # the Ctrl-C path: the event every running cluster watches
    # Nothing of the join was sent: its question's status read was the last command.
    assert session.commands[-1] == "database cluster status"
    assert not any(command.startswith("database cluster join") for command in session.commands)
    assert executor.current_step is None
    assert executor.last_done == REMOVE
    assert "Stopping before step 3: nothing of it was sent." in person.said
    stop = ApplyInterrupted("lab", executor.current_step, Path("j"), after=executor.last_done)
    assert "cluster lab stopped after step 2 (remove on cms2) completed" in str(stop)
    outcome = executor.interrupted_outcome(stop.where)
    assert [step.state for step in outcome.steps] == ["done", "done", "not run"]
    assert outcome.interrupted
    answers = [
        (record["id"], record["answers"], record["decision"])
        for record in journal(tmp_path, "step.asked")
    ]
    assert answers == [(2, ["y"], "run"), (3, ["q"], "stop")]


def test_any_other_answer_asks_again(tmp_path: Path) -> None:
    session = FakeSession(statuses=[ENABLED, ENABLED, REMOVED])
    person = Person("yes", "", "n", " y ")
    executor, _ = supervised(session, tmp_path, person, REMOVE)
    assert executor.run_steps().error is None
    assert person.asked == [STEP_QUESTION] * 4
    assert person.said.count(ANSWERS_HINT) == 3
    [asked] = journal(tmp_path, "step.asked")
    assert asked["answers"] == ["yes", "", "n", " y "]


def test_a_backup_runs_without_a_question_and_other_steps_are_asked() -> None:
    assert not asks_before(BACKUP)
    assert all(asks_before(step) for step in (REMOVE, JOIN))
    assert {
        action for action in Action if not asks_before(BACKUP.model_copy(update={"action": action}))
    } == {Action.BACKUP}


def test_a_status_that_cannot_be_read_is_shown_as_such_and_still_asked(tmp_path: Path) -> None:
    session = FakeSession(statuses=["Status : Enabled\nsomething new\n"])
    person = Person("q")
    executor, _ = supervised(session, tmp_path, person, REMOVE)
    with pytest.raises(KeyboardInterrupt):
        executor.run_steps()
    assert person.previews[0].status is None
    assert "not understood:" in person.said[0]
    assert "    something new" in person.said[0]
    assert session.commands == [BACKUP.command, "database cluster status"]


def test_ctrl_c_at_the_question_stops_and_is_recorded(tmp_path: Path) -> None:
    session = FakeSession(statuses=[ENABLED])

    def interrupted(preview: Preview) -> Decision:
        raise KeyboardInterrupt

    executor, _ = supervised(session, tmp_path, Person(), REMOVE)
    executor.gate = interrupted
    with pytest.raises(KeyboardInterrupt):
        executor.run_steps()
    assert session.commands == [BACKUP.command, "database cluster status"]
    [asked] = journal(tmp_path, "step.asked")
    assert (asked["decision"], asked["answers"]) == ("interrupted", None)


def test_without_a_gate_nothing_is_asked_or_read(tmp_path: Path) -> None:
    session = FakeSession(statuses=[ENABLED, REMOVED])
    executor, _ = supervised(session, tmp_path, Person(), REMOVE)
    executor.gate = None
    assert executor.run_steps().error is None
    assert journal(tmp_path, "step.asked") == []
    assert session.commands[0] == BACKUP.command
    assert session.commands.count("database cluster status") == 2  # the step's own reads
