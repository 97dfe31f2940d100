"""Offline checks of how nodes will be reached: credentials' variables and pinned host keys.

``validate`` runs in CI without secrets, so a credential variable that is not set is only a
warning here; status, plan and apply need it. A node without a pinned host key is a warning
too: the transport refuses unknown keys, so that node could not be reached.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from pathlib import Path

from reconciler.desired.findings import FindingList
from reconciler.desired.models import ClusterSpec
from reconciler.desired.source import DesiredSource, SourceReadError


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
            "pinned (unknown keys are refused): create it with ssh-keyscan",
        )
        return
    except SourceReadError as error:
        findings.error("ssh.known_hosts", f"known_hosts file cannot be used: {error}")
        return
    entries = parse_known_hosts(text)
    for index, node in enumerate(spec.nodes):
        host, port = node.effective_ssh_host, spec.ssh_port_of(node)
        if not is_pinned(entries, host, port):
            pattern = known_hosts_pattern(host, port)
            findings.warning(
                f"nodes[{index}]",
                f"no host key for {pattern} in {path}; the transport refuses unknown host keys, "
                f"so node {node.name} cannot be reached until you add it "
                f"(ssh-keyscan -p {port} {host} >> {path}, then check the key)",
                node.address,
            )


def known_hosts_pattern(host: str, port: int) -> str:
    """How OpenSSH writes a host in known_hosts: ``host`` on port 22, else ``[host]:port``."""
    return host if port == 22 else f"[{host}]:{port}"


def parse_known_hosts(text: str) -> list[str]:
    """The host fields of every usable line (markers like @revoked are skipped)."""
    hosts: list[str] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 3 or fields[0].startswith("#") or fields[0].startswith("@"):
            continue
        hosts.extend(fields[0].split(","))
    return hosts


def is_pinned(entries: list[str], host: str, port: int) -> bool:
    pattern = known_hosts_pattern(host, port)
    return any(entry == pattern or _hashed_match(entry, pattern) for entry in entries)


def _hashed_match(entry: str, pattern: str) -> bool:
    if not entry.startswith("|1|"):
        return False
    try:
        salt_text, hash_text = entry[3:].split("|", 1)
        salt = base64.b64decode(salt_text)
        expected = base64.b64decode(hash_text)
    except (ValueError, binascii.Error):
        return False
    digest = hmac.new(salt, pattern.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(digest, expected)
