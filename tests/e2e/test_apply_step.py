"""``reconcile apply --step`` on a real pseudo-terminal against the simulated lab: a person
answers ``y`` to the first steps, something else once, then ``q``; apply stops as Ctrl-C
does, nothing more is sent, and the next plan continues from where it stopped."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from reconciler.apply.supervised import STEP_QUESTION
from reconciler.simulator.service import SimulatedCluster
from tests.e2e.conftest import LAB_ENV, RECONCILE, reconcile
from tests.support.terminal import ANSI

pytestmark = pytest.mark.e2e
NODES = ("cms1", "cms2", "cms3")


@dataclass
class Stepped:
    code: int
    output: str  # what the terminal showed, escape sequences removed
    sent_at_stop: dict[str, int] = field(default_factory=dict)  # each node's command count


def apply_step_by_step(repo: Path, sim: SimulatedCluster, answers: list[str]) -> Stepped:
    """``reconcile apply --step`` on a terminal: ``yes`` to the plan, then ``answers`` to
    the step questions in turn; the simulator's command counts when the last one is typed."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [*RECONCILE, "apply", "--step", "--cluster", "lab", "--repo", str(repo)],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, **LAB_ENV, "COLUMNS": "200"},
        close_fds=True,
    )
    os.close(terminal)
    seen, approved, asked = b"", False, 0
    sent: dict[str, int] = {}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the CLI closed the terminal
            break
        if not chunk:
            break
        seen += chunk
        text = seen.decode(errors="replace")
        if not approved and "Only 'yes' is accepted" in text:
            os.write(controller, b"yes\r")
            approved = True
        if asked < len(answers) and text.count(STEP_QUESTION) > asked:
            if asked == len(answers) - 1:
                sent = {node: len(sim.commands(node)) for node in NODES}
            os.write(controller, answers[asked].encode() + b"\r")
            asked += 1
    code = process.wait(timeout=120)
    os.close(controller)
    output = ANSI.sub("", seen.decode(errors="replace")).replace("\r", "")
    assert asked == len(answers), output[-3000:]
    return Stepped(code, output, sent)


def journal_events(repo: Path) -> list[dict[str, object]]:
    [path] = sorted((repo / ".reconcile" / "journal").glob("lab-*.jsonl"))
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_supervised_apply_runs_on_y_and_stops_on_q_as_ctrl_c_does(
    lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    run = apply_step_by_step(lab_repo, lab_sim, ["y", "y", "maybe", "y", "q"])
    assert run.code == 130, run.output[-3000:]
    assert "Traceback" not in run.output
    # Before each question: the step as the plan renders it and the node's status now.
    assert re.search(r"Step \d+/\d+ of cluster lab: \w+ on cms\d \(", run.output)
    assert "will run: " in run.output
    assert "now says (database cluster status, read just now):" in run.output
    assert "    Status" in run.output
    assert "Answer 'y' to run this step or 'q' to stop the apply before it." in run.output
    events = journal_events(lab_repo)
    assert events[0]["event"] == "apply.start"
    assert events[0]["supervised"] is True
    asked = [event for event in events if event["event"] == "step.asked"]
    assert [event["answers"] for event in asked] == [["y"], ["y"], ["maybe", "y"], ["q"]]
    assert [event["decision"] for event in asked] == ["run", "run", "run", "stop"]
    declined = asked[-1]
    done = [event["id"] for event in events if event["event"] == "step.done"]
    # Backups run without a question: more steps ran than were asked about.
    assert len(done) > 3
    assert done[-1] == int(str(declined["id"])) - 1
    # The stop is Ctrl-C's: the same message, journal end, released lock.
    assert f"error: apply interrupted: cluster lab stopped after step {done[-1]}" in run.output
    assert "completed; no later step was sent." in run.output
    assert "Run `reconcile plan` to see the safe continuation from here." in run.output
    kinds = [str(event["event"]) for event in events]
    stopped = len(kinds) - 1 - kinds[::-1].index("step.asked")
    assert set(kinds[stopped + 1 :]) == {"transcript", "apply.end"}, kinds
    assert events[-1]["event"] == "apply.end"
    assert events[-1]["interrupted"] is True
    # Nothing was sent after the q: the commands since are none.
    assert {node: len(lab_sim.commands(node)) for node in NODES} == run.sent_at_stop
    # The next plan continues from there, and an apply (the lock released) converges.
    plan = reconcile("plan", "--cluster", "lab", repo=lab_repo)
    assert plan.returncode == 2, plan.stderr
    assert str(declined["command"]) in plan.stdout
    final = reconcile("apply", "--auto-approve", "--cluster", "lab", repo=lab_repo)
    assert final.returncode == 0, final.stderr


def test_ctrl_d_at_the_question_stops_too(lab_sim: SimulatedCluster, lab_repo: Path) -> None:
    run = apply_step_by_step(lab_repo, lab_sim, ["\x04"])
    assert run.code == 130, run.output[-3000:]
    assert "error: apply interrupted: cluster lab stopped " in run.output
    asked = [event for event in journal_events(lab_repo) if event["event"] == "step.asked"]
    assert [event["decision"] for event in asked] == ["interrupted"]
    assert {node: len(lab_sim.commands(node)) for node in NODES} == run.sent_at_stop
