"""The executor's dispatch (``executor.STEP_HANDLERS``) runs every step kind, and waits for
exactly the asynchronous ones (``plan.actions``): a new ``Action`` without a handler fails
the test named after it."""

from __future__ import annotations

import pytest

from reconciler.apply.executor import STEP_HANDLERS, Executor
from reconciler.plan.actions import ACTIONS, Action


@pytest.mark.parametrize("action", list(Action), ids=str)
def test_the_executor_runs_every_action(action: Action) -> None:
    assert action in STEP_HANDLERS, (
        f"executor.STEP_HANDLERS has no handler for Action.{action.name}"
    )


@pytest.mark.parametrize("action", list(Action), ids=str)
def test_asynchronous_steps_are_sent_and_waited_for(action: Action) -> None:
    """``Executor._operation`` sends with confirmation and polls until the expectation."""
    waited = STEP_HANDLERS.get(action) is Executor._operation
    assert waited == ACTIONS[action].asynchronous, action.value
