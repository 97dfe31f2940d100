"""The plan's maintenance window in one sentence (issue 26), for text and the PR comment.

The plan's ``window`` report was made at the planning instant, and its sentence (``says``)
is what ``may_apply`` decided then. A closed window is said as when the plan would apply:
"applies in the next maintenance window: Sat 02:00 CET (01:00 UTC), in 3 days", which holds
for a pull request (a merge now waits for it) and for the approver after the merge alike.
"""

from __future__ import annotations

from datetime import datetime

from reconciler.plan.models import ClusterPlan
from reconciler.plan.window import describe_start

NOT_NEEDED = (
    "not needed: the plan takes nothing serving out of service (no member leaves, forms or "
    "joins, no call bridge in use reconnects), so it applies at any time"
)


def window_sentence(cluster: ClusterPlan, planned_at: str) -> str | None:
    """The window line of a plan with steps; None without ``maintenance`` or steps.

    ``planned_at``: the plan's ``created_at`` (ISO), the instant the report was made for.
    """
    window = cluster.window
    if window is None or not cluster.steps or cluster.blocked:
        return None
    if not window.needed:
        return NOT_NEEDED
    if window.applies_now or window.open_now or not window.fits:
        return window.says
    start = datetime.fromisoformat(window.next_start)
    now = datetime.fromisoformat(planned_at)
    return (
        f"applies in the next maintenance window: {describe_start(start, window.timezone, now)} "
        "(an apply before then is deferred, exit 3)"
    )
