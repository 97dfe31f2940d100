"""``reconcile certs sign``: the CA's half of ``certs csr`` -> sign -> ``certs install``.

It reads the two CSRs, the CA's certificate and key, and the one variable
``--ca-key-passphrase-env`` names: no cluster file, no key of the cluster and not its
passphrase, so the job holding the CA key never sees them. Only the subject and the SANs
come from a CSR; usages, basic constraints and validity are the ones ``certs issue`` gives,
whatever the CSR asks for. The certificates are new files beside the CSRs (or in ``--out``),
never written over existing ones.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from reconciler.certs.authority import DEFAULT_DAYS, check_days, load_authority
from reconciler.certs.csr import PENDING
from reconciler.certs.material import LEAF_USAGES, certificates_pem
from reconciler.certs.writing import create_files
from reconciler.desired.bundle import key_algorithm
from reconciler.desired.certcheck import CLIENT_CN, describe_name, key_strength
from reconciler.desired.pem import pem_blocks
from reconciler.errors import ConfigError, MaterialError

SIDES = ("server", "client")
CERT_FILES = {"server": "server.cer", "client": "client.cer"}
CA_FILE = "ca.cer"
_CSR_LABELS = ("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST")


@dataclass(frozen=True)
class SignRequest:
    csr_dir: Path
    ca_cert: Path
    ca_key: Path
    ca_key_passphrase_env: str | None = None
    days: int = DEFAULT_DAYS
    out: Path | None = None
    cluster: str | None = None
    """Only for the ``certs install`` command printed at the end; nothing of it is read."""


@dataclass(frozen=True)
class Requested:
    """The parts of a CSR that reach its certificate: the subject and the SANs."""

    subject: x509.Name
    san: x509.SubjectAlternativeName | None

    def extensions(self) -> list[tuple[x509.ExtensionType, bool]]:
        return [*LEAF_USAGES, *([(self.san, False)] if self.san is not None else [])]


@dataclass(frozen=True)
class _Csr:
    path: Path
    public_key: rsa.RSAPublicKey
    requested: Requested


@dataclass(frozen=True)
class Signed:
    side: str
    path: Path
    cert: x509.Certificate


@dataclass(frozen=True)
class SignReport:
    csr_dir: Path
    signed: tuple[Signed, ...]
    ca_file: Path
    ca_count: int
    days: int
    capped: bool
    """The CA expires before ``--days`` would end: the certificates end with it."""
    cluster: str | None


def run_sign(
    request: SignRequest, env: Mapping[str, str], now: datetime | None = None
) -> SignReport:
    """Check both CSRs and the CA, sign, then create the three files (all or none)."""
    moment = now or datetime.now(UTC)
    check_days(request.days)
    csrs = {side: _read_csr(request.csr_dir / PENDING[side][1]) for side in SIDES}
    _check_names(csrs["server"], csrs["client"])
    _check_distinct_keys(csrs["server"], csrs["client"])
    authority = load_authority(
        request.ca_cert, request.ca_key, request.ca_key_passphrase_env, env, moment
    )
    validity = authority.validity(moment, request.days)
    certs = {
        side: authority.sign(csr.public_key, csr.requested, validity) for side, csr in csrs.items()
    }
    files = {CERT_FILES[side]: certificates_pem([cert]) for side, cert in certs.items()}
    files[CA_FILE] = certificates_pem(authority.certificates)
    out = request.out if request.out is not None else request.csr_dir
    create_files(out, files)
    return SignReport(
        csr_dir=request.csr_dir,
        signed=tuple(Signed(side, out / CERT_FILES[side], cert) for side, cert in certs.items()),
        ca_file=out / CA_FILE,
        ca_count=len(authority.certificates),
        days=request.days,
        capped=validity.capped,
        cluster=request.cluster,
    )


def _read_csr(path: Path) -> _Csr:
    """A CSR whose own signature holds, for an RSA key ``validate`` would take."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"no {path}: `certs sign` signs the server.csr and client.csr that `certs csr` "
            "wrote; give their folder with --csr-dir"
        ) from None
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror or error}") from None
    request = _parse_csr(data, path)
    try:
        valid = request.is_signature_valid
    except (UnsupportedAlgorithm, ValueError):
        valid = False
    if not valid:
        raise ConfigError(
            f"{path}: the CSR's signature does not verify (a damaged or altered request); "
            "sign only CSRs as `certs csr` wrote them; nothing was written"
        )
    key = request.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ConfigError(
            f"{path} is for a key of type {key_algorithm(key)}; the cluster's certificates are "
            "RSA (2048 bits or more, as `certs csr` makes them); nothing was written"
        )
    weak = key_strength(key, str(path))
    if weak:
        raise ConfigError(f"{weak[0].message}; nothing was written")
    return _Csr(path, key, Requested(request.subject, _san(request, path)))


def _parse_csr(data: bytes, path: Path) -> x509.CertificateSigningRequest:
    """One CSR, PEM (``CERTIFICATE REQUEST``) or DER."""
    if not data.strip():
        raise ConfigError(f"{path} is empty")
    try:
        if b"-----BEGIN" not in data and data[:1] == b"\x30":
            return x509.load_der_x509_csr(data)
        blocks = pem_blocks(data, kind="certificate signing request", path=str(path))
    except MaterialError as error:
        raise ConfigError(f"{path} {error}") from None
    except ValueError:
        raise ConfigError(f"{path} is binary but not a DER certificate signing request") from None
    labels = [block.label for block in blocks]
    if len(blocks) != 1 or labels[0] not in _CSR_LABELS:
        raise ConfigError(
            f"{path} must hold one CERTIFICATE REQUEST and nothing else (found {', '.join(labels)})"
        )
    try:
        return x509.load_pem_x509_csr(blocks[0].text)
    except ValueError:
        raise ConfigError(f"{path} holds a damaged certificate signing request") from None


def _san(request: x509.CertificateSigningRequest, path: Path) -> x509.SubjectAlternativeName | None:
    try:
        return request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    except (x509.DuplicateExtension, ValueError) as error:
        raise ConfigError(f"{path} asks for extensions that cannot be read: {error}") from None


def _check_names(server: _Csr, client: _Csr) -> None:
    """One CN each; the client's must be the PostgreSQL user the nodes log in as."""
    for csr in (server, client):
        if len(_common_names(csr.requested.subject)) > 1:
            raise ConfigError(
                f"{csr.path} has more than one CN ({describe_name(csr.requested.subject)}); "
                "give it one; nothing was written"
            )
    if not any(name.strip() for name in _common_names(server.requested.subject)):
        raise ConfigError(
            f"{server.path} has no CN (subject {describe_name(server.requested.subject)}): "
            "the server certificate needs one (e.g. the cluster's DNS name); make the CSR "
            "again with `certs csr --server-cn NAME`; nothing was written"
        )
    names = _common_names(client.requested.subject)
    if names != [CLIENT_CN]:
        shown = f"CN {names[0]!r}" if names else "no CN"
        swapped = _common_names(server.requested.subject) == [CLIENT_CN]
        raise ConfigError(
            f"{client.path} has {shown}, but the database cluster client certificate must "
            f"have CN={CLIENT_CN} (the nodes log in to PostgreSQL as user {CLIENT_CN})"
            + ("; are server.csr and client.csr swapped?" if swapped else "")
            + "; nothing was written"
        )


def _common_names(name: x509.Name) -> list[str]:
    values = (attribute.value for attribute in name.get_attributes_for_oid(NameOID.COMMON_NAME))
    return [
        value if isinstance(value, str) else value.decode("utf-8", "replace") for value in values
    ]


def _check_distinct_keys(server: _Csr, client: _Csr) -> None:
    if _spki(server.public_key) == _spki(client.public_key):
        raise ConfigError(
            f"{server.path} and {client.path} are for the same key: the server and client "
            "certificates need a key each; make both CSRs again with `certs csr`; nothing "
            "was written"
        )


def _spki(key: rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def render_sign(report: SignReport) -> str:
    lines = [f"Signed the CSRs in {report.csr_dir} and wrote:"]
    for signed in report.signed:
        cert = signed.cert
        until = f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
        if report.capped:
            until += " (capped at the CA's own expiry: certificates cannot outlive it)"
        else:
            until += f" (--days {report.days}, not capped by the CA)"
        lines += [
            f"  {signed.path}  ({signed.side} certificate)",
            f"    subject      {describe_name(cert.subject)}",
            f"    SAN          {_describe_san(cert)}",
            f"    issuer       {describe_name(cert.issuer)}",
            f"    valid until  {until}",
            f"    SHA-256      {cert.fingerprint(hashes.SHA256()).hex(':').upper()}",
        ]
    paths = {signed.side: str(signed.path) for signed in report.signed}
    count = f"{report.ca_count} certificate{'s' if report.ca_count != 1 else ''}"
    lines += [
        f"  {report.ca_file}  (the CA file: --ca-cert's {count})",
        "",
        "Next, where the cluster's passphrase and the keys of `certs csr` are (add --csr-dir "
        "if those are not in certs/NAME/csr):",
        "  "
        + shlex.join(
            [
                "reconcile",
                "certs",
                "install",
                "--cluster",
                report.cluster or "NAME",
                "--server-cert",
                paths["server"],
                "--client-cert",
                paths["client"],
                "--ca-cert",
                str(report.ca_file),
            ]
        ),
    ]
    return "\n".join(lines)


def _describe_san(cert: x509.Certificate) -> str:
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return "(none)"
    return ", ".join(_describe_general_name(name) for name in names)


def _describe_general_name(name: x509.GeneralName) -> str:
    prefixes: dict[type[x509.GeneralName], str] = {
        x509.DNSName: "DNS",
        x509.IPAddress: "IP",
        x509.RFC822Name: "email",
        x509.UniformResourceIdentifier: "URI",
    }
    prefix = prefixes.get(type(name))
    if prefix is None:
        return type(name).__name__
    return f"{prefix}:{name.value}"
