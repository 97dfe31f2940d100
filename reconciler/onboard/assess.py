"""Whether a live cluster is healthy enough to describe, and if not, every reason why.

``reconcile import`` promises that the next plan is empty, so it describes only a cluster that
is settled and agrees with itself. Each of these refuses the import (they are all reported
at once, and nothing is written):

- a node that could not be read, or whose status is not understood;
- a node that is not ``Enabled`` (Disabled, Error, or in the middle of an operation);
- an ``--address`` whose node lists no ``(me)`` member, or that is not a member of the
  cluster the others form; two ``--address`` options that reach one node;
- nodes that disagree on the membership, or on which node is the master; no master, or more
  than one; a member another node sees as not connected;
- a member that no ``--address`` reached (its SSH address, host key, name and files would be
  guesses: give it as ``--address``);
- a replica that is not ``In Sync``, or a node whose ``Node in use`` is not the master;
- a certificate line missing from status, or marked ``(expired)``; a certificate file read
  that is expired or not yet valid, or not PEM; a file or node name that cannot be a path.

``content_refusals`` then refuses a certificate or key file read with text outside its PEM
blocks (a certificate is written to git byte for byte, so git would hold the junk too; a key
would be re-encrypted without it and so never match the node's file): the file, the nodes
and what to do, once per distinct file.

An expired cluster is refused rather than described: its plan could never be empty (an
expired certificate is always a change, and ``validate`` rejects an expired file), and in
practice expiry is what breaks replication. Describe it by hand with the new bundle instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from cryptography import x509

from reconciler.addresses import canonical_address
from reconciler.desired.bundle import ROLE_LABEL
from reconciler.desired.models import NODE_NAME_PATTERN, remote_name_problem
from reconciler.desired.pem import load_certificates, pem_blocks
from reconciler.errors import MaterialError
from reconciler.live.models import CERT_ROLES
from reconciler.mmp.models import CertRole, ClusterStatus, MemberRole
from reconciler.onboard.reading import NodeReading

EXPIRED_HINT = (
    "an expired cluster is not imported: its plan could never be empty, and its replicas "
    "cannot get In Sync again until its certificates are replaced. Instead, write its cluster "
    'file by hand with the new bundle (README "Use it on your cluster", step 2; the '
    "GitOps walkthrough's steps 2 and 3: the file and its bundle, then its host keys) and let "
    "`reconcile plan` show the rotation that brings it back"
)


def refusals(readings: Sequence[NodeReading], now: datetime) -> list[str]:
    """Every reason the cluster cannot be described; empty when it can."""
    unread = [reading.error for reading in readings if reading.error]
    if unread:
        return unread
    reasons: list[str] = []
    settled: list[tuple[NodeReading, ClusterStatus]] = []
    invalid: dict[str, list[str]] = {}
    for reading in readings:
        assert reading.status is not None
        problems = _node_state(reading, reading.status)
        reasons += problems
        if not problems:
            settled.append((reading, reading.status))
        reasons += _names(reading, reading.status)
        reasons += _certificates(reading, reading.status, now, invalid)
    for what, nodes in invalid.items():
        reasons.append(f"{what} on {', '.join(nodes)}")
    reasons += _same_node_twice(settled)
    if len(settled) == len(readings):
        reasons += _agreement(settled, expired=bool(invalid))
    if invalid:  # last: what to do instead, after every reason
        reasons.append(EXPIRED_HINT)
    return reasons


def _node_state(reading: NodeReading, status: ClusterStatus) -> list[str]:
    if status.transitional:
        return [
            f"{reading.label} is in the middle of an operation ({status.status_text}); import "
            "once it has finished"
        ]
    if status.state != "Enabled":
        shown = status.status_text or "no Status line"
        detail = f" ({status.error})" if status.error else ""
        return [
            f"{reading.label} is {shown}{detail}, not Enabled: every node must be an Enabled "
            "member of the cluster"
        ]
    if status.me is None:
        return [f"{reading.label} lists no '(me)' member: it is not a member of a database cluster"]
    return []


def _names(reading: NodeReading, status: ClusterStatus) -> list[str]:
    reasons = []
    if reading.name is not None and not re.fullmatch(NODE_NAME_PATTERN, reading.name):
        reasons.append(
            f"{reading.label}: its MMP hostname {reading.name!r} cannot be a node name "
            "(letters, digits, '.', '_', '-', starting with a letter or digit)"
        )
    for role in CERT_ROLES:
        ref = getattr(status.certificates, role)
        if ref is None:
            continue
        problem = remote_name_problem(ref.file)
        if problem:
            reasons.append(
                f"{reading.label}: the file name {ref.file!r} of its {_label(role)} {problem}; "
                "it cannot be kept in git under that name"
            )
    return reasons


def _label(role: str) -> str:
    return next(ROLE_LABEL[known] for known in CertRole if known.value == role)


def _certificates(
    reading: NodeReading, status: ClusterStatus, now: datetime, invalid: dict[str, list[str]]
) -> list[str]:
    """Missing or unreadable certificates as reasons; expired ones into ``invalid``
    (``what`` -> the nodes), so that one file expired everywhere is said once."""
    reasons = []
    for role in CERT_ROLES:
        ref = getattr(status.certificates, role)
        if ref is None:
            reasons.append(
                f"{reading.label} shows no {_label(role)} in its status: the database "
                "cluster certificates are not fully configured"
            )
            continue
        marker = "expired" if ref.expired else "not yet valid" if ref.not_yet_valid else None
        if marker:
            invalid.setdefault(f"the {_label(role)} {ref.file} is {marker}", []).append(
                reading.label
            )
            continue
        if role.endswith("_key"):
            continue
        file = reading.files.get(ref.file)
        if file is None or file.data is None:
            continue
        try:
            problem = _validity(load_certificates(file.data, ref.file), now)
        except MaterialError as error:
            reasons.append(f"{reading.label}: its {_label(role)} {ref.file} {error}")
            continue
        if problem:
            invalid.setdefault(f"the {_label(role)} {ref.file} {problem}", []).append(reading.label)
    return reasons


def _validity(certificates: list[x509.Certificate], now: datetime) -> str | None:
    for certificate in certificates:
        if now > certificate.not_valid_after_utc:
            return f"expired on {certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
        if now < certificate.not_valid_before_utc:
            return (
                f"is not valid until {certificate.not_valid_before_utc:%Y-%m-%d %H:%M} UTC "
                "(check the clocks)"
            )
    return None


def _me(status: ClusterStatus) -> str:
    assert status.me is not None
    return canonical_address(status.me.address)


def _same_node_twice(settled: Sequence[tuple[NodeReading, ClusterStatus]]) -> list[str]:
    reasons = []
    seen: dict[str, NodeReading] = {}
    for reading, status in settled:
        first = seen.setdefault(_me(status), reading)
        if first is not reading:
            reasons.append(
                f"--address {first.given} and --address {reading.given} reach the same node "
                f"({reading.name}, {_me(status)}); give each node once"
            )
    names: dict[str, tuple[NodeReading, str]] = {}
    for reading, status in settled:
        if reading.name is None:
            continue
        first, address = names.setdefault(reading.name, (reading, _me(status)))
        if first is not reading and address != _me(status):
            reasons.append(
                f"two nodes are named {reading.name} ({first.given} and {reading.given}); "
                "node names must be unique: set each node's hostname"
            )
    return reasons


def _agreement(settled: Sequence[tuple[NodeReading, ClusterStatus]], *, expired: bool) -> list[str]:
    """Cluster-wide checks, once every node is an Enabled member. ``expired``: a certificate
    in use is expired (or not yet valid), so a replica behind cannot catch up."""
    views = {
        reading.label: frozenset(canonical_address(m.address) for m in status.members)
        for reading, status in settled
    }
    reasons: list[str] = []
    if len(set(views.values())) > 1:
        listing = "; ".join(
            f"{label} lists {', '.join(sorted(members))}" for label, members in views.items()
        )
        reasons.append(f"the nodes disagree on the membership: {listing}")
    reasons += _masters(settled, expired=expired)
    given = {_me(status): reading for reading, status in settled}
    members = frozenset().union(*views.values())
    for reading, status in settled:
        if not all(_me(status) in view for view in views.values()):
            reasons.append(
                f"--address {reading.given} ({reading.name}, {_me(status)}) is not a member of "
                "the cluster the other nodes form"
            )
    for address in sorted(members - set(given)):
        reasons.append(
            f"member {address} was not given as --address: add --address with its SSH address "
            "so that it is described too (or remove it from the cluster first)"
        )
    for reading, status in settled:
        for member in status.members:
            if not member.connected:
                reasons.append(
                    f"{reading.label} sees member {member.address} as {member.state!r}: every "
                    "member must be connected"
                )
    return reasons


def _masters(settled: Sequence[tuple[NodeReading, ClusterStatus]], *, expired: bool) -> list[str]:
    reasons: list[str] = []
    masters: dict[str, str | None] = {}
    for reading, status in settled:
        shown = [member.address for member in status.members if member.role is MemberRole.MASTER]
        if len(shown) > 1:
            reasons.append(f"{reading.label} shows more than one master: {', '.join(shown)}")
        master = status.master_address
        masters[reading.label] = canonical_address(master) if master else None
    if any(master is None for master in masters.values()):
        without = ", ".join(label for label, master in masters.items() if master is None)
        reasons.append(f"no master: {without} {'sees' if ',' not in without else 'see'} none")
        return reasons
    if len(set(masters.values())) > 1:
        listing = "; ".join(f"{label} follows {master}" for label, master in masters.items())
        reasons.append(f"the nodes disagree on the master: {listing}")
        return reasons
    master = next(iter(masters.values()))
    assert master is not None
    for reading, status in settled:
        reasons += _role(reading, status, master, expired=expired)
    return reasons


def _role(reading: NodeReading, status: ClusterStatus, master: str, *, expired: bool) -> list[str]:
    reasons = []
    if _me(status) == master:
        if status.role != "master":
            reasons.append(f"{reading.label} is named master by the others but not by itself")
    elif status.role != "replica" or status.in_sync is not True:
        shown = status.me.state if status.me is not None else "?"
        # Replication runs over mutual TLS: with a certificate expired it cannot resume.
        then = (
            "it cannot get In Sync while the certificates are expired"
            if expired
            else "wait until it is In Sync"
        )
        reasons.append(
            f"{reading.label} is not a replica in sync with the master {master} (it shows "
            f"{shown!r}); {then}"
        )
    in_use = canonical_address(status.node_in_use) if status.node_in_use else None
    if in_use != master:
        reasons.append(
            f"{reading.label} uses {status.node_in_use or 'None'} as its database (Node in use), "
            f"not the master {master}"
        )
    return reasons


def content_refusals(readings: Sequence[NodeReading]) -> list[str]:
    """A file read with text outside its PEM blocks, once per distinct file: the nodes that
    hold it, what is wrong and what to do."""
    found: dict[tuple[str, bytes], tuple[str, list[str]]] = {}
    for reading in readings:
        if reading.status is None:
            continue
        for role in CERT_ROLES:
            ref = getattr(reading.status.certificates, role)
            file = reading.files.get(ref.file) if ref is not None else None
            if file is None or file.data is None:
                continue
            problem = outside_pem(file.data, file.name, key=role.endswith("_key"))
            if problem:
                what = f"the {_label(role)} {file.name} {problem}"
                found.setdefault((file.name, file.data), (what, []))[1].append(reading.label)
    reasons = [f"{what}, on {', '.join(dict.fromkeys(labels))}" for what, labels in found.values()]
    if reasons:
        reasons.append(
            "git would have to hold those bytes as they are (the plan compares the node's file "
            "with git's byte for byte), and a certificate or key file must hold PEM blocks "
            "only: put a copy holding only the PEM block(s) on the node(s) under the same name "
            "(`openssl x509 -in NAME -out NAME.pem` keeps a single certificate) and import "
            "again, or write the cluster file by hand with a clean copy (README: Add a "
            "cluster) and let `reconcile plan` upload it"
        )
    return reasons


def outside_pem(data: bytes, name: str, *, key: bool) -> str | None:
    """What a file holds outside its PEM blocks, besides blank space; None when nothing (or
    when it is not PEM at all, which the other checks say)."""
    try:
        blocks = pem_blocks(data, kind="private key" if key else "certificate", path=name)
    except MaterialError:
        return None
    where: list[str] = []
    count = 0
    position = 0
    for number, block in enumerate(blocks):
        start = data.find(block.text, position)
        gap = data[position:start].strip()
        if gap:
            count += len(gap)
            where.append("before its first PEM block" if number == 0 else "between PEM blocks")
        position = start + len(block.text)
    tail = data[position:].strip()
    if tail:
        count += len(tail)
        where.append("after its last PEM block")
    if not count:
        return None
    return f"holds {count:,} bytes of other text {' and '.join(dict.fromkeys(where))}"
