"""May each cluster's plan start now, given its maintenance windows (issue 26)?

Asked once per apply, before the first step of any cluster (and again after a person
approved, since time passed), at apply's own clock: the plan's ``window`` report is what
reviewers saw when it was made, not the decision. A cluster refused here is *deferred*:
nothing is sent to it, its result is ``deferred`` and apply exits 3. ``--ignore-window
--reason TEXT`` runs it anyway; the journal and the outcome record the reason and what the
window said. A run that has started is never cut off by its window closing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from reconciler.desired.models import MaintenanceSpec
from reconciler.plan.models import ClusterPlan, Plan
from reconciler.plan.window import window_report


@dataclass(frozen=True)
class Ignored:
    """A cluster run outside its window by ``--ignore-window``: what the window said, and why."""

    window: str
    reason: str

    def text(self) -> str:
        return f"run outside its maintenance window (--ignore-window: {self.reason}); {self.window}"


@dataclass(frozen=True)
class WindowGate:
    """Per cluster (by name): deferred with the sentence that says why, or run despite it."""

    deferred: dict[str, str] = field(default_factory=dict)
    ignored: dict[str, Ignored] = field(default_factory=dict)

    def runs(self, cluster: ClusterPlan) -> bool:
        return bool(cluster.steps) and cluster.name not in self.deferred

    def merged(self, later: WindowGate) -> WindowGate:
        """This gate and a later one: a cluster deferred by either stays deferred."""
        return WindowGate(
            deferred={**self.deferred, **later.deferred},
            ignored={
                name: why
                for name, why in {**self.ignored, **later.ignored}.items()
                if name not in self.deferred and name not in later.deferred
            },
        )


def window_gate(
    plan: Plan,
    maintenance: Mapping[str, MaintenanceSpec | None],
    *,
    now: datetime,
    ignore_reason: str | None = None,
) -> WindowGate:
    """The decision for every cluster of ``plan`` with steps, at ``now``.

    ``maintenance``: each cluster file's ``maintenance`` (None: applies any time).
    ``ignore_reason``: ``--ignore-window --reason``; no cluster is deferred, each that would
    have been is recorded with it.
    """
    deferred: dict[str, str] = {}
    ignored: dict[str, Ignored] = {}
    for cluster in plan.clusters:
        spec = maintenance.get(cluster.name)
        if not cluster.steps or cluster.blocked or spec is None:
            continue
        report = window_report(
            spec,
            needed=cluster.window.needed if cluster.window is not None else True,
            now=now,
            expected_seconds=cluster.impact.estimated_seconds,
        )
        if report is None or report.applies_now:
            continue
        if ignore_reason is not None:
            ignored[cluster.name] = Ignored(report.says, ignore_reason)
        else:
            says = report.says
            deferred[cluster.name] = says if says.startswith("deferred") else f"deferred: {says}"
    return WindowGate(deferred, ignored)
