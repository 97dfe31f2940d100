"""A cluster's rehearsal, said for a reviewer: one verdict line, the predicted final table.

Shared by the text and markdown renderers, so both say the same words.
"""

from __future__ import annotations

from reconciler.plan.models import Rehearsal, RehearsedNode
from reconciler.plan.render.common import english_list, plural


def about(seconds: float) -> str:
    """``about 7 min`` (``under a minute`` below 60 s): a model, so no false precision."""
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"about {minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"about {hours} h {rest} min" if rest else f"about {hours} h"


def verdict(rehearsal: Rehearsal) -> str:
    """``rehearsed on a twin: converges in 27 steps, device work about 7 min``; a plan that
    fails says where it stopped (the problem's first line). The modelled outage is not said
    here: the plan's one outage line says it, beside the bound (``outage.modelled``)."""
    if rehearsal.converges:
        if rehearsal.steps_run == 0:
            return "rehearsed on a twin: converges with nothing to run"
        return (
            f"rehearsed on a twin: converges in {plural(rehearsal.steps_run, 'step')}, "
            f"device work {about(rehearsal.device_seconds)}{caveat(rehearsal)}"
        )
    problem = (rehearsal.problem or "it did not converge").splitlines()[0]
    if rehearsal.steps_run == 0 and "blocked" in problem:
        return f"not rehearsed: {problem}"
    return (
        f"rehearsed on a twin: does NOT converge ({plural(rehearsal.steps_run, 'step')} "
        f"run): {problem}"
    )


def caveat(rehearsal: Rehearsal) -> str:
    """``; assumed: operations succeed, though the last cluster command failed on cms2``:
    a twin that converges has not shown that a command that just failed will not fail
    again."""
    if not rehearsal.last_command_failed:
        return ""
    return (
        "; assumed: operations succeed, though the last cluster command failed on "
        + english_list(rehearsal.last_command_failed)
    )


def final_row(node: RehearsedNode) -> tuple[str, str, str, str, str]:
    """name, address, status, role, sync, as words."""
    status = node.status or "unknown"
    if node.bridge:
        uses = f"uses {node.uses}" if node.uses else "uses no database"
        return (node.name, node.address, status, "call bridge", uses)
    sync = {True: "in sync", False: "not in sync", None: ""}[node.in_sync]
    return (node.name, node.address, status, node.role, sync)
