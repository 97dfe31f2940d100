"""Which steps on other nodes each step waits for: the plan's ``after`` (SPEC §5).

The executor runs a plan one step at a time in the listed order, which keeps every wait;
``after`` says which parts of that order are required, so that a reviewer (or a runner that
would overlap steps) knows what must not be reordered. Steps on one node always run in their
listed order, so ``after`` names only steps on other nodes, and only the waits that no other
wait already implies; a step that waits for no other node has no ``after``.

The waits:

* no node changes before every node is backed up: a node's first destructive step waits
  for the other nodes' backups;
* reform: a live master leaves only after the nodes removed before it (the nodes that are
  left never form a majority without it) and the desired master leaves last; the desired
  master initializes once every other node has left the old cluster; each replica joins
  the cluster that initialize formed, and each connected call bridge connects to it;
* membership / rolling: one node at a time leaves or joins, so a node's first destructive
  step waits for the last step of the node before it.
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.plan.models import DESTRUCTIVE, Action, Step


def with_dependencies(
    steps: list[Step], *, reform: bool, master: str, live_masters: Iterable[str]
) -> list[Step]:
    """``steps`` with ``after`` set where a step waits for steps on other nodes."""
    waits = _backups_first(steps)
    rules = _reform_waits(steps, master, set(live_masters)) if reform else _one_at_a_time(steps)
    for step_id, ids in rules.items():
        waits.setdefault(step_id, set()).update(ids)
    direct = _without_implied(steps, waits)
    return [
        step.model_copy(update={"after": direct[step.id]}) if direct.get(step.id) else step
        for step in steps
    ]


def _first_destructive(steps: list[Step]) -> dict[str, Step]:
    """Each node's first step that changes its cluster membership or configuration."""
    first: dict[str, Step] = {}
    for step in steps:
        if step.action in DESTRUCTIVE:
            first.setdefault(step.node, step)
    return first


def _backups_first(steps: list[Step]) -> dict[int, set[int]]:
    backups = [step for step in steps if step.action is Action.BACKUP]
    return {
        step.id: {backup.id for backup in backups if backup.node != step.node}
        for step in _first_destructive(steps).values()
    }


def _reform_waits(steps: list[Step], master: str, live_masters: set[str]) -> dict[int, set[int]]:
    removes = [step for step in steps if step.action is Action.REMOVE]
    formed = {step.id for step in steps if step.action is Action.INITIALIZE}
    waits: dict[int, set[int]] = {}
    for step in steps:
        elsewhere = {remove.id for remove in removes if remove.node != step.node}
        if step.action is Action.REMOVE and (step.node == master or step.node in live_masters):
            waits[step.id] = {earlier for earlier in elsewhere if earlier < step.id}
        elif step.action is Action.INITIALIZE:
            waits[step.id] = elsewhere
        elif step.action in (Action.JOIN, Action.CONNECT):
            waits[step.id] = formed
    return waits


def _one_at_a_time(steps: list[Step]) -> dict[int, set[int]]:
    """A node's steps (backups aside) are listed together: its first destructive step waits
    for the last step of the node listed before it."""
    waits: dict[int, set[int]] = {}
    first = {step.id for step in _first_destructive(steps).values()}
    node: str | None = None
    previous_last: int | None = None  # the last step of the node before this one
    last: int | None = None
    for step in steps:
        if step.action is Action.BACKUP:
            continue
        if step.node != node:
            node, previous_last = step.node, last
        if step.id in first and previous_last is not None:
            waits[step.id] = {previous_last}
        last = step.id
    return waits


def _without_implied(steps: list[Step], waits: dict[int, set[int]]) -> dict[int, list[int]]:
    """Each step's waits on other nodes, less those that a step it waits for (or the step
    before it on its node) already waited for."""
    before: dict[int, set[int]] = {}  # every step that must be done before this one
    previous_on: dict[str, int] = {}
    direct: dict[int, list[int]] = {}
    for step in steps:
        edges = set(waits.get(step.id, set()))
        if step.node in previous_on:
            edges.add(previous_on[step.node])
        implied = set().union(*(before[edge] for edge in edges))
        direct[step.id] = sorted(waits.get(step.id, set()) - implied)
        before[step.id] = edges | implied
        previous_on[step.node] = step.id
    return direct
