"""``reconcile certs issue``: a new bundle signed by a CA the user (or CI) holds.

New server and client keys (encrypted with the cluster's passphrase), certificates from the
CA for ``--days`` (never past the CA's own expiry), and the CA file: the ``--ca-cert`` file as
given, so an intermediate's chain travels with it. The bundle must pass ``validate`` before it
is written over the files the cluster file names, and those files must be committed (equal to
HEAD) unless ``--force``: a key that exists only in the working tree is never replaced silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from reconciler.certs.authority import DEFAULT_DAYS, check_days, load_authority
from reconciler.certs.csr import current_server_cert
from reconciler.certs.material import (
    CLIENT_IDENTITY,
    DEFAULT_KEY_SIZE,
    certificates_pem,
    encrypt_key,
    new_key,
    server_identity,
)
from reconciler.certs.target import load_target
from reconciler.certs.writing import check_new_bundle, refuse_uncommitted, write_files
from reconciler.desired.certcheck import describe_name
from reconciler.desired.findings import SpecFinding
from reconciler.mmp.models import CertRole


@dataclass(frozen=True)
class IssueRequest:
    repo: Path
    cluster: str
    ca_cert: Path
    ca_key: Path
    ca_key_passphrase_env: str | None = None
    days: int = DEFAULT_DAYS
    key_size: int = DEFAULT_KEY_SIZE
    server_cn: str | None = None
    force: bool = False
    """Replace bundle files even when their content is not committed."""


@dataclass(frozen=True)
class IssueReport:
    cluster: str
    issuer: str
    not_after: datetime
    capped: bool
    """The CA expires before ``--days`` would end: the certificates end with it."""
    server: str
    client: str
    written: list[str]
    warnings: list[SpecFinding]


def run_issue(
    request: IssueRequest, env: Mapping[str, str], now: datetime | None = None
) -> IssueReport:
    moment = now or datetime.now(UTC)
    check_days(request.days)
    target = load_target(request.repo, request.cluster, env)
    if not request.force:
        refuse_uncommitted(target.repo, [target.path(role) for role in CertRole], "certs issue")
    authority = load_authority(
        request.ca_cert, request.ca_key, request.ca_key_passphrase_env, env, moment
    )
    server = server_identity(target.spec, current_server_cert(target), request.server_cn)
    validity = authority.validity(moment, request.days)
    files: dict[str, bytes] = {}
    for key_role, cert_role, identity in (
        (CertRole.SERVER_KEY, CertRole.SERVER_CERT, server),
        (CertRole.CLIENT_KEY, CertRole.CLIENT_CERT, CLIENT_IDENTITY),
    ):
        key = new_key(request.key_size)
        cert = authority.sign(key.public_key(), identity, validity)
        files[target.path(key_role)] = encrypt_key(key, target.passphrase)
        files[target.path(cert_role)] = certificates_pem([cert])
    files[target.path(CertRole.CA_CERT)] = certificates_pem(authority.certificates)
    warnings = check_new_bundle(target, files, env, moment)
    written = write_files(target.repo, files)
    return IssueReport(
        cluster=target.name,
        issuer=describe_name(authority.cert.subject),
        not_after=validity.not_after,
        capped=validity.capped,
        server=server.describe(),
        client=CLIENT_IDENTITY.describe(),
        written=written,
        warnings=warnings,
    )


def render_issue(report: IssueReport) -> str:
    until = f"{report.not_after:%Y-%m-%d %H:%M} UTC"
    if report.capped:
        until += " (the CA's own expiry: certificates cannot outlive it)"
    lines = [
        f"Issued a new bundle for cluster {report.cluster} from {report.issuer}, valid until "
        f"{until}:",
        f"  server certificate  {report.server}",
        f"  client certificate  {report.client}",
        "Wrote (keys encrypted with the cluster's passphrase):",
        *(f"  {path}" for path in report.written),
        *(f"warning: {finding.describe()}" for finding in report.warnings),
        "",
        "Next: review `git diff`, commit and open a pull request; its plan comment shows the "
        "rotation, and merging applies it.",
    ]
    return "\n".join(lines)
