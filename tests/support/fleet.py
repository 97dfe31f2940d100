"""A fleet of simulated labs: K copies of the lab, each on its own free loopback subnet and port.

Shared by the fleet benchmarks (benchmarks/fleet.py) and the end-to-end tests of running
several clusters in one run.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

import yaml

from reconciler.simulator.lab import build_cluster, load_topology
from reconciler.simulator.service import SimulatedCluster
from reconciler.simulator.state import Durations
from tests.support.lab import FAST, LAB_BUNDLE, LAB_MATERIAL, free_lab_addresses, move_lab

# The scenario's certificate keys, in LAB_BUNDLE's order.
SCENARIO_CERT_KEYS = ("server_key", "server_cert", "client_key", "client_cert", "ca_cert")


def converge_scenario(scenario_dir: Path) -> None:
    """Seed the nodes with the desired bundle, so the plan is empty."""
    files = scenario_dir / "device-files"
    for name in LAB_BUNDLE:
        shutil.copy(LAB_MATERIAL / "certs" / "lab" / name, files / name)
    path = scenario_dir / "scenario.yaml"
    scenario = yaml.safe_load(path.read_text())
    scenario["certs"] = dict(zip(SCENARIO_CERT_KEYS, LAB_BUNDLE, strict=True))
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))


def build_fleet(root: Path, count: int, *, converged: bool) -> tuple[Path, list[str]]:
    """A repository with ``count`` copies of the lab, ``f000``..., each on its own subnet."""
    repo = root / "fleet"
    (repo / "clusters").mkdir(parents=True)
    shutil.copytree(LAB_MATERIAL / "certs", repo / "certs")
    pins: list[str] = []
    names = []
    for index in range(count):
        name = f"f{index:03d}"
        source = root / "sources" / name
        for folder in ("clusters", "sim"):
            shutil.copytree(LAB_MATERIAL / folder, source / folder)
        move_lab(source, free_lab_addresses())
        text = (source / "clusters" / "lab.yaml").read_text()
        (repo / "clusters" / f"{name}.yaml").write_text(text.replace("name: lab", f"name: {name}"))
        pins += (source / "clusters" / "known_hosts").read_text().splitlines()
        shutil.copytree(source / "sim" / "lab", repo / "sim" / name)
        if converged:
            converge_scenario(repo / "sim" / name)
        names.append(name)
    (repo / "clusters" / "known_hosts").write_text("\n".join(pins) + "\n")
    return repo, names


@contextmanager
def serving(
    root: Path,
    repo: Path,
    names: Sequence[str],
    env: Mapping[str, str],
    durations: Durations = FAST,
) -> Iterator[list[SimulatedCluster]]:
    """Every cluster of the fleet served by the simulator in this process."""
    with ExitStack() as stack:
        clusters = []
        for name in names:
            cluster = build_cluster(
                repo,
                load_topology(repo, name),
                env=env,
                workdir=root / "sim" / name,
                durations=durations,
            )
            clusters.append(stack.enter_context(cluster))
        yield clusters
