"""Offline checks of how nodes will be reached: credentials' variables and pinned host keys.

``validate`` runs in CI without secrets, so a credential variable that is not set is only a
warning here; status, plan and apply need it. A node without a pinned host key is a warning
too: the transport refuses unknown keys, so that node could not be reached. A known_hosts line
the transport would refuse (bad base64, unknown key type, ``@cert-authority``...) is an error
naming its line, and so is a node whose every pinned key is also ``@revoked``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from reconciler.desired.findings import FindingList
from reconciler.desired.models import ClusterSpec, ConnectedSpec, NodeSpec
from reconciler.desired.source import DesiredSource
from reconciler.errors import SourceReadError
from reconciler.mmp.known_hosts import KnownHostsFile, host_key_name, parse_known_hosts


def check_access(
    spec: ClusterSpec, source: DesiredSource, env: Mapping[str, str], findings: FindingList
) -> None:
    _credentials(spec, env, findings)
    _known_hosts(spec, source, findings)


def _credentials(spec: ClusterSpec, env: Mapping[str, str], findings: FindingList) -> None:
    ssh = spec.ssh
    if ssh.password_env is None and ssh.key_file_env is None:
        findings.error(
            "ssh",
            "neither password_env nor key_file_env is set; the MMP login needs a password or "
            "a key: name the environment variable that holds it",
        )
    for key, name in (
        ("ssh.password_env", ssh.password_env),
        ("ssh.key_file_env", ssh.key_file_env),
    ):
        if name is None:
            continue
        value = env.get(name)
        if not value:
            state = "is empty" if value == "" else "is not set"
            findings.warning(
                key,
                f"environment variable {name} (named by {key}) {state}; validate does not "
                "need it, but status, plan and apply do",
            )
        elif key == "ssh.key_file_env" and not Path(value).is_file():
            findings.warning(
                key,
                f"environment variable {name} names {value}, which is not a file here; "
                "status, plan and apply need the SSH private key there",
            )


def _known_hosts(spec: ClusterSpec, source: DesiredSource, findings: FindingList) -> None:
    path = spec.ssh.known_hosts
    try:
        text = source.read_bytes(path).decode("utf-8", "replace")
    except FileNotFoundError:
        findings.error(
            "ssh.known_hosts",
            f"known_hosts file {path} does not exist in {source.describe()}; host keys must be "
            "pinned (unknown keys are refused): `reconcile hostkeys --write` creates it with "
            "the keys the nodes offer, once you have checked their fingerprints",
        )
        return
    except SourceReadError as error:
        findings.error("ssh.known_hosts", f"known_hosts file cannot be used: {error}")
        return
    pins = parse_known_hosts(text)
    if pins.problems:
        # The transport refuses the whole file, so nothing below would be reachable anyway.
        for problem in pins.problems:
            findings.error(
                "ssh.known_hosts",
                f"{problem.describe(path)}; no node of the cluster is contacted until it is "
                "fixed or deleted",
            )
        return
    for index, node in enumerate(spec.nodes):
        _node_pins(pins, spec, f"nodes[{index}]", node, findings)
    for index, bridge in enumerate(spec.connected):  # read by every plan, pinned like nodes
        _node_pins(pins, spec, f"connected[{index}]", bridge, findings)


def _node_pins(
    pins: KnownHostsFile,
    spec: ClusterSpec,
    key: str,
    node: NodeSpec | ConnectedSpec,
    findings: FindingList,
) -> None:
    path = spec.ssh.known_hosts
    what = "node" if isinstance(node, NodeSpec) else "call bridge"
    host, port = node.effective_ssh_host, spec.ssh_port_of(node)
    pattern = host_key_name(host, port)
    lines = pins.pins(pattern)
    if not lines:
        findings.warning(
            key,
            f"no host key for {pattern} in {path}; the transport refuses unknown host keys, "
            f"so {what} {node.name} cannot be reached until you add it: `reconcile hostkeys` "
            "shows its fingerprint to check on the node's console, `reconcile hostkeys "
            "--write` pins it",
            node.address,
        )
        return
    contradictions = [
        f"line {line.number} pins {line.fingerprint}, which line {revocation.number} revokes"
        for line in lines
        if (revocation := pins.revocation(line.blob)) is not None
    ]
    if len(contradictions) == len(lines):
        findings.error(
            key,
            f"every host key pinned for {pattern} in {path} is @revoked "
            f"({'; '.join(contradictions)}); {what} {node.name} would be refused: pin its new "
            "key and delete the old pin",
            node.address,
        )
    elif contradictions:
        findings.warning(
            key,
            f"{path} {'; '.join(contradictions)}; delete that pin ({what} {node.name} is "
            "refused if it presents that key)",
            node.address,
        )
