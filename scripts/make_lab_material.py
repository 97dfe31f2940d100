"""Generate the LAB-ONLY material of the simulated lab (run once; outputs are committed).

Writes, under reconciler/lab/ (the built-in lab, shipped in the package), or under the
folder given as the only argument:
  certs/lab/                 the new, valid bundle the lab should be rotated to (CAVD.cer ...)
  sim/lab/device-files/      what the lab's nodes hold at start: the seed's expired bundle
  sim/lab/host_keys/         the simulated nodes' SSH host keys
  clusters/known_hosts       pins those host keys

Every private key is encrypted with the lab passphrase ``cms-lab``. Nothing here may be used
for a real cluster: the keys are public by being in this repository.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PASSPHRASE = b"cms-lab"
NODES = {"cms1": "127.0.85.73", "cms2": "127.0.85.74", "cms3": "127.0.85.75"}
PORT = 2222
UTC = dt.UTC
# The digests x509.CertificateBuilder.sign accepts for an RSA key (not MD5 or SHA-1).
Digest = hashes.SHA224 | hashes.SHA256 | hashes.SHA384 | hashes.SHA512


def name(*parts: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in parts])


def write_key(path: Path, key: rsa.RSAPrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(PASSPHRASE),
        )
    )


def write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def make_ca(
    subject: x509.Name,
    not_before: dt.datetime,
    not_after: dt.datetime,
    digest: Digest,
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, digest)
    )
    return key, cert


def make_leaf(
    ca_key: rsa.RSAPrivateKey,
    ca_cert: x509.Certificate,
    subject: x509.Name,
    usages: list[x509.ObjectIdentifier],
    not_before: dt.datetime,
    not_after: dt.datetime,
    digest: Digest,
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, digest)
    )
    return key, cert


def main(root: Path) -> None:
    lab_certs = root / "certs" / "lab"
    device_files = root / "sim" / "lab" / "device-files"
    host_keys = root / "sim" / "lab" / "host_keys"
    for folder in (lab_certs, device_files, host_keys):
        folder.mkdir(parents=True, exist_ok=True)

    # The seed's situation: an old CA and server/client certificates that expired in 2017.
    old_start = dt.datetime(2015, 3, 9, 8, 47, 17, tzinfo=UTC)
    old_ca_key, old_ca = make_ca(
        name((NameOID.COMMON_NAME, "LAB ONLY old uctplab CA")),
        old_start,
        dt.datetime(2035, 3, 9, 8, 57, 17, tzinfo=UTC),
        hashes.SHA256(),
    )
    old_end = dt.datetime(2017, 3, 9, 8, 57, 17, tzinfo=UTC)
    server_key, server = make_leaf(
        old_ca_key,
        old_ca,
        name((NameOID.ORGANIZATION_NAME, "LAB ONLY"), (NameOID.COMMON_NAME, "cms-lab-db.example")),
        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        old_start,
        old_end,
        hashes.SHA256(),
    )
    client_key, client = make_leaf(
        old_ca_key,
        old_ca,
        name((NameOID.ORGANIZATION_NAME, "LAB ONLY"), (NameOID.COMMON_NAME, "VCScMRA.S.com")),
        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        old_start,
        old_end,
        hashes.SHA256(),
    )
    write_key(device_files / "dbclusterserver.key", server_key)
    write_cert(device_files / "dbclusterserver.cer", server)
    write_key(device_files / "dbclusterclient.key", client_key)
    write_cert(device_files / "EXPRSVR.cer", client)
    write_cert(device_files / "CA.cer", old_ca)

    # The new bundle the lab is rotated to: a new CA (CAVD), like the seed.
    new_start = dt.datetime(2026, 11, 1, 0, 0, 0, tzinfo=UTC)
    ca_key, ca = make_ca(
        name(
            (NameOID.ORGANIZATION_NAME, "LAB ONLY"), (NameOID.COMMON_NAME, "LAB ONLY CAVD root CA")
        ),
        new_start,
        dt.datetime(2036, 11, 1, tzinfo=UTC),
        hashes.SHA256(),
    )
    new_end = dt.datetime(2031, 11, 1, tzinfo=UTC)
    new_server_key, new_server = make_leaf(
        ca_key,
        ca,
        name((NameOID.ORGANIZATION_NAME, "LAB ONLY"), (NameOID.COMMON_NAME, "cms-lab-db.example")),
        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        new_start,
        new_end,
        hashes.SHA256(),
    )
    new_client_key, new_client = make_leaf(
        ca_key,
        ca,
        name((NameOID.ORGANIZATION_NAME, "LAB ONLY"), (NameOID.COMMON_NAME, "postgres")),
        [ExtendedKeyUsageOID.CLIENT_AUTH],
        new_start,
        new_end,
        hashes.SHA256(),
    )
    write_key(lab_certs / "dbclusterserver.key", new_server_key)
    write_cert(lab_certs / "dbclusterserver.cer", new_server)
    write_key(lab_certs / "dbclusterclient.key", new_client_key)
    write_cert(lab_certs / "dbclusterclient.cer", new_client)
    write_cert(lab_certs / "CAVD.cer", ca)

    # SSH host keys of the simulated nodes, pinned in clusters/known_hosts.
    known_hosts: list[str] = []
    for node, address in NODES.items():
        host_key = ed25519.Ed25519PrivateKey.generate()
        (host_keys / f"{node}.key").write_bytes(
            host_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.OpenSSH,
                serialization.BestAvailableEncryption(PASSPHRASE),
            )
        )
        public = host_key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
        known_hosts.append(f"[{address}]:{PORT} {public.decode()}")
    (root / "clusters" / "known_hosts").write_text(
        "# LAB ONLY: host keys of the simulated lab (sim/lab/host_keys). Pin real nodes here too.\n"
        + "\n".join(known_hosts)
        + "\n"
    )


if __name__ == "__main__":
    default = Path(__file__).resolve().parent.parent / "reconciler" / "lab"
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else default)
