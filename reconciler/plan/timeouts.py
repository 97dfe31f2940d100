"""How long one step of each action may take: one table for the planner and the executor.

The planner's impact estimate and the executor's waits must agree, or a plan would promise
a duration its apply does not keep: both read the asynchronous operations' limits here.
"""

from __future__ import annotations

from reconciler.desired.models import Timeouts
from reconciler.plan.models import Action

SYNC_STEP_SECONDS = 10
"""What the estimate allows for a step that finishes with its command (backup, upload, certs)."""

CONNECT_SECONDS = 60
"""How long a connected call bridge may take, after ``database cluster connect``, to show the
master as its ``Node in use``: the executor waits this long and the estimate allows it. No
source says how long it takes (reference §1.7); a bridge that needs longer fails the step,
which is safe (the cluster is up, and planning again plans the connect again)."""


def operation_timeouts(timeouts: Timeouts) -> dict[Action, float]:
    """The cluster file's limit, in seconds, for each asynchronous action."""
    return {
        Action.REMOVE: timeouts.remove.total_seconds(),
        Action.INITIALIZE: timeouts.initialize.total_seconds(),
        Action.JOIN: timeouts.join.total_seconds(),
    }


def step_allowances(timeouts: Timeouts) -> dict[Action, int]:
    """Whole seconds the impact estimate allows for one step of every action."""
    limits: dict[Action, float] = {**operation_timeouts(timeouts), Action.CONNECT: CONNECT_SECONDS}
    return {action: int(limits.get(action, SYNC_STEP_SECONDS)) for action in Action}
