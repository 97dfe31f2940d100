"""``reconcile apply --step``: a person answers before each step that changes a node.

For an operator's first rotation on a real cluster. The executor calls a *gate* before
each step that ``asks_before`` (every step but a backup: see docs/design.md, "Applying"),
with a ``Preview``: the node's status, read live just before the question, and the step as
the plan renders it (its description and exact command). The gate answers with a
``Decision``: run it, or stop. Stopping takes the path of Ctrl-C (``reconciler.interrupts``):
the executor sets its cancel event and stops at the checkpoint before the step, so nothing
of it is sent, and apply ends as an interrupted apply does.

``ask_step`` is the question itself, written against two callables (ask a line, say a
text) so that the executor and this module hold no terminal I/O: the CLI passes its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reconciler.mmp.models import ClusterStatus
from reconciler.plan.actions import ACTIONS
from reconciler.plan.models import Step

STEP_QUESTION = "Run this step? 'y' runs it, 'q' stops the apply here"
ANSWERS_HINT = "Answer 'y' to run this step or 'q' to stop the apply before it."


def asks_before(step: Step) -> bool:
    """Whether a supervised apply asks before ``step``: every step kind but those whose
    ``ActionSpec.asked`` is False (a backup: it changes nothing the node runs, and is the
    precondition of every destructive step on its node)."""
    return ACTIONS[step.action].asked


@dataclass(frozen=True)
class Preview:
    """What the person sees before a step: ``status`` is ``database cluster status`` read
    just now (``output``, the node's own words; ``problem``, why it could not be read or
    understood, the status then ``None``)."""

    cluster: str
    step: Step
    total: int
    output: str
    status: ClusterStatus | None
    problem: str | None = None


@dataclass(frozen=True)
class Decision:
    """The gate's answer: ``run`` the step or stop; ``answers``, every line typed, in order
    (the journal records them)."""

    run: bool
    answers: tuple[str, ...] = ()


Gate = Callable[[Preview], Decision]


def preview_text(preview: Preview) -> str:
    """The step and its node's status, for the person about to answer."""
    step = preview.step
    node = f"{step.node_name} ({step.node})" if step.node_name else step.node
    lines = [
        f"Step {step.id}/{preview.total} of cluster {preview.cluster}: {step.action.value} "
        f"on {node}",
        f"  will run: {step.command}",
        f"  why: {step.reason}"
        + (f" (after {', '.join(map(str, step.after))})" if step.after else ""),
        f"  {node} now says (database cluster status, read just now):",
    ]
    output = preview.output.strip("\n")
    lines += [f"    {line}" for line in output.splitlines()] if output else ["    (nothing)"]
    status = preview.status
    if preview.problem is not None:
        lines.append(f"  not understood: {preview.problem}")
    elif status is not None:
        summary = [status.status_text or "no Status line"]
        if status.role != "none":
            summary.append(status.role)
        if status.in_sync is not None:
            summary.append("in sync" if status.in_sync else "NOT in sync")
        if status.last_command is not None:
            last = status.last_command
            summary.append(f"last command {last.command} ({last.result})")
        lines.append(f"  read as: {'; '.join(summary)}")
    return "\n".join(lines)


def ask_step(preview: Preview, ask: Callable[[str], str], say: Callable[[str], None]) -> Decision:
    """Show ``preview``, then ask until the answer is ``y`` (run) or ``q`` (stop)."""
    say(preview_text(preview))
    answers: list[str] = []
    while True:
        answer = ask(STEP_QUESTION)
        answers.append(answer)
        word = answer.strip().lower()
        if word == "y":
            return Decision(run=True, answers=tuple(answers))
        if word == "q":
            say(f"Stopping before step {preview.step.id}: nothing of it was sent.")
            return Decision(run=False, answers=tuple(answers))
        say(ANSWERS_HINT)
