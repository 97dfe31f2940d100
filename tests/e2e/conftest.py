"""End-to-end fixtures: a throwaway GitOps repo with the lab, and `reconcile sim` serving it.

Each test's lab has its own loopback subnet and port (`lab_addresses`), so e2e runs can go in
parallel and beside `make demo`, which serves the lab on its real addresses.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconciler.simulator.lab import build_cluster, load_topology
from reconciler.simulator.service import SimulatedCluster
from reconciler.simulator.state import Durations, SimClock
from tests.support import cli
from tests.support.cli import RECONCILE
from tests.support.lab import FAST, LAB_MATERIAL, LabAddresses, free_lab_addresses, move_lab

LAB_ENV = {"CMS_LAB_PASSWORD": "cms-lab", "CMS_LAB_KEY_PASSPHRASE": "cms-lab"}
__all__ = ["LAB_ENV", "RECONCILE", "reconcile"]


@pytest.fixture
def lab_addresses() -> LabAddresses:
    """This test's lab addresses and port, free when chosen."""
    return free_lab_addresses()


@pytest.fixture
def lab_repo(tmp_path: Path, lab_addresses: LabAddresses) -> Path:
    """A copy of the lab's desired state and scenario on `lab_addresses`, free to change."""
    repo = tmp_path / "gitops"
    for folder in ("clusters", "certs", "sim"):
        shutil.copytree(LAB_MATERIAL / folder, repo / folder)
    move_lab(repo, lab_addresses)
    return repo


def reconcile(
    *args: str, repo: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI as a user would, to its end (in this process: `tests/support/cli.py`)."""
    environment = {**os.environ, **LAB_ENV, **(env or {})}
    return cli.run([*args, "--repo", str(repo)], env=environment, timeout=timeout)


@dataclass
class RunningSim:
    process: cli.Process
    state_file: Path
    addresses: LabAddresses

    def state(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.state_file.read_text())
        return data

    def node(self, address: str) -> dict[str, Any]:
        return next(node for node in self.state()["nodes"] if node["address"] == address)

    def log(self, address: str, kind: str) -> list[str]:
        return [entry["detail"] for entry in self.node(address)["log"] if entry["kind"] == kind]


@pytest.fixture
def running_lab(
    lab_repo: Path, lab_addresses: LabAddresses, tmp_path: Path
) -> Iterator[RunningSim]:
    """`reconcile sim --cluster lab` serving `lab_repo`, on `lab_addresses`."""
    state_file = tmp_path / "sim-state.json"
    process = cli.start(
        [
            "sim",
            "--cluster",
            "lab",
            "--repo",
            str(lab_repo),
            "--operation-seconds",
            "0.3",
            "--state-file",
            str(state_file),
        ],
        env={**os.environ, **LAB_ENV},
    )
    with until_stopped(process):
        yield RunningSim(process, state_file, lab_addresses)


@contextlib.contextmanager
def until_stopped(process: cli.Process, timeout: float = 60) -> Iterator[list[str]]:
    """The lines `reconcile sim` printed up to its "ready" line (the test fails without
    one); the simulator is terminated, then killed if need be, when the block ends."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    try:
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "ready" in line:
                break
        if not lines or "ready" not in lines[-1]:
            process.kill()
            stderr = process.stderr.read() if process.stderr else ""
            pytest.fail(f"reconcile sim did not become ready: {lines} {stderr}")
        yield lines
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_idle(sim: SimulatedCluster, timeout: float = 10) -> None:
    """Until no node is in the middle of an operation (a killed apply, or a
    command a test sent, may have left one)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sim.model.lock:
            sim.model.settle()
            if all(node.operation is None for node in sim.model.nodes.values()):
                return
        time.sleep(0.02)
    pytest.fail("an operation never finished")


def converge_then_cut(sim: SimulatedCluster, repo: Path) -> None:
    """Apply the lab to convergence, then cut cms1 from cms3: the plan is then for cms3 to
    join cms1 again, which cannot work while the cut lasts (its rehearsal fails)."""
    converged = reconcile("--apply", "--cluster", "lab", "--auto-approve", repo=repo)
    assert converged.returncode == 0, converged.stderr
    sim.partition("cms1", "cms3")


def lab_cluster(
    repo: Path,
    workdir: Path,
    *,
    env: dict[str, str] = LAB_ENV,
    durations: Durations = FAST,
    clock: SimClock | None = None,
    state_file: Path | None = None,
    expiry_breaks_visibility: bool | None = None,
) -> SimulatedCluster:
    """The lab of ``repo`` as an in-process simulator, started by ``with``: what the e2e
    fixtures serve, differing only in what they pass here."""
    return build_cluster(
        repo,
        load_topology(repo, "lab"),
        env=env,
        workdir=workdir,
        durations=durations,
        clock=clock,
        state_file=state_file,
        expiry_breaks_visibility=expiry_breaks_visibility,
    )


@pytest.fixture
def lab_sim(lab_repo: Path, tmp_path: Path) -> Iterator[SimulatedCluster]:
    """The lab of `lab_repo` served in-process (on `lab_addresses`), so tests can inject faults."""
    with lab_cluster(lab_repo, tmp_path / "sim") as cluster:
        yield cluster
