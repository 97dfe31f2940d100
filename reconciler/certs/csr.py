"""``reconcile certs csr``: new keys and certificate signing requests for a cluster's CA.

The keys are encrypted with the cluster's passphrase and kept, with the CSRs, in a folder
(``certs/NAME/csr/`` by default) until ``certs install`` pairs them with the signed
certificates. Keys already waiting there are never replaced: their CSRs may be at the CA.
The default folder is in the repository: when it (or a symbolic link on the way) resolves
outside, nothing is written (``--out`` names a folder anywhere, on purpose).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from reconciler.certs.material import (
    CLIENT_IDENTITY,
    Identity,
    build_csr,
    encrypt_key,
    new_key,
    server_identity,
)
from reconciler.certs.target import BundleTarget, load_target
from reconciler.certs.writing import write_files
from reconciler.desired.pem import load_certificates
from reconciler.desired.source import open_source
from reconciler.errors import ConfigError, MaterialError, SourceReadError
from reconciler.mmp.models import CertRole
from reconciler.repo_root import repo_file

PENDING = {
    "server": ("server.key", "server.csr"),
    "client": ("client.key", "client.csr"),
}


@dataclass(frozen=True)
class CsrRequest:
    repo: Path
    cluster: str
    out: Path | None = None
    key_size: int = 4096
    server_cn: str | None = None


@dataclass(frozen=True)
class CsrReport:
    cluster: str
    folder: Path
    server: Identity
    client: Identity
    passphrase_env: str
    default_folder: bool


def run_csr(request: CsrRequest, env: Mapping[str, str]) -> CsrReport:
    target = load_target(request.repo, request.cluster, env)
    folder = request.out if request.out is not None else target.pending_dir()
    if request.out is None:
        _refuse_way_out(target)
    waiting = [name for pair in PENDING.values() for name in pair if (folder / name).exists()]
    if waiting:
        raise ConfigError(
            f"{folder} already holds {', '.join(waiting)} from an earlier `certs csr`, whose "
            "CSRs may be at the CA: finish with `reconcile certs install`, or delete the folder "
            "if those CSRs are abandoned; nothing was written"
        )
    server = server_identity(target.spec, current_server_cert(target), request.server_cn)
    files: dict[str, bytes] = {}
    for (key_name, csr_name), identity in zip(
        PENDING.values(), (server, CLIENT_IDENTITY), strict=True
    ):
        key = new_key(request.key_size)
        files[key_name] = encrypt_key(key, target.passphrase)
        files[csr_name] = build_csr(key, identity)
    folder.mkdir(parents=True, exist_ok=True)
    write_files(folder, files)
    return CsrReport(
        target.name, folder, server, CLIENT_IDENTITY, target.passphrase_env, request.out is None
    )


def _refuse_way_out(target: BundleTarget) -> None:
    """The default folder's files, resolved, must stay in the repository (not a symlinked
    ``certs/NAME/csr`` leading elsewhere): checked before the keys are made."""
    folder = target.pending_dir().relative_to(target.repo).as_posix()
    for name in (name for pair in PENDING.values() for name in pair):
        try:
            repo_file(target.repo, f"{folder}/{name}")
        except ConfigError as error:
            raise ConfigError(f"{error}; nothing was written") from None


def current_server_cert(target: BundleTarget) -> x509.Certificate | None:
    """The server certificate in git now (to keep its CN), or None when it cannot be read."""
    path = target.path(CertRole.SERVER_CERT)
    with open_source(target.repo) as source:
        try:
            return load_certificates(source.read_bytes(path), path)[0]
        except (FileNotFoundError, SourceReadError, MaterialError):
            return None


def render_csr(report: CsrReport, repo: Path) -> str:
    folder = _shown(report.folder, repo)
    lines = [
        f"Wrote new private keys and certificate signing requests for cluster {report.cluster} "
        f"to {folder}/:",
        f"  server.key, server.csr  {report.server.describe()}",
        f"  client.key, client.csr  {report.client.describe()}",
        f"The keys are encrypted with the passphrase in ${report.passphrase_env}. Keep them "
        "(commit the folder, or keep it here) until the certificates come back.",
        "",
        "Ask your CA to sign both CSRs, each for keyUsage digitalSignature and keyEncipherment "
        "and extendedKeyUsage serverAuth and clientAuth (every node is TLS server and client "
        "to the others), keeping the subject of the request (the client's CN must stay "
        "postgres). With AD CS: a copy of the Web Server template with Client Authentication "
        "added to its application policies, subject supplied in the request, e.g.",
        f'  certreq -submit -attrib "CertificateTemplate:<that template>" {folder}/server.csr '
        "server.cer",
        "Ask also for the CA's certificate, and any intermediate, as Base-64 (PEM).",
        "",
        "Then bring the certificates back (this checks them as `reconcile validate` does and "
        "writes the bundle the cluster file names):",
        f"  reconcile certs install --cluster {report.cluster} --server-cert server.cer "
        "--client-cert client.cer --ca-cert ca.cer"
        + ("" if report.default_folder else f" --csr-dir {folder}"),
    ]
    return "\n".join(lines)


def _shown(path: Path, repo: Path) -> str:
    try:
        return path.resolve().relative_to(repo.resolve()).as_posix()
    except ValueError:
        return str(path)
