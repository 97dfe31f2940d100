"""Shared test material: the repository, the lab topology and a scripted ConsoleIO."""

from __future__ import annotations

import contextlib
import random
import socket
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from reconciler.simulator.builtin_lab import LabPlace, relocate_lab
from reconciler.simulator.lab import SimNodeSpec, SimTopology, build_cluster
from reconciler.simulator.service import SimulatedCluster
from reconciler.simulator.state import Durations, SimClock

REPO = Path(__file__).resolve().parents[2]
# The built-in lab (package data): a GitOps repository of its own (clusters/, certs/, sim/).
LAB_MATERIAL = REPO / "reconciler" / "lab"
# The lab's own addresses: only for tests that never listen on them, or listen on port 0.
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
# The commands that change a node: what a refused or cancelled apply must not have sent.
CHANGING = (
    "backup",
    "database cluster remove",
    "database cluster certs",
    "database cluster initialize",
    "database cluster join",
)


@dataclass(frozen=True)
class LabAddresses:
    """Where one test's lab listens: a loopback subnet and a port no other run is using.

    Node addresses keep the lab's last octets (cms1 .73, cms2 .74, cms3 .75); `spare` (.76)
    is free too, for tests that add a node.
    """

    cms1: str
    cms2: str
    cms3: str
    spare: str
    port: int

    @property
    def nodes(self) -> tuple[str, str, str]:
        """The lab's nodes in clusters/lab.yaml order; cms1 is the master."""
        return (self.cms1, self.cms2, self.cms3)

    @property
    def by_name(self) -> dict[str, str]:
        return {"cms1": self.cms1, "cms2": self.cms2, "cms3": self.cms3}

    def pin(self, address: str) -> str:
        """The known_hosts name of ``address`` on this lab's port: ``[address]:port``."""
        return f"[{address}]:{self.port}"


def _can_listen(addresses: Iterable[str], port: int) -> bool:
    """Whether every address can listen on ``port`` now: binding is the only reliable check."""
    with contextlib.ExitStack() as sockets:
        for address in addresses:
            sock = sockets.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            try:
                sock.bind((address, port))
                sock.listen()
            except OSError:
                return False
    return True


def free_lab_addresses(attempts: int = 100) -> LabAddresses:
    """A random 127.A.B.0/24 (never 127.0.x.x, so never `make demo`'s 127.0.85.x) and port.

    SystemRandom, because pytest plugins and hypothesis seed `random`: two runs started
    together would otherwise draw the same subnet. Ports stay below Linux's ephemeral range
    (32768+), which outgoing connections and port-0 servers draw from.
    """
    draw = random.SystemRandom()
    for _ in range(attempts):
        subnet = f"127.{draw.randint(1, 254)}.{draw.randint(0, 255)}"
        cms1, cms2, cms3, spare = (f"{subnet}.{octet}" for octet in (73, 74, 75, 76))
        port = draw.randint(20000, 32000)
        if _can_listen((cms1, cms2, cms3, spare), port):
            return LabAddresses(cms1, cms2, cms3, spare, port)
    raise RuntimeError(f"no free loopback subnet and port after {attempts} attempts")


def move_lab(repo: Path, addresses: LabAddresses) -> None:
    """Put a copy of the lab on ``addresses``: its cluster file, host pins and scenario.

    The product's own relocation (``reconcile demo --subnet``); parsing the result proves
    nothing else moved and nothing was left.
    """
    cluster_file = repo / "clusters" / "lab.yaml"
    before = yaml.safe_load(cluster_file.read_text())
    subnet = addresses.cms1.rsplit(".", 1)[0]
    moves = relocate_lab(repo, LabPlace(subnet, addresses.port))
    assert moves == {node["address"]: addresses.by_name[node["name"]] for node in before["nodes"]}
    expected = {
        **before,
        "master": moves[before["master"]],
        "nodes": [
            {**node, "address": moves[node["address"]], "ssh_port": addresses.port}
            for node in before["nodes"]
        ],
    }
    assert yaml.safe_load(cluster_file.read_text()) == expected
    pins = repo / "clusters" / "known_hosts"
    scenario = repo / "sim" / "lab" / "scenario.yaml"
    for path in (cluster_file, pins, scenario):
        assert not any(old in path.read_text() for old in moves), path
    pinned = [line.split(" ", 1)[0] for line in pins.read_text().splitlines() if line[:1] == "["]
    assert pinned == [addresses.pin(address) for address in addresses.nodes]


def changes_sent(sim: SimulatedCluster) -> list[str]:
    """Every command in ``CHANGING`` the lab's nodes received, node by node."""
    return [
        command
        for name, _ in LAB_NODES
        for command in sim.commands(name)
        if command.startswith(CHANGING)
    ]


def member_line(address: str, state: str, *, me: bool = False) -> str:
    """A line under ``Nodes:`` in MMP status (Master/Slave layout: indent 2, colon at 22)."""
    label = f"  {address} (me)" if me else f"  {address}"
    return f"{label.ljust(22)}: {state}"


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
        LAB_MATERIAL,
        lab_topology(port),
        env={"CMS_LAB_PASSWORD": LAB_PASSWORD},
        workdir=workdir,
        durations=durations,
        clock=SimClock(),
    )


class ScriptedIO:
    """ConsoleIO for driving the interpreter directly: records output, answers from a script."""

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
