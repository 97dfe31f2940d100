"""How long one step of each action may take: the planner's estimate and the executor's waits.

The two must agree, or a plan would promise a duration its apply does not keep: both read
the limits here, made from ``plan.actions.ACTIONS`` (the cluster file's timeout where a step
kind names one, else its fixed allowance).
"""

from __future__ import annotations

from reconciler.desired.models import Timeouts
from reconciler.plan.actions import ACTIONS, Action


def step_limits(timeouts: Timeouts) -> dict[Action, float]:
    """Seconds one step of every action may take, with the cluster file's ``timeouts``."""
    return {
        action: (
            getattr(timeouts, spec.timeout).total_seconds()
            if spec.timeout is not None
            else float(spec.seconds)
        )
        for action, spec in ACTIONS.items()
    }


def step_allowances(timeouts: Timeouts) -> dict[Action, int]:
    """Whole seconds the impact estimate allows for one step of every action."""
    limits = step_limits(timeouts)
    return {action: int(limits[action]) for action in Action}
