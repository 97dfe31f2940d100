"""Shared test material: the repository, the lab topology and a scripted ShellIO."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from pathlib import Path

from reconciler.simulator.lab import SimNodeSpec, SimTopology, build_cluster
from reconciler.simulator.service import SimulatedCluster
from reconciler.simulator.state import Durations, SimClock

REPO = Path(__file__).resolve().parents[2]
LAB_NODES = (("cms1", "127.0.85.73"), ("cms2", "127.0.85.74"), ("cms3", "127.0.85.75"))
LAB_PASSWORD = "lab-test-password"
# The new bundle in certs/lab/, in `database cluster certs` argument order.
LAB_BUNDLE = (
    "dbclusterserver.key",
    "dbclusterserver.cer",
    "dbclusterclient.key",
    "dbclusterclient.cer",
    "CAVD.cer",
)
FAST = Durations(remove=0.3, initialize=0.3, join=0.3, upgrade_schema=0.2)


def lab_topology(port: int = 0) -> SimTopology:
    """The lab of clusters/lab.yaml; port 0 lets tests run beside a running `reconcile sim`."""
    return SimTopology(
        name="lab",
        nodes=tuple(SimNodeSpec(name, address, address, port) for name, address in LAB_NODES),
        username="admin",
        password_env="CMS_LAB_PASSWORD",
        key_file_env=None,
    )


def make_lab(workdir: Path, *, port: int = 0, durations: Durations = FAST) -> SimulatedCluster:
    return build_cluster(
        REPO,
        lab_topology(port),
        env={"CMS_LAB_PASSWORD": LAB_PASSWORD},
        workdir=workdir,
        durations=durations,
        clock=SimClock(),
    )


class ScriptedIO:
    """ShellIO for driving the interpreter directly: records output, answers from a script."""

    def __init__(self, answers: Iterable[str] = ()) -> None:
        self.answers = deque(answers)
        self.output: list[str] = []

    def write(self, text: str) -> None:
        self.output.append(text)

    def read_line(self, timeout: float | None = None) -> str | None:
        return self.answers.popleft() if self.answers else None

    @property
    def text(self) -> str:
        return "".join(self.output)
