r"""How long apply really took a cluster (or its nodes) out of service: measured, not modelled.

The spans are the ones the plan announces (``plan.render.outage``), read off the same steps:

- a re-form (a plan with an ``initialize``): the **cluster is down** from the first
  ``database cluster remove`` before the ``initialize`` until the last node is back, the
  last ``join`` verified In Sync (the ``initialize`` verified master when nothing joins).
  Within it there is **no master** from the last of those removes until the ``initialize``
  is verified. A re-form with no remove before its ``initialize`` starts from a cluster
  that is already down: the span is ``down_before_apply`` and is measured from the moment
  apply began the cluster (how long it was down before that, apply cannot know);
- otherwise the master keeps serving, and **a node is out** of the cluster from its
  ``remove`` until its ``join`` is verified In Sync (a node that only joins was not in; one
  that only leaves leaves for good);
- a connected call bridge that ``connect``\ s has **no database** until its ``connect`` is
  verified (its ``Node in use`` the master): in a re-form from the first ``remove`` (from
  before apply when there is none: the cluster was down), otherwise from its own first
  ``certs`` or ``connect``.

A span begins when apply sends the command that begins it (after the step's own checks,
so a step refused before its command began nothing) and ends when the poll that saw the
expected status answered: the end is late by at most one poll interval
(``waits.poll_interval``: 0.2 s early in a wait, at most 2 s). A span whose end was never
verified (a step failed, or apply was interrupted, in between) is ``still_down``: its
``seconds`` run to the moment apply stopped, a lower bound, and ``ended`` is ``None``.
Times are UTC; durations come from the monotonic clock, so a clock step cannot skew them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from reconciler.plan.models import Action, ClusterPlan, Step

SpanKind = Literal["cluster_down", "no_master", "node_out", "bridge_out"]


@dataclass(frozen=True)
class Mark:
    """A moment: the monotonic clock (for durations) and the UTC time (to show)."""

    monotonic: float
    utc: datetime

    @classmethod
    def now(cls) -> Mark:
        return cls(time.monotonic(), datetime.now(UTC))


@dataclass(frozen=True)
class Planned:
    """A span the plan's steps imply: ``begins`` (None: already out before apply began)
    until ``ends`` is verified; ``node`` for a node out of the cluster."""

    kind: SpanKind
    begins: Step | None
    ends: Step
    node: Step | None = None


def planned(plan: ClusterPlan) -> list[Planned]:
    """The spans of ``plan`` (see the module), in the order they begin."""
    steps = plan.steps
    initialize = next((step for step in steps if step.action is Action.INITIALIZE), None)
    if initialize is not None:
        before = steps[: steps.index(initialize)]
        removes = [step for step in before if step.action is Action.REMOVE]
        back = [step for step in steps if step.action in (Action.INITIALIZE, Action.JOIN)][-1]
        return [
            Planned("cluster_down", removes[0] if removes else None, back),
            Planned("no_master", removes[-1] if removes else None, initialize),
            *(
                Planned("bridge_out", removes[0] if removes else None, connect, node=connect)
                for connect in steps
                if connect.action is Action.CONNECT
            ),
        ]
    spans: list[Planned] = []
    for remove in (step for step in steps if step.action is Action.REMOVE):
        join = next(
            (
                step
                for step in steps
                if step.action is Action.JOIN and step.node == remove.node and step.id > remove.id
            ),
            None,
        )
        if join is not None:
            spans.append(Planned("node_out", remove, join, node=remove))
    for connect in (step for step in steps if step.action is Action.CONNECT):
        first = next(
            step
            for step in steps
            if step.node == connect.node and step.action in (Action.CERTS, Action.CONNECT)
        )
        spans.append(Planned("bridge_out", first, connect, node=connect))
    return spans


class Span(BaseModel):
    """One stretch out of service, as apply measured it (see the module)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    from_step: int | None  # the step whose command began it; None: down before apply began
    until_step: int  # the step whose verified end ends it
    node: str | None = None  # nodes_out, bridges_out: the node's (bridge's) address
    node_name: str | None = None
    down_before_apply: bool = False
    started: str | None  # UTC, when from_step's command was sent; None: down before apply
    ended: str | None  # UTC, when until_step was verified; None: still down
    seconds: float  # measured: started (or when apply began the cluster) to ended (or stop)
    still_down: bool


class Outage(BaseModel):
    """What apply took out of service in one cluster, measured: the whole cluster (a
    re-form: ``cluster_down``, and within it ``no_master``) or nodes one at a time
    (``nodes_out``). Spans apply never began are absent: all empty, nothing went out."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cluster_down: Span | None = None
    no_master: Span | None = None
    nodes_out: tuple[Span, ...] = ()
    bridges_out: tuple[Span, ...] = ()  # connected call bridges without the database

    @property
    def spans(self) -> list[Span]:
        return [
            *(span for span in (self.cluster_down, self.no_master) if span),
            *self.nodes_out,
            *self.bridges_out,
        ]


def measure(
    plan: ClusterPlan,
    *,
    began: Mark,
    sent: dict[int, Mark],
    verified: dict[int, Mark],
    stopped: Mark,
) -> Outage:
    """The spans of ``plan`` that began, measured: ``began`` is when apply began the cluster,
    ``sent`` when each step's command was sent, ``verified`` when each asynchronous step's
    end was verified, ``stopped`` when apply stopped (or finished) the cluster."""
    found: dict[SpanKind, list[Span]] = {
        "cluster_down": [],
        "no_master": [],
        "node_out": [],
        "bridge_out": [],
    }
    for span in planned(plan):
        if span.begins is None:
            start = began
        elif span.begins.id in sent:
            start = sent[span.begins.id]
        else:
            continue  # apply stopped before it began
        end = verified.get(span.ends.id)
        until = end if end is not None else stopped
        found[span.kind].append(
            Span(
                from_step=span.begins.id if span.begins is not None else None,
                until_step=span.ends.id,
                node=span.node.node if span.node is not None else None,
                node_name=span.node.node_name if span.node is not None else None,
                down_before_apply=span.begins is None,
                started=start.utc.isoformat() if span.begins is not None else None,
                ended=end.utc.isoformat() if end is not None else None,
                seconds=round(max(0.0, until.monotonic - start.monotonic), 3),
                still_down=end is None,
            )
        )
    return Outage(
        cluster_down=next(iter(found["cluster_down"]), None),
        no_master=next(iter(found["no_master"]), None),
        nodes_out=tuple(found["node_out"]),
        bridges_out=tuple(found["bridge_out"]),
    )
