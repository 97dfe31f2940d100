"""`make bench`: plan a simulated fleet of K 3-node clusters and time it (issue 13's targets).

Every cluster is a copy of the lab on its own free loopback subnet and port, served in this
process by the simulator; `reconcile` itself runs as a user runs it, one subprocess per run.
"Converged" clusters are seeded running the lab's new bundle (certs/lab/); "drifted" ones are
the lab as shipped (expired certificates: a re-form). Figures are medians of repeated runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.simulator.service import SimulatedCluster
from reconciler.simulator.state import Durations
from tests.support import fleet
from tests.support.fleet import build_fleet

LAB_ENV = {"CMS_LAB_PASSWORD": "cms-lab", "CMS_LAB_KEY_PASSPHRASE": "cms-lab"}
RECONCILE = [sys.executable, "-m", "reconciler"]


@contextmanager
def serving(root: Path, repo: Path, names: Sequence[str]) -> Iterator[list[SimulatedCluster]]:
    with fleet.serving(root, repo, names, LAB_ENV) as clusters:
        yield clusters


@dataclass
class Run:
    seconds: float
    code: int
    max_rss_mb: float
    output: str


def run(args: Sequence[str], *, cwd: Path | None = None) -> Run:
    """One `reconcile` run; its own peak RSS from wait4 (not the maximum over all children)."""
    env = {**os.environ, **LAB_ENV}
    with tempfile.TemporaryFile("w+") as out:
        start = time.perf_counter()
        process = subprocess.Popen(
            [*RECONCILE, *args], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd
        )
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read()
    return Run(seconds, process.returncode, usage.ru_maxrss / 1024, output)


@dataclass
class PlanFigures:
    clusters: int
    state: str
    runs: int
    median: float
    spread: tuple[float, float]
    connections_per_node: tuple[int, int]  # min and max over nodes, per run
    max_rss_mb: float


def time_plans(root: Path, count: int, *, converged: bool, repeats: int) -> PlanFigures:
    repo, names = build_fleet(root, count, converged=converged)
    expected = 0 if converged else 2
    with serving(root, repo, names) as clusters:
        nodes = [(cluster, setup.address) for cluster in clusters for setup in cluster.setups]
        before = {address: cluster.connections(address) for cluster, address in nodes}
        runs = []
        for _ in range(repeats):
            result = run(["--plan", "--repo", str(repo)])
            if result.code != expected:
                raise SystemExit(
                    f"plan of {count} clusters exited {result.code}, expected {expected}:\n"
                    + result.output[-3000:]
                )
            runs.append(result)
        per_node = [
            (cluster.connections(address) - before[address]) / repeats for cluster, address in nodes
        ]
    times = [result.seconds for result in runs]
    return PlanFigures(
        clusters=count,
        state="converged" if converged else "drifted",
        runs=repeats,
        median=statistics.median(times),
        spread=(min(times), max(times)),
        connections_per_node=(int(min(per_node)), int(max(per_node))),
        max_rss_mb=max(result.max_rss_mb for result in runs),
    )


@dataclass
class ApplyFigures:
    clusters: int
    operation_seconds: float
    runs: int
    median: float
    spread: tuple[float, float]
    critical_path: float  # the device's operation times along the plan's chain of steps
    operations: int
    reported_lateness: float  # median of (reported step time - device operation time)


DEVICE_OPERATIONS = ("remove", "initialize", "join")


def time_applies(
    root: Path, count: int, *, seconds: float, repeats: int, parallelism: int = 32
) -> ApplyFigures:
    """Apply a full re-form of ``count`` drifted clusters whose operations take ``seconds``.

    The critical path is the longest cluster's chain: steps within a cluster run one after
    another, clusters side by side (``--parallelism``). Each run starts from a fresh fleet.
    """
    durations = Durations(seconds, seconds, seconds, seconds)
    walls: list[float] = []
    paths: list[float] = []
    late: list[float] = []
    operations = 0
    for attempt in range(repeats):
        workdir = root / f"apply{attempt}"
        repo, names = build_fleet(workdir, count, converged=False)
        with fleet.serving(workdir, repo, names, LAB_ENV, durations):
            apply = ["--apply", "--auto-approve", "--format", "json", "--repo", str(repo)]
            result = run([*apply, "--parallelism", str(parallelism)])
        if result.code != 0:
            raise SystemExit(f"apply exited {result.code}:\n{result.output[-3000:]}")
        report = json.loads(result.output[result.output.index("{") :])
        chains = []
        for cluster in report["clusters"]:
            device = [s for s in cluster["steps"] if s["action"] in DEVICE_OPERATIONS]
            chains.append(len(device) * seconds)
            late += [s["seconds"] - seconds for s in device]
            operations = max(operations, len(device))
        walls.append(result.seconds)
        paths.append(max(chains))
    return ApplyFigures(
        clusters=count,
        operation_seconds=seconds,
        runs=repeats,
        median=statistics.median(walls),
        spread=(min(walls), max(walls)),
        critical_path=statistics.median(paths),
        operations=operations,
        reported_lateness=statistics.median(late),
    )


def time_help(repeats: int) -> float:
    return statistics.median(run(["--help"]).seconds for _ in range(repeats))


def profile_plan(root: Path, count: int) -> dict[str, Any]:
    """`benchmarks.phases` on one converged plan of ``count`` clusters."""
    repo, names = build_fleet(root, count, converged=True)
    with serving(root, repo, names):
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.phases", "--plan", "--repo", str(repo)],
            env={**os.environ, **LAB_ENV},
            capture_output=True,
            text=True,
            check=False,
        )
    report: dict[str, Any] = json.loads(done.stderr[done.stderr.index("{") :])
    return report


def machine() -> str:
    return (
        f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1,10,50", help="cluster counts K, comma-separated")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write", type=Path, help="write the results here (markdown)")
    parser.add_argument(
        "--applies",
        default="1x1,4x1,1x5",
        help="apply benchmark cases, CLUSTERSxSECONDS (re-forms whose device operations "
        "each take SECONDS), comma-separated",
    )
    options = parser.parse_args(argv)
    sizes = [int(size) for size in options.sizes.split(",")]
    figures = []
    with tempfile.TemporaryDirectory(prefix="cms-bench-") as temporary:
        root = Path(temporary)
        help_seconds = time_help(max(options.repeats, 10))
        print(f"--help: {help_seconds:.3f} s", flush=True)
        for count in sizes:
            for converged in (True, False):
                workdir = root / f"k{count}-{'c' if converged else 'd'}"
                repeats = options.repeats if count < 50 else max(3, options.repeats // 2)
                result = time_plans(workdir, count, converged=converged, repeats=repeats)
                figures.append(result)
                print(result, flush=True)
        applies = []
        for case in (case for case in options.applies.split(",") if case):
            count, seconds = case.split("x")
            applied = time_applies(
                root / f"apply-{case}",
                int(count),
                seconds=float(seconds),
                repeats=max(3, options.repeats // 2),
            )
            applies.append(applied)
            print(applied, flush=True)
        profiles = {count: profile_plan(root / f"profile{count}", count) for count in (1, 10)}
        print(json.dumps(profiles, indent=2), flush=True)
    if options.write:
        write_results(options.write, _results_table(help_seconds, figures, applies, profiles))


START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def write_results(path: Path, results: str) -> None:
    """Replace what lies between the markers; the prose around them is kept."""
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    before, _, rest = text.partition(START)
    _, _, after = rest.partition(END)
    command = " ".join(["python -m benchmarks.fleet", *sys.argv[1:]])
    stamp = f"Written by `{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}."
    path.write_text(f"{before}{START}\n{stamp}\n\n{results}\n{END}{after}")


def _apply_table(applies: Sequence[ApplyFigures]) -> list[str]:
    lines = [
        "",
        "Apply of a full re-form, start-up to exit (drifted clusters, every device operation",
        "taking the seconds shown; `--parallelism 32`). Critical path: the device's operation",
        "times along the longest cluster's chain of steps (steps within a cluster run one after",
        "another). Late by: a step's reported time minus its device operation's.",
        "",
        "| clusters | operation s | runs | median s | min-max s | critical path s"
        " | x critical path | step reported late by (median s) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for a in applies:
        lines.append(
            f"| {a.clusters} | {a.operation_seconds:g} | {a.runs} | {a.median:.2f} | "
            f"{a.spread[0]:.2f}-{a.spread[1]:.2f} | {a.critical_path:.1f} "
            f"({a.operations} operations) | {a.median / a.critical_path:.2f}x | "
            f"{a.reported_lateness:.2f} |"
        )
    return lines


def _results_table(
    help_seconds: float,
    figures: Sequence[PlanFigures],
    applies: Sequence[ApplyFigures],
    profiles: dict[int, dict[str, Any]],
) -> str:
    one = {f.state: f.median for f in figures if f.clusters == 1}
    lines = [
        f"Machine: {machine()}.",
        "",
        f"`reconcile --help`: median {help_seconds:.3f} s (target < 0.25 s).",
        "",
        "| clusters | state | runs | median s | min-max s | x one cluster"
        " | SSH connections per node per run | peak RSS MB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for f in figures:
        ratio = f.median / one[f.state] if f.state in one else float("nan")
        low, high = f.connections_per_node
        lines.append(
            f"| {f.clusters} | {f.state} | {f.runs} | {f.median:.2f} | "
            f"{f.spread[0]:.2f}-{f.spread[1]:.2f} | {ratio:.1f}x | "
            f"{low if low == high else f'{low}-{high}'} | {f.max_rss_mb:.0f} |"
        )
    lines += _apply_table(applies)
    lines += [
        "",
        "Phases of one converged plan (`python -m benchmarks.phases`; seconds summed over",
    ]
    lines += ["the reader threads, so they can exceed the wall time):", ""]
    lines += ["| phase | " + " | ".join(f"K={count}" for count in profiles) + " |"]
    lines += ["| --- |" + " --- |" * len(profiles)]
    first = next(iter(profiles.values()))
    rows = ["wall_in_process_s", "imports_at_start_s", "imports_for_plan_s", "command_s"]
    for row in rows:
        lines.append(f"| {row} | " + " | ".join(f"{p[row]}" for p in profiles.values()) + " |")
    for phase in first["phases"]:
        cells = []
        for p in profiles.values():
            entry = p["phases"].get(phase, {})
            cells.append(
                f"{entry.get('seconds_summed_over_threads', '-')} ({entry.get('calls', 0)})"
            )
        lines.append(f"| {phase} (calls) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
