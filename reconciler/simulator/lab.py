"""Build a simulated cluster for a cluster file: ``reconcile sim`` and ``reconcile demo``.

Nodes, addresses, ports and the SSH user come from ``clusters/<name>.yaml``; the state
they start in, and their pinned host keys, from ``sim/<name>/`` when it exists (the lab).
Without a scenario the nodes start unclustered and host keys are generated once and kept
under the work directory, so they stay pinnable across runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import paramiko

from reconciler.desired.models import ClusterSpec
from reconciler.errors import ConfigError
from reconciler.simulator import scenario as scenarios
from reconciler.simulator.faults import parse_faults, scenario_faults
from reconciler.simulator.service import NodeSetup, SimulatedCluster
from reconciler.simulator.state import Durations, SimClock


@dataclass(frozen=True)
class SimNodeSpec:
    name: str
    address: str
    ssh_host: str
    ssh_port: int


@dataclass(frozen=True)
class SimTopology:
    """What the simulator needs from a cluster file."""

    name: str
    nodes: tuple[SimNodeSpec, ...]
    username: str
    password_env: str | None
    key_file_env: str | None
    # Call bridges attached with ``database cluster connect`` (the file's ``connected:``).
    connected: tuple[SimNodeSpec, ...] = ()

    @property
    def machines(self) -> tuple[SimNodeSpec, ...]:
        """Every simulated machine: the database nodes, then the connected call bridges."""
        return self.nodes + self.connected


def scenario_directory(repo: Path, cluster: str) -> Path:
    return repo / "sim" / cluster


def build_cluster(
    repo: Path,
    topology: SimTopology,
    *,
    env: Mapping[str, str],
    workdir: Path,
    durations: Durations | None = None,
    clock: SimClock | None = None,
    state_file: Path | None = None,
    expiry_breaks_visibility: bool | None = None,
    faults: Sequence[str] = (),
) -> SimulatedCluster:
    """A ready-to-start simulated cluster for ``topology``, seeded from its scenario.

    Faults come from the scenario's ``faults:`` mapping and then ``faults`` (the specs of
    ``reconcile sim --fault``); both are checked before anything is served.
    """
    directory = scenario_directory(repo, topology.name)
    scenario = (
        scenarios.load_scenario(directory)
        if (directory / scenarios.SCENARIO_FILE).is_file()
        else {}
    )
    names = [node.name for node in topology.machines]
    fault_specs = [
        *scenario_faults(
            scenario.get("faults"), names, path=str(directory / scenarios.SCENARIO_FILE)
        ),
        *parse_faults(faults, names, source="--fault"),
    ]
    passphrase = scenario.get("key_passphrase")
    host_key_dir = directory / str(scenario.get("host_keys", "host_keys"))
    setups = []
    for node in topology.machines:
        key_file = host_key_dir / f"{node.name}.key"
        if key_file.is_file():
            host_key = scenarios.load_host_key(key_file, passphrase)
        else:
            host_key = _generated_host_key(workdir / "host_keys" / f"{node.name}.key")
        setups.append(NodeSetup(node.name, node.address, node.ssh_port, host_key, node.ssh_host))
    cluster = SimulatedCluster(
        setups,
        workdir=workdir / "nodes",
        users=_users(topology, env),
        authorized_keys=_authorized_keys(topology, env),
        wording=scenarios.scenario_wording(scenario),
        durations=durations,
        clock=clock,
        state_file=state_file,
        visibility_needs_tls=(
            bool(scenario.get("expiry_breaks_visibility", False))
            if expiry_breaks_visibility is None
            else expiry_breaks_visibility
        ),
    )
    if scenario:
        nodes = [cluster.node(node.address) for node in topology.nodes]
        scenarios.seed_nodes(nodes, directory, scenario, cluster.model.configure_certs)
        group = scenario.get("cluster")
        if group:
            scenarios.form_group(
                nodes,
                str(group["master"]),
                [str(member) for member in group["members"]],
                cluster.model.new_group,
            )
        bridges = [cluster.node(bridge.address) for bridge in topology.connected]
        scenarios.seed_bridges(bridges, directory, scenario, cluster.model.configure_certs)
    cluster.install_faults(fault_specs)
    return cluster


def _users(topology: SimTopology, env: Mapping[str, str]) -> dict[str, str]:
    if topology.password_env is None:
        return {}
    password = env.get(topology.password_env)
    if not password:
        raise ConfigError(
            f"cluster {topology.name}: ssh.password_env names {topology.password_env}, which is "
            "not set; export it (for the lab: CMS_LAB_PASSWORD=cms-lab, as `make demo` does)"
        )
    return {topology.username: password}


def _authorized_keys(
    topology: SimTopology, env: Mapping[str, str]
) -> dict[str, list[paramiko.PKey]]:
    if topology.key_file_env is None or not env.get(topology.key_file_env):
        return {}
    path = env[topology.key_file_env]
    try:
        key = paramiko.PKey.from_path(path)
    except (OSError, paramiko.SSHException) as error:
        raise ConfigError(
            f"cluster {topology.name}: cannot read the key file {path} named by "
            f"{topology.key_file_env}: {error}"
        ) from error
    return {topology.username: [key]}


def _generated_host_key(path: Path) -> paramiko.PKey:
    if path.is_file():
        return paramiko.Ed25519Key.from_private_key_file(str(path))
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    path.parent.mkdir(parents=True, exist_ok=True)
    key = ed25519.Ed25519PrivateKey.generate()
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return paramiko.Ed25519Key.from_private_key_file(str(path))


def topology_from_spec(spec: ClusterSpec) -> SimTopology:
    """The simulator's view of a validated cluster file."""
    return SimTopology(
        name=spec.name,
        nodes=tuple(
            SimNodeSpec(node.name, node.address, node.effective_ssh_host, spec.ssh_port_of(node))
            for node in spec.nodes
        ),
        username=spec.ssh.username,
        password_env=spec.ssh.password_env,
        key_file_env=spec.ssh.key_file_env,
        connected=tuple(
            SimNodeSpec(
                bridge.name, bridge.address, bridge.effective_ssh_host, spec.ssh_port_of(bridge)
            )
            for bridge in spec.connected
        ),
    )


def load_topology(repo: Path, cluster: str) -> SimTopology:
    """Read ``clusters/<cluster>.yaml`` from the working tree; its errors, listed, if any."""
    from reconciler.desired.findings import describe_errors
    from reconciler.desired.loader import load_spec
    from reconciler.desired.source import open_source

    with open_source(repo) as source:
        loaded = load_spec(source, cluster)
    if loaded.spec is None or loaded.findings.has_errors:
        problems = describe_errors(loaded.findings.items)
        raise ConfigError(f"cannot simulate cluster {cluster}:\n  {problems}")
    return topology_from_spec(loaded.spec)
