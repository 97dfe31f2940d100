"""Several clusters in one apply: concurrent up to --parallelism, each with its own journal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from reconciler.simulator.state import Durations
from tests.e2e.conftest import LAB_ENV
from tests.support import cli
from tests.support.fleet import build_fleet, serving

pytestmark = pytest.mark.e2e


def run_apply(repo: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli.run(
        ["--apply", "--auto-approve", "--format", "json", "--repo", str(repo), *extra],
        env={**os.environ, **LAB_ENV},
        timeout=180,
    )


def journal_events(path: str | Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def window(path: str | Path) -> tuple[datetime, datetime]:
    """When the cluster's first step started and its apply ended."""
    events = journal_events(path)
    start = next(event["time"] for event in events if event["event"] == "step.start")
    end = next(event["time"] for event in events if event["event"] == "apply.end")
    return datetime.fromisoformat(start), datetime.fromisoformat(end)


@pytest.mark.parametrize("parallelism", [2, 1])
def test_clusters_apply_at_once_up_to_the_parallelism(tmp_path: Path, parallelism: int) -> None:
    repo, names = build_fleet(tmp_path, 2, converged=False)
    with serving(tmp_path, repo, names, LAB_ENV) as clusters:
        masters = [cluster.node("cms1").content_id for cluster in clusters]
        done = run_apply(repo, "--parallelism", str(parallelism))
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["converged"] is True
        assert [cluster["name"] for cluster in report["clusters"]] == names
        # Every node of every cluster runs its own cluster's master data, nobody else's.
        for cluster, master in zip(clusters, masters, strict=True):
            assert {node["content_id"] for node in cluster.snapshot()["nodes"]} == {master}
    first, second = (window(cluster["journal"]) for cluster in report["clusters"])
    overlap = first[0] < second[1] and second[0] < first[1]
    assert overlap is (parallelism > 1), (first, second)


def wait_for(condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_ctrl_c_stops_every_running_cluster_and_says_where(tmp_path: Path) -> None:
    repo, names = build_fleet(tmp_path, 2, converged=False)
    slow = Durations(remove=3.0, initialize=3.0, join=3.0, upgrade_schema=1.0)
    with serving(tmp_path, repo, names, LAB_ENV, durations=slow) as clusters:
        process = cli.start(
            ["--apply", "--auto-approve", "--repo", str(repo), "--parallelism", "2"],
            env={**os.environ, **LAB_ENV},
        )
        # Both clusters are waiting on a remove on the device.
        wait_for(
            lambda: all(
                any(command == "database cluster remove" for command in cluster.commands("cms2"))
                for cluster in clusters
            )
        )
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        assert process.returncode == 130, err
        assert "Traceback" not in err
        for name in names:
            assert f"cluster {name} stopped " in err
        journals = sorted((repo / ".reconcile" / "journal").rglob("*.jsonl"))
        assert len(journals) == 2, journals
        for path in journals:
            end = journal_events(path)[-1]
            assert end["event"] == "apply.end", end
            assert end["interrupted"] is True, end
            assert str(path) in err
        # Nothing after the interrupted step was sent: no node was initialized.
        for cluster in clusters:
            for node in ("cms1", "cms2", "cms3"):
                assert "database cluster initialize" not in cluster.commands(node)
