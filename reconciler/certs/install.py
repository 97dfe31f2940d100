"""``reconcile certs install``: the CA's signed certificates back, paired with their keys.

The keys are the ones ``certs csr`` left in its folder. Each certificate must be for its key;
the whole bundle must then pass ``validate`` (chain to the CA file, CN ``postgres``, usages,
validity) before anything is written. It is written to the files the cluster file names (which
must be committed, equal to HEAD, unless ``--force``: as for ``certs issue``), and the folder's
keys and CSRs, now in the bundle or used, are removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from reconciler.certs.csr import PENDING
from reconciler.certs.material import (
    certificates_pem,
    decrypt_file_key,
    read_certificates,
    same_key,
)
from reconciler.certs.target import BundleTarget, load_target
from reconciler.certs.writing import check_new_bundle, refuse_uncommitted, write_files
from reconciler.desired.certcheck import describe_name
from reconciler.desired.findings import SpecFinding
from reconciler.errors import ConfigError
from reconciler.mmp.models import CertRole


@dataclass(frozen=True)
class InstallRequest:
    repo: Path
    cluster: str
    server_cert: Path
    client_cert: Path
    ca_cert: Path
    csr_dir: Path | None = None
    force: bool = False
    """Replace bundle files even when their content is not committed."""


@dataclass(frozen=True)
class InstallReport:
    cluster: str
    written: list[str]
    warnings: list[SpecFinding]
    removed: list[Path]


@dataclass(frozen=True)
class _Pending:
    side: str
    path: Path
    encrypted: bytes
    key: PrivateKeyTypes


def run_install(
    request: InstallRequest, env: Mapping[str, str], now: datetime | None = None
) -> InstallReport:
    target = load_target(request.repo, request.cluster, env)
    if not request.force:
        refuse_uncommitted(target.repo, [target.path(role) for role in CertRole], "certs install")
    folder = request.csr_dir if request.csr_dir is not None else target.pending_dir()
    server_key, client_key = (_pending(target, folder, side) for side in ("server", "client"))
    server = read_certificates(_read(request.server_cert), str(request.server_cert), "server cert")
    client = read_certificates(_read(request.client_cert), str(request.client_cert), "client cert")
    ca = read_certificates(_read(request.ca_cert), str(request.ca_cert), "CA file")
    _pair(server[0], request.server_cert, server_key, client_key)
    _pair(client[0], request.client_cert, client_key, server_key)
    files = {
        target.path(CertRole.SERVER_KEY): server_key.encrypted,
        target.path(CertRole.SERVER_CERT): certificates_pem(server),
        target.path(CertRole.CLIENT_KEY): client_key.encrypted,
        target.path(CertRole.CLIENT_CERT): certificates_pem(client),
        target.path(CertRole.CA_CERT): certificates_pem(ca),
    }
    warnings = check_new_bundle(target, files, env, now or datetime.now(UTC))
    written = write_files(target.repo, files)
    return InstallReport(target.name, written, warnings, _remove_pending(folder))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror or error}") from None


def _pending(target: BundleTarget, folder: Path, side: str) -> _Pending:
    path = folder / PENDING[side][0]
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"no {path}: `certs install` pairs the certificates with the keys `certs csr` "
            "wrote; run that first (or give the folder it wrote to with --csr-dir)"
        ) from None
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror or error}") from None
    key = decrypt_file_key(data, str(path), target.passphrase, target.passphrase_env)
    return _Pending(side, path, data, key)


def _pair(cert: x509.Certificate, path: Path, own: _Pending, other: _Pending) -> None:
    """The certificate must be for its own key (and a swap is named as one)."""
    if same_key(own.key, cert):
        return
    if same_key(other.key, cert):
        raise ConfigError(
            f"{path} is the certificate for {other.path} (the {other.side} key), not for "
            f"{own.path}: are --{own.side}-cert and --{other.side}-cert swapped? Nothing was "
            "written"
        )
    raise ConfigError(
        f"{path} ({describe_name(cert.subject)}, serial {cert.serial_number:x}) was issued for "
        f"another key, not the one in {own.path}: it was signed from another CSR; have "
        f"{own.path.with_suffix('.csr')} signed instead. Nothing was written"
    )


def _remove_pending(folder: Path) -> list[Path]:
    removed: list[Path] = []
    for pair in PENDING.values():
        for name in pair:
            path = folder / name
            if path.exists():
                path.unlink()
                removed.append(path)
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
    return removed


def render_install(report: InstallReport) -> str:
    lines = [f"Installed the signed certificates for cluster {report.cluster}:"]
    lines += [f"  {path}" for path in report.written]
    lines += [f"warning: {finding.describe()}" for finding in report.warnings]
    if report.removed:
        lines.append(
            "Removed the keys and CSRs of `certs csr` (the keys are in the bundle now): "
            + ", ".join(path.name for path in report.removed)
        )
    lines += [
        "",
        "Next: review `git diff`, commit and open a pull request; its plan comment shows the "
        "rotation, and merging applies it.",
    ]
    return "\n".join(lines)
