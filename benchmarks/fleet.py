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
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from reconciler.simulator.lab import build_cluster, load_topology
from reconciler.simulator.service import SimulatedCluster
from reconciler.simulator.state import Durations
from tests.support.lab import LAB_BUNDLE, REPO, free_lab_addresses, move_lab

LAB_ENV = {"CMS_LAB_PASSWORD": "cms-lab", "CMS_LAB_KEY_PASSPHRASE": "cms-lab"}
RECONCILE = [sys.executable, "-m", "reconciler"]
FAST = Durations(remove=0.3, initialize=0.3, join=0.3, upgrade_schema=0.2)
# The scenario's certificate keys, in LAB_BUNDLE's order.
SCENARIO_CERT_KEYS = ("server_key", "server_cert", "client_key", "client_cert", "ca_cert")


def _converge_scenario(scenario_dir: Path) -> None:
    """Seed the nodes with the desired bundle, so the plan is empty."""
    files = scenario_dir / "device-files"
    for name in LAB_BUNDLE:
        shutil.copy(REPO / "certs" / "lab" / name, files / name)
    path = scenario_dir / "scenario.yaml"
    scenario = yaml.safe_load(path.read_text())
    scenario["certs"] = dict(zip(SCENARIO_CERT_KEYS, LAB_BUNDLE, strict=True))
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))


def build_fleet(root: Path, count: int, *, converged: bool) -> tuple[Path, list[str]]:
    """A repository with ``count`` copies of the lab, ``f000``..., each on its own subnet."""
    repo = root / "fleet"
    (repo / "clusters").mkdir(parents=True)
    shutil.copytree(REPO / "certs", repo / "certs")
    pins: list[str] = []
    names = []
    for index in range(count):
        name = f"f{index:03d}"
        source = root / "sources" / name
        for folder in ("clusters", "sim"):
            shutil.copytree(REPO / folder, source / folder)
        move_lab(source, free_lab_addresses())
        text = (source / "clusters" / "lab.yaml").read_text()
        (repo / "clusters" / f"{name}.yaml").write_text(text.replace("name: lab", f"name: {name}"))
        pins += (source / "clusters" / "known_hosts").read_text().splitlines()
        shutil.copytree(source / "sim" / "lab", repo / "sim" / name)
        if converged:
            _converge_scenario(repo / "sim" / name)
        names.append(name)
    (repo / "clusters" / "known_hosts").write_text("\n".join(pins) + "\n")
    return repo, names


@contextmanager
def serving(root: Path, repo: Path, names: Sequence[str]) -> Iterator[list[SimulatedCluster]]:
    with ExitStack() as stack:
        clusters = []
        for name in names:
            cluster = build_cluster(
                repo,
                load_topology(repo, name),
                env=LAB_ENV,
                workdir=root / "sim" / name,
                durations=FAST,
            )
            clusters.append(stack.enter_context(cluster))
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
        profiles = {count: profile_plan(root / f"profile{count}", count) for count in (1, 10)}
        print(json.dumps(profiles, indent=2), flush=True)
    if options.write:
        write_results(options.write, _results_table(help_seconds, figures, profiles))


START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def write_results(path: Path, results: str) -> None:
    """Replace what lies between the markers; the prose around them is kept."""
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    before, _, rest = text.partition(START)
    _, _, after = rest.partition(END)
    command = " ".join(["python -m benchmarks.fleet", *sys.argv[1:]])
    stamp = f"Written by `{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}."
    path.write_text(f"{before}{START}\n{stamp}\n\n{results}\n{END}{after}")


def _results_table(
    help_seconds: float, figures: Sequence[PlanFigures], profiles: dict[int, dict[str, Any]]
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
