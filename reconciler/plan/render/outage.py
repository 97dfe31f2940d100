"""What a plan takes out of service, and for how long, read off its steps.

A reviewer approving a pull request wants one sentence per cluster: when the cluster (or a
node) is out, between which steps, and a bound on how long. The steps say it all:

* a re-form (an ``initialize``) takes the cluster down from its first ``remove`` until the
  last node is back (the last ``join``, or the ``initialize`` when nothing joins); there is
  no master at all from the last ``remove`` before ``initialize`` until ``initialize``;
* otherwise the master keeps serving and each node is out from its ``remove`` to its
  ``join``; a node that only joins was not in, and one that only leaves is dropped;
* a connected call bridge (a ``connect`` step) has no database while the cluster is down,
  until it connects again; around a serving master, from its first state-changing step
  (``certs``, or the ``connect`` itself) until its ``connect``.

Durations are upper bounds: the cluster file's timeout for each ``remove``/``initialize``/
``join`` and a fixed allowance for the other steps (``Impact.action_seconds``). Nothing
better is known (the MMP reference gives no typical durations), so they are said as what
they are: "at most 43 min if every wait runs to its timeout". A rehearsal that converged
models the cluster-down time of a re-form; that figure comes first, said as modelled:
"expected about 5 min (modelled); at most 43 min if every wait runs to its timeout". It is
the one outage line: the rehearsal's verdict does not repeat it.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.plan.models import Action, ClusterPlan, Step
from reconciler.plan.render.common import english_list, node_names, plural, rough_minutes
from reconciler.plan.render.rehearsal import about

IF_EVERY_WAIT_TIMES_OUT = "if every wait runs to its timeout"


@dataclass(frozen=True)
class Span:
    """Steps ``first`` to ``last`` (ids, inclusive) and a bound on how long they take."""

    first: int
    last: int
    seconds: int | None  # None: the plan has no per-action allowance (an older plan file)

    def steps_text(self) -> str:
        if self.first == self.last:
            return f"at step {self.first}"
        return f"from step {self.first} to step {self.last}"


def span(cluster: ClusterPlan, first: Step, last: Step) -> Span:
    """The steps from ``first`` to ``last`` in execution order, with their summed bound."""
    allowance = cluster.impact.action_seconds
    start, end = _position(cluster, first), _position(cluster, last)
    seconds = None
    if allowance is not None:
        seconds = sum(allowance.get(step.action, 0) for step in cluster.steps[start : end + 1])
    return Span(first.id, last.id, seconds)


def _position(cluster: ClusterPlan, step: Step) -> int:
    return next(index for index, each in enumerate(cluster.steps) if each is step)


def bound(seconds: int | None, cluster: ClusterPlan) -> str:
    """``at most 43 min if every wait runs to its timeout``; without a per-step bound (an
    older plan file), the bound of the whole apply, said to be that."""
    if seconds is not None:
        return f"at most {rough_minutes(seconds)} {IF_EVERY_WAIT_TIMES_OUT}"
    whole = rough_minutes(cluster.impact.estimated_seconds)
    return f"at most {whole}, the bound of the whole apply, {IF_EVERY_WAIT_TIMES_OUT}"


def modelled(cluster: ClusterPlan) -> str | None:
    """``expected about 5 min (modelled)``: a re-form's cluster-down time as its rehearsal
    modelled it; None without a rehearsal that converged (then only the bound is known)."""
    rehearsal = cluster.rehearsal
    if rehearsal is None or not rehearsal.converges or rehearsal.outage_seconds <= 0:
        return None
    return f"expected {about(rehearsal.outage_seconds)} (modelled)"


def outage_sentence(cluster: ClusterPlan) -> str:
    """What is out of service, between which steps, for how long; then which nodes restart."""
    if cluster.blocked:
        errors = len(cluster.errors)
        count = plural(errors, "error") if errors else "an error"
        return f"cannot plan ({count}); nothing will run until it is fixed"
    if not cluster.steps:
        return "none: converged, nothing will run"
    return f"{outage_span(cluster)}. {sentence_start(_restarts(cluster))}"


def outage_span(cluster: ClusterPlan) -> str:
    """What is out of service, between which steps, and for how long (a plan with steps)."""
    if any(step.action is Action.INITIALIZE for step in cluster.steps):
        return _reform(cluster) + _bridges_in_reform(cluster)
    return _around_master(cluster)


def _connects(cluster: ClusterPlan) -> list[Step]:
    return [step for step in cluster.steps if step.action is Action.CONNECT]


def _bridges_in_reform(cluster: ClusterPlan) -> str:
    """``; call bridges cb1 and cb2 have no database from step 4 until each connects again
    (steps 26 and 28)``: a bridge uses the cluster's master, and there is none meanwhile."""
    connects = _connects(cluster)
    if not connects:
        return ""
    first = next((step for step in cluster.steps if step.action is Action.REMOVE), None)
    since = f"from step {first.id}" if first is not None else "now (no node is clustered)"
    names = english_list([_name(cluster, step.node) for step in connects])
    if len(connects) == 1:
        return (
            f"; call bridge {names} has no database {since} until it connects again at step "
            f"{connects[0].id}"
        )
    ids = english_list([str(step.id) for step in connects])
    return (
        f"; call bridges {names} have no database {since} until each connects again (steps {ids})"
    )


def _bridge_outage(cluster: ClusterPlan, connect: Step) -> str:
    """A call bridge around a serving master: out from its first state-changing step."""
    mine = [step for step in cluster.steps if step.node == connect.node]
    first = next(step for step in mine if step.action in (Action.CERTS, Action.CONNECT))
    out = span(cluster, first, connect)
    name = _name(cluster, connect.node)
    return f"call bridge {name} has no database {out.steps_text()} ({bound(out.seconds, cluster)})"


def sentence_start(text: str) -> str:
    return text[:1].upper() + text[1:]


def _how_long(seconds: int | None, cluster: ClusterPlan) -> str:
    """The cluster-down time: modelled first when a rehearsal gave it, then the bound."""
    expected = modelled(cluster)
    limit = bound(seconds, cluster)
    return f"{expected}; {limit}" if expected is not None else limit


def _reform(cluster: ClusterPlan) -> str:
    steps = cluster.steps
    initialize = next(step for step in steps if step.action is Action.INITIALIZE)
    back = [step for step in steps if step.action in (Action.INITIALIZE, Action.JOIN)][-1]
    removes = [step for step in steps[: steps.index(initialize)] if step.action is Action.REMOVE]
    master = _name(cluster, initialize.node)
    if not removes:
        whole = span(cluster, steps[0], back)
        return (
            f"cluster down now (no node is clustered) until step {back.id} ({master} becomes "
            f"master at step {initialize.id}): {_how_long(whole.seconds, cluster)}"
        )
    down = span(cluster, removes[0], back)
    return (
        f"cluster down {down.steps_text()} (no master from step {removes[-1].id} until "
        f"{master} initializes at step {initialize.id}): {_how_long(down.seconds, cluster)}"
    )


def _around_master(cluster: ClusterPlan) -> str:
    parts: list[str] = []
    steps = cluster.steps
    for address in dict.fromkeys(
        step.node for step in steps if step.action in (Action.REMOVE, Action.JOIN)
    ):
        mine = [step for step in steps if step.node == address]
        remove = next((step for step in mine if step.action is Action.REMOVE), None)
        join = next((step for step in mine if step.action is Action.JOIN), None)
        name = _name(cluster, address)
        if remove is not None and join is not None and remove.id < join.id:
            out = span(cluster, remove, join)
            parts.append(
                f"{name} out of the cluster {out.steps_text()} ({bound(out.seconds, cluster)})"
            )
        elif join is not None:
            joining = span(cluster, join, join)
            parts.append(f"{name} joins at step {join.id} ({bound(joining.seconds, cluster)})")
        elif remove is not None:
            parts.append(f"{name} leaves the cluster for good at step {remove.id}")
    parts += [_bridge_outage(cluster, connect) for connect in _connects(cluster)]
    authority = cluster.data_authority
    master = _name(cluster, authority.source) if authority is not None else "the master"
    stays = f"the cluster stays up ({master} keeps serving)"
    if not parts:
        return f"no node leaves the cluster; {stays}"
    if not any(step.action in (Action.REMOVE, Action.JOIN) for step in steps):
        return f"{', '.join(parts)}; no node leaves the cluster, and {stays}"
    return f"{', '.join(parts)}; {stays}"


def _restarts(cluster: ClusterPlan) -> str:
    restarts = cluster.impact.restarts
    if not restarts:
        return "no node restarts"
    names = [_name(cluster, address) for address in restarts]
    verb = "restarts" if len(names) == 1 else "restart"
    return f"{plural(len(names), 'node')} {verb} ({english_list(names)})"


def data_sentence(cluster: ClusterPlan) -> str | None:
    """Whose database survives, said plainly; None when nothing runs."""
    authority = cluster.data_authority
    if authority is None or not cluster.steps:
        return None
    names = node_names(cluster)
    source = names.get(authority.source)
    owner = (
        f"{source}'s database ({authority.source})"
        if source
        else f"the database of {authority.source}"
    )
    verb = "becomes the master copy" if authority.master_change else "is kept"
    replaced = [names.get(address, address) for address in authority.replaces]
    if not replaced:
        return f"{owner} {verb}; no other node's database is replaced"
    if len(replaced) == 1:
        return f"{owner} {verb}; {replaced[0]}'s database is replaced by a copy of it"
    return f"{owner} {verb}; {english_list(replaced)} are replaced by copies of it"


def _name(cluster: ClusterPlan, address: str) -> str:
    return node_names(cluster).get(address, address)
