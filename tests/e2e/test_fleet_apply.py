"""Several clusters in one apply: concurrent up to --parallelism, each with its own journal."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from reconciler.simulator.state import Durations
from tests.e2e.conftest import LAB_ENV
from tests.support import cli
from tests.support.fleet import build_fleet, serving
from tests.support.lab import changes_sent

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
        out, err = process.communicate(timeout=60)
        assert process.returncode == 130, err
        assert "Traceback" not in err
        for name in names:
            assert f"cluster {name} stopped " in err
        # The outcome, before that message, names every cluster and where it stopped.
        for line in outcome_lines(out, names):
            assert re.fullmatch(r"interrupted (at|after) step \d+", line), out
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


# --- every planned cluster is in the outcome (issue 23) -----------------------------------


def apply_as(repo: Path, output_format: str, parallelism: int) -> subprocess.CompletedProcess[str]:
    return cli.run(
        [
            "--apply",
            "--auto-approve",
            "--format",
            output_format,
            "--parallelism",
            str(parallelism),
            "--repo",
            str(repo),
        ],
        env={**os.environ, **LAB_ENV},
        timeout=180,
    )


def outcome_lines(stdout: str, names: list[str]) -> list[str]:
    """The text outcome's result for each cluster, in plan order (every cluster, only once)."""
    lines = stdout.splitlines()
    first = lines.index("Apply outcome:") + 1
    rows = [line.split(None, 1) for line in lines[first : first + len(names)]]
    assert [row[0] for row in rows] == names, stdout
    return [row[1] for row in rows]


def markdown_titles(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("### cms-reconciler apply")]


@pytest.mark.reliability(
    section="truthful",
    case="--parallelism 1, the first cluster fails: the second is listed as not started "
    "(text, JSON, markdown)",
)
def test_a_cluster_never_started_is_listed_in_every_format(tmp_path: Path) -> None:
    repo, names = build_fleet(tmp_path, 2, converged=False)
    with serving(tmp_path, repo, names, LAB_ENV) as clusters:
        clusters[0].fail_operation("cms2", "join")
        done = apply_as(repo, "json", 1)
        assert done.returncode == 1, done.stderr
        report = json.loads(done.stdout)
        results = [(c["name"], c["result"], c["summary"]) for c in report["clusters"]]
        failed_at = report["clusters"][0]["step"]
        assert isinstance(failed_at, int)
        assert results == [
            (names[0], "failed", f"failed at step {failed_at}"),
            (names[1], "not started", "not started"),
        ]
        assert report["clusters"][1]["journal"] is None
        assert report["clusters"][1]["steps"] == []
        # Nothing was sent to the second cluster.
        assert changes_sent(clusters[1]) == []
        # Each later apply fails again at cms2's join (the fault holds): the same verdicts.
        text = apply_as(repo, "text", 1)
        assert text.returncode == 1, text.stderr
        lines = outcome_lines(text.stdout, names)
        assert lines[0].startswith("failed at step ")
        assert lines[1] == "not started"
        markdown = apply_as(repo, "markdown", 1)
        assert markdown.returncode == 1, markdown.stderr
        titles = markdown_titles(markdown.stdout)
        assert len(titles) == 2, markdown.stdout
        assert titles[0].startswith(f"### cms-reconciler apply of `{names[0]}`: **failed at step ")
        assert titles[1] == f"### cms-reconciler apply of `{names[1]}`: **not started**"


@pytest.mark.reliability(
    section="truthful",
    case="two clusters side by side, one converges and one fails: both are listed "
    "(text, JSON, markdown)",
)
@pytest.mark.parametrize("output_format", ["json", "text", "markdown"])
def test_a_converged_cluster_beside_a_failed_one_is_listed(
    tmp_path: Path, output_format: str
) -> None:
    repo, names = build_fleet(tmp_path, 2, converged=False)
    with serving(tmp_path, repo, names, LAB_ENV) as clusters:
        clusters[0].fail_operation("cms2", "join")
        done = apply_as(repo, output_format, 2)
        assert done.returncode == 1, done.stderr
    if output_format == "json":
        report = json.loads(done.stdout)
        results = [(c["name"], c["result"]) for c in report["clusters"]]
        assert results == [(names[0], "failed"), (names[1], "converged")]
        assert report["clusters"][0]["summary"] == f"failed at step {report['clusters'][0]['step']}"
        assert report["converged"] is False
    elif output_format == "text":
        lines = outcome_lines(done.stdout, names)
        assert lines[0].startswith("failed at step ")
        assert lines[1] == "converged"
        assert "Apply complete" not in done.stdout
    else:
        titles = markdown_titles(done.stdout)
        assert len(titles) == 2, done.stdout
        assert titles[0].startswith(f"### cms-reconciler apply of `{names[0]}`: **failed at step ")
        assert titles[1] == f"### cms-reconciler apply of `{names[1]}`: converged ✅"


def test_a_deferred_cluster_is_not_rehearsed_and_the_other_applies(tmp_path: Path) -> None:
    """Maintenance windows (issue 26) in a fleet: the cluster whose window is closed gets
    nothing, not even a rehearsal (whose verdict could stop the other), and exit 3."""
    repo, names = build_fleet(tmp_path, 2, converged=False)
    deferred, applied = names
    start = (datetime.now(UTC) + timedelta(hours=3)).strftime("%H:%M")
    path = repo / "clusters" / f"{deferred}.yaml"
    path.write_text(
        path.read_text() + f'maintenance:\n  windows:\n    - {{start: "{start}", duration: 1h}}\n'
    )
    saved = tmp_path / "applied-plan.json"
    with serving(tmp_path, repo, names, LAB_ENV) as clusters:
        done = run_apply(repo, "--out", str(saved))
        assert done.returncode == 3, done.stderr
        report = json.loads(done.stdout)
        assert [(c["name"], c["result"]) for c in report["clusters"]] == [
            (deferred, "deferred"),
            (applied, "converged"),
        ]
        assert changes_sent(clusters[0]) == []
        assert changes_sent(clusters[1]) != []
    rehearsals = {c["name"]: c.get("rehearsal") for c in json.loads(saved.read_text())["clusters"]}
    assert rehearsals[deferred] is None
    assert rehearsals[applied]["converges"] is True
