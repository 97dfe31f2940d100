"""Maintenance windows (issue 26): the seed rotation waits for its window.

The lab's seed needs a re-form, which takes every serving member out of service. With a
window that is closed now, apply sends nothing that changes a node and exits 3 (deferred),
saying when the window opens; `--ignore-window --reason` runs it anyway and records why;
with a window open now it converges. Windows are set relative to the wall clock (every day,
in UTC), so the tests hold at any hour.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.simulator.service import SimulatedCluster
from tests.e2e.conftest import lab_cluster, reconcile
from tests.support.lab import changes_sent

pytestmark = pytest.mark.e2e


def with_window(repo: Path, *, opens_in: timedelta, lasts: str) -> None:
    """Every day, in UTC, from ``now + opens_in`` for ``lasts``."""
    start = (datetime.now(UTC) + opens_in).strftime("%H:%M")
    path = repo / "clusters" / "lab.yaml"
    path.write_text(
        path.read_text()
        + "maintenance:\n  timezone: UTC\n"
        + f'  windows:\n    - {{start: "{start}", duration: {lasts}}}\n'
    )


@pytest.fixture
def lab(lab_repo: Path, tmp_path: Path) -> Iterator[SimulatedCluster]:
    with lab_cluster(lab_repo, tmp_path / "sim") as sim:
        yield sim


def test_outside_its_window_the_seed_rotation_is_deferred_and_nothing_changes(
    lab: SimulatedCluster, lab_repo: Path
) -> None:
    with_window(lab_repo, opens_in=timedelta(hours=3), lasts="1h")
    plan = reconcile("plan", "--cluster", "lab", "--format", "json", repo=lab_repo)
    assert plan.returncode == 2, plan.stderr
    (cluster,) = json.loads(plan.stdout)["clusters"]
    window = cluster["window"]
    assert (window["needed"], window["open_now"], window["applies_now"]) == (True, False, False)
    assert window["says"].startswith("deferred: outside the maintenance windows; the next opens")
    text = reconcile("plan", "--cluster", "lab", repo=lab_repo)
    assert "maintenance window: applies in the next maintenance window: " in text.stdout
    assert "in 2 h 59 min" in text.stdout or "in 3 h" in text.stdout, text.stdout
    status = reconcile("status", "--cluster", "lab", repo=lab_repo)
    assert "maintenance window: next opens " in status.stdout, status.stdout

    apply = reconcile("apply", "--cluster", "lab", "--auto-approve", repo=lab_repo)
    assert apply.returncode == 3, apply.stdout + apply.stderr
    assert "cluster lab: deferred: outside the maintenance windows; the next opens" in apply.stderr
    assert "Nothing is sent to it." in apply.stderr
    assert changes_sent(lab) == []
    outcome = apply.stdout.split("Apply outcome:", 1)[1]
    assert "lab  deferred: outside the maintenance windows" in outcome

    as_json = reconcile(
        "apply", "--cluster", "lab", "--auto-approve", "--format", "json", repo=lab_repo
    )
    assert as_json.returncode == 3
    (result,) = json.loads(as_json.stdout)["clusters"]
    assert (result["result"], result["steps"]) == ("deferred", [])
    assert changes_sent(lab) == []


def test_ignore_window_runs_it_and_records_why(lab: SimulatedCluster, lab_repo: Path) -> None:
    with_window(lab_repo, opens_in=timedelta(hours=3), lasts="1h")
    refused = reconcile(
        "apply", "--cluster", "lab", "--auto-approve", "--ignore-window", repo=lab_repo
    )
    assert refused.returncode == 1
    assert "--ignore-window needs --reason TEXT" in refused.stderr
    assert changes_sent(lab) == []
    apply = reconcile(
        "apply",
        "--cluster",
        "lab",
        "--auto-approve",
        "--ignore-window",
        "--reason",
        "certificates expired: INC-4711",
        "--format",
        "json",
        repo=lab_repo,
    )
    assert apply.returncode == 0, apply.stderr
    (result,) = json.loads(apply.stdout)["clusters"]
    assert result["result"] == "converged"
    assert result["window"].startswith(
        "run outside its maintenance window (--ignore-window: certificates expired: INC-4711); "
        "deferred: outside the maintenance windows"
    )
    start = json.loads(Path(result["journal"]).read_text().splitlines()[0])
    assert start["window_ignored"]["reason"] == "certificates expired: INC-4711"
    assert changes_sent(lab) != []


def test_inside_its_window_the_seed_rotation_converges(
    lab: SimulatedCluster, lab_repo: Path
) -> None:
    with_window(lab_repo, opens_in=-timedelta(hours=1), lasts="6h")
    apply = reconcile("apply", "--cluster", "lab", "--auto-approve", repo=lab_repo)
    assert apply.returncode == 0, apply.stdout + apply.stderr
    assert "Apply complete: every cluster is converged." in apply.stdout
    assert "maintenance window: inside the maintenance window, which closes" in apply.stdout


def test_a_window_too_short_for_the_plan_defers_it(lab: SimulatedCluster, lab_repo: Path) -> None:
    with_window(lab_repo, opens_in=-timedelta(minutes=30), lasts="40m")  # closes in 10 min
    apply = reconcile("apply", "--cluster", "lab", "--auto-approve", repo=lab_repo)
    assert apply.returncode == 3, apply.stdout + apply.stderr
    assert "deferred: does not fit: the plan may take up to" in apply.stderr
    assert changes_sent(lab) == []
