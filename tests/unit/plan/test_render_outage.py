"""What a plan takes out of service and whose database survives, read off the planner's plans."""

from __future__ import annotations

import pytest

from reconciler.plan.models import Action, Rehearsal
from reconciler.plan.render.outage import data_sentence, outage_sentence, outage_span
from tests.unit.plan.test_render_plans import (
    blocked_cluster,
    converged_cluster,
    lab_seed_cluster,
    scenario_cluster,
)


@pytest.mark.parametrize(
    ("scenario", "outage"),
    [
        (
            "02-seed-expired",
            "cluster down from step 4 to step 27 (no master from step 6 until cms1 initializes "
            "at step 25): at most 43 min if every wait runs to its timeout. 3 nodes restart "
            "(cms1, cms2 and cms3)",
        ),
        (
            "12-half-replica-old-certs",
            "cms2 out of the cluster from step 2 to step 8 (at most 16 min if every wait runs "
            "to its timeout); the cluster stays up (cms1 keeps serving). 1 node restarts (cms2)",
        ),
        (
            "05-add-node",
            "cms4 joins at step 8 (at most 10 min if every wait runs to its timeout); the "
            "cluster stays up (cms1 keeps serving). 1 node restarts (cms4)",
        ),
        (
            "06-drop-node",
            "cms3 leaves the cluster for good at step 2; the cluster stays up (cms1 keeps "
            "serving). 1 node restarts (cms3)",
        ),
        (
            "17-half-all-disabled",
            "cluster down now (no node is clustered) until step 9 (cms1 becomes master at step "
            "7): at most 26 min if every wait runs to its timeout. 3 nodes restart (cms1, cms2 "
            "and cms3)",
        ),
        (
            "08-master-change",
            "cluster down from step 4 to step 12 (no master from step 6 until cms2 initializes "
            "at step 10): at most 41 min if every wait runs to its timeout. 3 nodes restart "
            "(cms1, cms2 and cms3)",
        ),
        (
            "50-connected-new-ca",
            "cluster down from step 6 to step 39 (no master from step 8 until cms1 initializes "
            "at step 27): at most 47 min if every wait runs to its timeout; call bridges cb1 "
            "and cb2 have no database from step 6 until each connects again (steps 32 and 37). "
            "3 nodes restart (cms1, cms2 and cms3)",
        ),
        (
            "54-connected-rolling",
            "cms1 out of the cluster from step 3 to step 9 (at most 16 min if every wait runs "
            "to its timeout), call bridge cb1 has no database from step 12 to step 13 (at most "
            "2 min if every wait runs to its timeout); the cluster stays up (cms2 keeps "
            "serving). 1 node restarts (cms1)",
        ),
        (
            "57-connected-bridge-uses-replica",
            "call bridge cb1 has no database at step 2 (at most 1 min if every wait runs to its "
            "timeout); no node leaves the cluster, and the cluster stays up (cms1 keeps "
            "serving). No node restarts",
        ),
        ("01-converged", "none: converged, nothing will run"),
        ("15-unreachable-node", "cannot plan (1 error); nothing will run until it is fixed"),
    ],
)
def test_outage(scenario: str, outage: str) -> None:
    assert outage_sentence(scenario_cluster(scenario)) == outage


def test_the_bound_is_the_cluster_files_timeouts_over_the_outage_steps() -> None:
    cluster = lab_seed_cluster()
    allowance = cluster.impact.action_seconds
    assert allowance is not None
    timeouts = (allowance[Action.REMOVE], allowance[Action.INITIALIZE], allowance[Action.JOIN])
    assert timeouts == (300, 300, 600)
    down = cluster.steps[3:]  # steps 4 to 27
    assert sum(allowance[step.action] for step in down) == 2580  # 43 min, rounded up


def test_a_rehearsal_that_converged_gives_the_modelled_figure_first_and_only_then() -> None:
    """Issue 23: "up to 43 min" and "outage about 5 min" side by side, neither saying which
    was which. One line: modelled first, then the bound, each said to be what it is."""
    cluster = lab_seed_cluster()
    converged = Rehearsal(converges=True, steps_run=27, device_seconds=330, outage_seconds=290)
    with_rehearsal = cluster.model_copy(update={"rehearsal": converged})
    assert outage_span(with_rehearsal).endswith(
        ": expected about 5 min (modelled); at most 43 min if every wait runs to its timeout"
    )
    failed = converged.model_copy(update={"converges": False, "problem": "join failed"})
    for unmodelled in (cluster, cluster.model_copy(update={"rehearsal": failed})):
        assert outage_span(unmodelled).endswith(
            "): at most 43 min if every wait runs to its timeout"
        )


@pytest.mark.parametrize(
    ("scenario", "data"),
    [
        (
            "02-seed-expired",
            "cms1's database (127.0.85.73) is kept; cms2 and cms3 are replaced by copies of it",
        ),
        (
            "08-master-change",
            "cms2's database (10.0.0.2) becomes the master copy; cms1 and cms3 are replaced by "
            "copies of it",
        ),
        (
            "12-half-replica-old-certs",
            "cms1's database (10.0.0.1) is kept; cms2's database is replaced by a copy of it",
        ),
        (
            "06-drop-node",
            "cms1's database (10.0.0.1) is kept; no other node's database is replaced",
        ),
    ],
)
def test_data(scenario: str, data: str) -> None:
    cluster = lab_seed_cluster() if scenario == "02-seed-expired" else scenario_cluster(scenario)
    assert data_sentence(cluster) == data


def test_no_data_sentence_when_nothing_runs() -> None:
    assert data_sentence(converged_cluster()) is None
    assert data_sentence(blocked_cluster()) is None
