"""Seed simulated nodes from a scenario directory (``sim/<cluster>/scenario.yaml``).

The lab's scenario reproduces the Cisco tech note: clustered nodes whose server and
client certificates expired. Private keys are encrypted in git; the device holds them
unencrypted, so they are decrypted here with the scenario's (lab-only) passphrase.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paramiko
import yaml
from cryptography.hazmat.primitives import serialization

from reconciler.desired.yamlfile import size_problem, structure_problem
from reconciler.errors import ConfigError
from reconciler.simulator.cluster import address_key
from reconciler.simulator.state import (
    CERT_ROLES,
    CLIENT_ROLES,
    CertConfig,
    Group,
    SimNode,
    Wording,
)

SCENARIO_FILE = "scenario.yaml"


def load_scenario(directory: Path) -> dict[str, Any]:
    """The scenario mapping; refused like a cluster file when oversized or using aliases."""
    path = directory / SCENARIO_FILE
    try:
        too_big = size_problem(path.stat().st_size, "scenario file")
        if too_big:
            raise ConfigError(f"{path}: {too_big}")
        text = path.read_text(encoding="utf-8")
        refused = structure_problem(text, "scenario files")
        if refused:
            raise ConfigError(f"{path}: {refused}")
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read the simulator scenario: {error}") from error
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a scenario is a mapping")
    return data


def scenario_wording(scenario: dict[str, Any]) -> Wording:
    return Wording(scenario.get("wording", Wording.MASTER_SLAVE.value))


def load_host_key(path: Path, passphrase: str | None) -> paramiko.PKey:
    """An (encrypted) OpenSSH private host key. Its bcrypt KDF costs about 0.1 s by design, so
    keys are cached by content: a copy of the lab in another folder (every e2e test, every
    cluster of a benchmark fleet) reuses the decrypted key."""
    try:
        return _host_key(path.read_bytes(), passphrase)
    except (OSError, UnicodeDecodeError, ValueError, paramiko.SSHException) as error:
        raise ConfigError(
            f"{path}: cannot load the simulated node's host key (an encrypted OpenSSH "
            f"Ed25519 key, with the scenario's key_passphrase): {error}"
        ) from error


@functools.lru_cache(maxsize=64)
def _host_key(data: bytes, passphrase: str | None) -> paramiko.PKey:
    return paramiko.Ed25519Key.from_private_key(io.StringIO(data.decode("ascii")), passphrase)


def device_bytes(path: Path, passphrase: str | None) -> bytes:
    """File bytes as the device holds them: private keys decrypted to plain PKCS#8 PEM."""
    return _device_form(path.read_bytes(), passphrase)


@functools.lru_cache(maxsize=64)
def _device_form(data: bytes, passphrase: str | None) -> bytes:
    """Cached: the key-derivation function of encrypted keys is slow by design."""
    if b"ENCRYPTED PRIVATE KEY" not in data:
        return data
    key = serialization.load_pem_private_key(
        data, password=passphrase.encode() if passphrase else None
    )
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def seed_nodes(
    nodes: list[SimNode],
    directory: Path,
    scenario: dict[str, Any],
    configure: Callable[[SimNode, dict[str, str]], CertConfig],
) -> None:
    """Put the scenario's files, certificates, membership and data on fresh nodes."""
    passphrase = scenario.get("key_passphrase")
    files_dir = directory / str(scenario.get("files", "device-files"))
    for node in nodes:
        if files_dir.is_dir():
            for source in sorted(files_dir.iterdir()):
                if source.is_file():
                    node.file_path(source.name).write_bytes(device_bytes(source, passphrase))
        node.interface = scenario.get("interface", "a")
        certs = scenario.get("certs")
        if certs:
            configure(node, {role: str(certs[role]) for role in CERT_ROLES if role in certs})
        last = scenario.get("last_command")
        if last:
            node.last_command = (str(last["command"]), str(last["result"]))


def seed_bridges(
    bridges: list[SimNode],
    directory: Path,
    scenario: dict[str, Any],
    configure: Callable[[SimNode, dict[str, str]], CertConfig],
) -> None:
    """Connected call bridges: the scenario's files, and with ``connected_to: <address>``
    the client key/cert and CA of its ``certs`` loaded (3-argument form) and connected."""
    seed_nodes(bridges, directory, {**scenario, "certs": None, "last_command": None}, configure)
    target = scenario.get("connected_to")
    certs = scenario.get("certs")
    if not target or not certs:
        return
    for bridge in bridges:
        loaded = configure(
            bridge, {role: str(certs[role]) for role in CLIENT_ROLES if role in certs}
        )
        bridge.connected_to = str(target)
        bridge.connected_with = loaded


def form_group(
    nodes: list[SimNode],
    master: str,
    members: list[str],
    new_group: Callable[[list[str], str | None], Group],
) -> None:
    """Make ``members`` one enabled cluster led by ``master``; replicas hold older data.

    The master kept serving writes after replication stopped, so the replicas' content is
    one generation behind: a rotation that joins the wrong way round is visible in tests.
    """
    by_address = {node.address: node for node in nodes}
    missing = [address for address in [master, *members] if address not in by_address]
    if missing:
        raise ConfigError(f"scenario names nodes that the cluster file does not: {missing}")
    group = new_group(sorted(members, key=address_key), master)
    leader = by_address[master]
    for address in members:
        node = by_address[address]
        node.group = group
        node.status = "Enabled"
        node.last_seen_master = master
        node.content_id = f"{leader.name}-db-1"
        node.data_generation = 1
    leader.content_id = f"{leader.name}-db-2"
    leader.data_generation = 2
