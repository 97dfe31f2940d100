"""The built-in lab, shipped inside the package: the Cisco tech note's cluster, simulated.

``reconcile demo`` and ``reconcile sim --cluster lab`` (where no ``clusters/lab.yaml`` is at
hand) copy it into a folder of their own, so they work from an installed wheel in any folder
and never write into the package or into the current folder. A copy can be moved to another
loopback subnet and port, so that a demo runs beside another demo, ``reconcile sim`` or the
tests. ``lab_hint`` recognises the lab (and its moved copies) in a cluster file, so that only
the lab's nodes are told how to serve it when they refuse connections.
The lab is one copy in the repository: ``reconciler/lab/`` (``clusters/``, ``certs/lab/``,
``sim/lab/``), made by ``scripts/make_lab_material.py``.
"""

from __future__ import annotations

import errno
import re
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from importlib.resources import as_file, files
from pathlib import Path

import yaml

from reconciler.desired.models import ClusterSpec
from reconciler.errors import ConfigError, ReconcileError

LAB_CLUSTER = "lab"
LAB_SUBNET = "127.0.85"
LAB_PORT = 2222
# Published, lab-only credentials (README): the simulated lab accepts them, nothing else should.
LAB_ENV = {"CMS_LAB_PASSWORD": "cms-lab", "CMS_LAB_KEY_PASSPHRASE": "cms-lab"}
# What a copy of the lab consists of, by repository path.
LAB_PATHS = (
    "clusters/lab.yaml",
    "clusters/known_hosts",
    "clusters/cluster.schema.json",
    "certs/lab",
    "sim/lab",
)
_SUBNET = re.compile(r"127\.(25[0-5]|2[0-4]\d|1?\d?\d)\.(25[0-5]|2[0-4]\d|1?\d?\d)")


@dataclass(frozen=True)
class LabPlace:
    """Where a copy of the lab listens: its nodes keep their last octets (.73, .74, .75)."""

    subnet: str = LAB_SUBNET
    port: int = LAB_PORT

    def __post_init__(self) -> None:
        if not _SUBNET.fullmatch(self.subnet):
            raise ConfigError(
                f"--subnet {self.subnet}: give the first three octets of a loopback subnet, "
                "e.g. 127.0.86 (the lab's nodes are .73, .74 and .75 in it)"
            )
        if not 1 <= self.port <= 65535:
            raise ConfigError(f"--port {self.port}: give a TCP port from 1 to 65535")

    def address(self, last_octet: str) -> str:
        return f"{self.subnet}.{last_octet}"


@contextmanager
def lab_material() -> Iterator[Path]:
    """The packaged lab as a folder on disk (a temporary one if the package is zipped)."""
    with as_file(files("reconciler") / "lab") as folder:
        yield folder


def copy_lab(target: Path, place: LabPlace = LabPlace()) -> list[Path]:
    """Copy the lab into ``target`` on ``place``; return what was created, for clean-up.

    Nothing that exists is replaced: a path of the lab already in ``target`` is refused
    before anything is written.
    """
    existing = [path for path in LAB_PATHS if (target / path).exists()]
    if existing:
        raise ConfigError(
            f"{target} already has {', '.join(existing)}: the lab is copied only where none "
            "of its files is; choose an empty folder"
        )
    created: list[Path] = []
    with lab_material() as source:
        for path in LAB_PATHS:
            destination = target / path
            for folder in reversed(destination.parents):
                if not folder.exists():
                    folder.mkdir()
                    created.append(folder)
            if (source / path).is_dir():
                shutil.copytree(source / path, destination)
            else:
                shutil.copyfile(source / path, destination)
            created.append(destination)
    if place != LabPlace():
        relocate_lab(target, place)
    return created


def relocate_lab(repo: Path, place: LabPlace) -> dict[str, str]:
    """Move the lab in ``repo`` to ``place``: its cluster file, host pins and scenario.

    Text is rewritten token by token (whole addresses, the ``ssh_port`` value, each pin's
    ``[address]:port``), so the files keep their layout and comments. Returns the moves.
    """
    cluster_file = repo / "clusters" / f"{LAB_CLUSTER}.yaml"
    text = cluster_file.read_text()
    nodes = yaml.safe_load(text)["nodes"]
    moves = {node["address"]: place.address(node["address"].rsplit(".", 1)[1]) for node in nodes}
    old_ports = {node["ssh_port"] for node in nodes}
    text = replace_addresses(text, moves)
    for old_port in old_ports:
        text = text.replace(f"ssh_port: {old_port}", f"ssh_port: {place.port}")
    cluster_file.write_text(text)
    pins = repo / "clusters" / "known_hosts"
    pins.write_text(repin(pins.read_text(), moves, place.port))
    scenario = repo / "sim" / LAB_CLUSTER / "scenario.yaml"
    scenario.write_text(replace_addresses(scenario.read_text(), moves))
    return moves


def replace_addresses(text: str, moves: Mapping[str, str]) -> str:
    """Replace whole addresses only: ``127.0.85.7`` would never rewrite part of ``.73``."""
    alternatives = "|".join(re.escape(address) for address in moves)
    pattern = re.compile(rf"(?<![\w.])(?:{alternatives})(?![\w.])")
    return pattern.sub(lambda match: moves[match.group()], text)


def repin(text: str, moves: Mapping[str, str], port: int) -> str:
    """Rename each ``[address]:port`` pin of a moved node; the key stays (it is the node's)."""
    lines = []
    for line in text.splitlines():
        if line.startswith("["):
            host, key = line.split(" ", 1)
            address = host[1:].partition("]:")[0]
            if address in moves:
                line = f"[{moves[address]}]:{port} {key}"
        lines.append(line)
    return "\n".join(lines) + "\n"


@cache
def _packaged_nodes() -> tuple[tuple[str, str], ...]:
    """The built-in lab's nodes as its cluster file lists them: (name, last octet)."""
    with lab_material() as folder:
        document = yaml.safe_load((folder / "clusters" / f"{LAB_CLUSTER}.yaml").read_text())
    return tuple((node["name"], node["address"].rsplit(".", 1)[1]) for node in document["nodes"])


def lab_place_of(spec: ClusterSpec) -> LabPlace | None:
    """Where ``spec`` is the built-in lab, or None when it is not the lab.

    The lab is cluster ``lab`` with the packaged lab's nodes (names, last octets) on one
    loopback subnet and one port, each reached at its own address: the packaged file itself,
    or a copy moved by ``demo``/``sim --subnet --port`` (``relocate_lab``). Anything else,
    a cluster named ``lab`` on other addresses included, is somebody's real cluster.
    """
    if spec.name != LAB_CLUSTER or not spec.nodes:
        return None
    first = spec.nodes[0]
    try:
        place = LabPlace(first.address.rsplit(".", 1)[0], spec.ssh_port_of(first))
    except ConfigError:
        return None
    wanted = sorted((name, place.address(octet)) for name, octet in _packaged_nodes())
    nodes = sorted((node.name, node.address) for node in spec.nodes)
    reached = all(
        node.effective_ssh_host == node.address and spec.ssh_port_of(node) == place.port
        for node in spec.nodes
    )
    return place if reached and nodes == wanted else None


def lab_hint(spec: ClusterSpec) -> str | None:
    """For a node of the lab that refuses connections: the command that serves the lab.

    ``reconcile sim --cluster lab`` serves the repository's own ``clusters/lab.yaml``, or,
    in a folder without one, a copy of the built-in lab (on ``--subnet``/``--port``).
    """
    place = lab_place_of(spec)
    if place is None:
        return None
    if place == LabPlace():
        return (
            "For the simulated lab: is `reconcile sim --cluster lab` running (in this "
            "repository, or in any folder without a clusters/lab.yaml of its own)?"
        )
    return (
        "For the simulated lab: is `reconcile sim --cluster lab` running in this repository "
        f"(or `reconcile sim --cluster lab --subnet {place.subnet} --port {place.port}` in a "
        "folder without a clusters/lab.yaml of its own)?"
    )


def lab_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with the lab's published credentials wherever it leaves them unset or empty."""
    merged = dict(env)
    for name, value in LAB_ENV.items():
        if not merged.get(name):
            merged[name] = value
    return merged


def serving_error(error: OSError, addresses: str, port: int) -> ReconcileError:
    """One line for the usual reasons a simulated node cannot listen, never ``[Errno 98]``."""
    where = f"{addresses} port {port}"
    if error.errno == errno.EADDRINUSE:
        return ReconcileError(
            f"the lab's addresses {where} are in use (another `reconcile demo` or `reconcile "
            "sim` is serving them?): stop it, or choose others with --subnet 127.A.B --port N"
        )
    if error.errno == errno.EADDRNOTAVAIL:
        return ReconcileError(
            f"cannot listen on {where}: this machine does not route that loopback subnet "
            "(macOS routes only 127.0.0.1 unless told: `sudo ifconfig lo0 alias ADDRESS` for "
            "each node)"
        )
    return ReconcileError(f"cannot serve the lab on {where}: {error.strerror or error}")
