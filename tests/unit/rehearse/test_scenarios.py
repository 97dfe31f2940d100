"""Every planner scenario rehearsed: a plan with steps converges on its twin, or says why not."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.rehearse.rehearse import rehearse_cluster
from tests.unit.rehearse.scenarios import SCENARIOS, scenario

# The scenarios whose plan cannot converge on the twin, and the words that say why.
CANNOT = {
    # cms3 sees the others Disconnected while every node answered and every certificate
    # works: the twin can only take that for a network cut, which a join does not mend.
    "14-half-disconnected-member": ("'database cluster join 10.0.0.1' ended (Failed)", "partition"),
}


@pytest.mark.parametrize("path", SCENARIOS, ids=[path.stem for path in SCENARIOS])
def test_every_scenario_converges_on_its_twin_or_says_why(path: Path) -> None:
    case = scenario(path)
    plan = case.plan
    rehearsal = rehearse_cluster(plan, case.desired, case.live)
    if plan.blocked:
        assert not rehearsal.converges
        assert rehearsal.steps_run == 0
        assert (
            rehearsal.problem == "the plan is blocked by its errors: there is nothing to rehearse"
        )
        return
    if path.stem in CANNOT:
        failure, assumed = CANNOT[path.stem]
        assert not rehearsal.converges
        assert rehearsal.problem is not None
        assert failure in rehearsal.problem
        assert any(assumed in assumption for assumption in rehearsal.assumptions)
        return
    assert rehearsal.converges, rehearsal.problem
    assert rehearsal.problem is None
    assert rehearsal.steps_run == len(plan.steps)
    final = {node.address: node for node in rehearsal.final}
    master = case.desired.master.address
    for node in case.desired.nodes:
        predicted = final[node.address]
        assert predicted.status == "Enabled", predicted
        assert predicted.role == ("master" if node.address == master else "replica")
        assert predicted.in_sync is (None if node.address == master else True)
    dropped = {node.address for node in case.live.nodes} - {n.address for n in case.desired.nodes}
    for address in dropped:
        assert final[address].role == "none" or final[address].status in ("Disabled", None)
    if not plan.steps:
        assert rehearsal.device_seconds == 0
    reform = plan.strategy.value == "reform"
    assert (rehearsal.outage_seconds > 0) is reform
    assert rehearsal.device_seconds >= rehearsal.outage_seconds


def test_the_rehearsal_of_a_re_form_takes_seconds_and_models_minutes() -> None:
    import time

    case = scenario(next(path for path in SCENARIOS if path.stem == "02-seed-expired"))
    began = time.monotonic()
    rehearsal = rehearse_cluster(case.plan, case.desired, case.live)
    assert time.monotonic() - began < 10
    assert rehearsal.converges
    assert rehearsal.steps_run == 27
    # 3 removes (30 s), an initialize and 2 joins (60 s each) as modelled, plus polling.
    assert 270 <= rehearsal.device_seconds < 330
    assert rehearsal.outage_seconds == pytest.approx(rehearsal.device_seconds, abs=1)
