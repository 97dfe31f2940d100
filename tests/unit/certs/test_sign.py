"""`certs sign`: the CA's step between `certs csr` and `certs install`, blind to the cluster.

It signs with the profile `certs issue` gives, whatever a CSR asks for, reads nothing of the
cluster (no cluster file, no key, no passphrase), and refuses bad input writing nothing.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from typer.testing import CliRunner

from reconciler.certs.authority import BACKDATE
from reconciler.certs.csr import CsrRequest, run_csr
from reconciler.certs.install import InstallRequest, run_install
from reconciler.certs.issue import IssueRequest, run_issue
from reconciler.certs.sign import SignRequest, render_sign, run_sign
from reconciler.cli import app
from reconciler.errors import ConfigError
from tests.unit.certs.support import Repo, write_ca
from tests.unit.desired.labrepo import CERTS, CLUSTER
from tests.unit.desired.pki import NOW, Pki, cert_pem, make_ca, name, rsa_key

SIGNED = ["ca.cer", "client.cer", "server.cer"]
CA_PASS = "ca secret"
SERVER_SAN = x509.SubjectAlternativeName(
    [
        x509.DNSName("cms-db.test"),
        x509.DNSName("cms1"),
        x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
    ]
)
Extensions = Iterable[tuple[x509.ExtensionType, bool]]


class RecordingEnv(Mapping[str, str]):
    """An environment that notes every variable read, and any listing of them (``*``)."""

    def __init__(self, values: dict[str, str]) -> None:
        self.data = values
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        self.read.add("*")
        return iter(self.data)

    def __len__(self) -> int:
        self.read.add("*")
        return len(self.data)


def make_csr(
    key: PrivateKeyTypes, subject: x509.Name, extensions: Extensions = (), der: bool = False
) -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    request = builder.sign(key, hashes.SHA256())  # type: ignore[arg-type]
    encoding = serialization.Encoding.DER if der else serialization.Encoding.PEM
    return request.public_bytes(encoding)


def cn(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def server_csr(pki: Pki, extensions: Extensions = (), der: bool = False) -> bytes:
    return make_csr(pki.server_key, name("cms-db.test"), [(SERVER_SAN, False), *extensions], der)


def write_csrs(
    folder: Path, pki: Pki, server: bytes | None = None, client: bytes | None = None
) -> Path:
    """A CA job's folder: two CSRs (good ones unless given), no key, no cluster file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "server.csr").write_bytes(server if server is not None else server_csr(pki))
    (folder / "client.csr").write_bytes(
        client if client is not None else make_csr(pki.client_key, cn("postgres"))
    )
    return folder


@pytest.fixture
def job(tmp_path: Path, pki: Pki) -> Path:
    return write_csrs(tmp_path / "job" / "csr", pki)


@pytest.fixture
def ca(tmp_path: Path, pki: Pki) -> tuple[Path, Path]:
    return write_ca(tmp_path / "ca", cert_pem(pki.other_root.cert), pki.other_root.key)


def sign(
    folder: Path,
    ca: tuple[Path, Path],
    env: Mapping[str, str] | None = None,
    now: dt.datetime | None = None,
    **extra: Any,
) -> str:
    request = SignRequest(folder, ca[0], ca[1], **extra)
    return render_sign(run_sign(request, env if env is not None else {}, now))


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every file (with its bytes) and folder under ``folder``."""
    return {
        path.relative_to(folder).as_posix(): path.read_bytes() if path.is_file() else None
        for path in sorted(folder.rglob("*"))
    }


def loaded(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def extension(cert: x509.Certificate, kind: type[Any]) -> x509.Extension[Any]:
    return cert.extensions.get_extension_for_class(kind)


# The round trip


def test_csr_sign_install_passes_validate(repo: Repo, pki: Pki, tmp_path: Path) -> None:
    """The CA job gets the two CSRs only; install pairs what it signs with the waiting keys."""
    run_csr(CsrRequest(repo.root, CLUSTER, key_size=2048), repo.env)
    pending = repo.root / CERTS / "csr"
    folder = tmp_path / "ca-job"
    folder.mkdir()
    for csr_name in ("server.csr", "client.csr"):
        shutil.copy(pending / csr_name, folder / csr_name)
    ca = write_ca(tmp_path / "ca", cert_pem(pki.other_root.cert), pki.other_root.key, CA_PASS)
    out = tmp_path / "signed"
    text = sign(folder, ca, {"CA_PASS": CA_PASS}, ca_key_passphrase_env="CA_PASS", out=out)
    assert sorted(path.name for path in out.iterdir()) == SIGNED
    request = InstallRequest(
        repo.root, CLUSTER, out / "server.cer", out / "client.cer", out / "ca.cer"
    )
    run_install(request, repo.env)
    assert repo.validate()[0] == 0, repo.validate()[1]
    server, client = (loaded(repo.root / CERTS / f"{side}.cer") for side in ("server", "client"))
    wanted = x509.load_pem_x509_csr((folder / "server.csr").read_bytes())
    assert server.subject == wanted.subject
    assert (
        extension(server, x509.SubjectAlternativeName).value
        == wanted.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    )
    assert client.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "postgres"
    assert (repo.root / CERTS / "server.cer").read_bytes() == (out / "server.cer").read_bytes()
    assert (repo.root / CERTS / "ca.cer").read_bytes() == cert_pem(pki.other_root.cert)
    assert (
        f"reconcile certs install --cluster NAME --server-cert {out / 'server.cer'} "
        f"--client-cert {out / 'client.cer'} --ca-cert {out / 'ca.cer'}"
    ) in text


def test_the_certificates_go_beside_the_csrs_by_default(job: Path, ca: tuple[Path, Path]) -> None:
    csrs = tree(job)
    sign(job, ca)
    after = tree(job)
    assert sorted(after) == sorted([*csrs, *SIGNED])
    assert {path: after[path] for path in csrs} == csrs  # the CSRs are left as they were
    for cert_name in SIGNED:
        assert (job / cert_name).stat().st_mode & 0o777 == 0o644


def test_der_csrs_are_taken(tmp_path: Path, pki: Pki, ca: tuple[Path, Path]) -> None:
    client = make_csr(pki.client_key, cn("postgres"), der=True)
    folder = write_csrs(tmp_path / "der", pki, server_csr(pki, der=True), client)
    sign(folder, ca)
    assert loaded(folder / "client.cer").public_key() == pki.client_key.public_key()


def test_what_it_prints(job: Path, ca: tuple[Path, Path], pki: Pki) -> None:
    text = sign(job, ca, cluster=CLUSTER)
    server = loaded(job / "server.cer")
    fingerprint = server.fingerprint(hashes.SHA256()).hex(":").upper()
    for shown in (
        f"{job / 'server.cer'}  (server certificate)",
        f"{job / 'client.cer'}  (client certificate)",
        "subject      CN=cms-db.test,O=TEST ONLY",
        "subject      CN=postgres",
        "SAN          DNS:cms-db.test, DNS:cms1, IP:10.0.0.1",
        "SAN          (none)",
        "issuer       CN=TEST other CA,O=TEST ONLY",
        f"valid until  {server.not_valid_after_utc:%Y-%m-%d %H:%M} UTC (--days 365, not capped",
        f"SHA-256      {fingerprint}",
        f"{job / 'ca.cer'}  (the CA file: --ca-cert's 1 certificate)",
        f"reconcile certs install --cluster {CLUSTER} --server-cert {job / 'server.cer'}",
    ):
        assert shown in text, shown


# Only the CSRs and the CA are read


def test_only_the_named_variable_is_read(job: Path, tmp_path: Path, pki: Pki) -> None:
    """No cluster passphrase in the environment, and none asked for."""
    ca = write_ca(tmp_path / "ca", cert_pem(pki.root.cert), pki.root.key, CA_PASS)
    env = RecordingEnv({"CA_PASS": CA_PASS})
    sign(job, ca, env, ca_key_passphrase_env="CA_PASS")
    assert env.read == {"CA_PASS"}

    plain = write_ca(tmp_path / "plain", cert_pem(pki.root.cert), pki.root.key)
    env = RecordingEnv({"T_KEY_PASS": "cluster secret"})
    sign(write_csrs(tmp_path / "again", pki), plain, env)
    assert env.read == set()


class _Opened:
    """Every file path opened while ``active`` (a process audit hook cannot be removed)."""

    active = False
    paths: list[Path] = []

    @classmethod
    def hook(cls, event: str, args: tuple[Any, ...]) -> None:
        if cls.active and event == "open" and isinstance(args[0], str | bytes):
            cls.paths.append(Path(args[0] if isinstance(args[0], str) else args[0].decode()))


sys.addaudithook(_Opened.hook)


def test_no_key_or_cluster_file_is_opened(repo: Repo, pki: Pki, tmp_path: Path) -> None:
    """Run in the cluster's own `certs csr` folder, beside its keys: only the CSRs are read."""
    run_csr(CsrRequest(repo.root, CLUSTER, key_size=2048), repo.env)
    pending = repo.root / CERTS / "csr"
    ca = write_ca(tmp_path / "ca", cert_pem(pki.root.cert), pki.root.key)
    _Opened.paths = []
    _Opened.active = True
    try:
        sign(pending, ca)
    finally:
        _Opened.active = False
    root = repo.root.resolve()
    opened = {path.resolve() for path in _Opened.paths}
    in_repo = {path.relative_to(root).as_posix() for path in opened if path.is_relative_to(root)}
    staged = {path for path in in_repo if Path(path).name.startswith(".")}  # its own output
    assert sorted(in_repo - staged) == [f"{CERTS}/csr/client.csr", f"{CERTS}/csr/server.csr"]
    assert all(Path(path).parent == Path(CERTS, "csr") for path in staged)
    assert (pending / "server.cer").is_file()


# The profile is ours, the names are the CSR's


def test_requested_extensions_other_than_the_san_are_ignored(
    repo: Repo, pki: Pki, tmp_path: Path
) -> None:
    """A CSR asking to be a CA, for code signing, gets exactly what `certs issue` gives."""
    greedy = [
        (x509.BasicConstraints(ca=True, path_length=None), True),
        (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), True),
        (x509.KeyUsage(False, False, False, False, False, True, True, False, False), True),
        (x509.OCSPNoCheck(), False),
    ]
    folder = write_csrs(tmp_path / "greedy", pki, server_csr(pki, greedy))
    ca = write_ca(tmp_path / "ca", cert_pem(pki.root.cert), pki.root.key)
    sign(folder, ca, now=NOW, days=30)
    run_issue(IssueRequest(repo.root, CLUSTER, *ca, days=30, key_size=2048), repo.env, NOW)
    signed, issued = loaded(folder / "server.cer"), loaded(repo.root / CERTS / "server.cer")
    assert [ext.oid for ext in signed.extensions] == [ext.oid for ext in issued.extensions]
    for kind in (x509.BasicConstraints, x509.KeyUsage, x509.ExtendedKeyUsage):
        assert extension(signed, kind) == extension(issued, kind), kind
    assert not extension(signed, x509.BasicConstraints).value.ca
    assert extension(signed, x509.SubjectAlternativeName).value == SERVER_SAN
    assert signed.subject == name("cms-db.test")
    assert signed.not_valid_before_utc == issued.not_valid_before_utc == NOW - BACKDATE
    assert signed.not_valid_after_utc == issued.not_valid_after_utc == NOW + dt.timedelta(days=30)


def test_certificates_never_outlive_the_ca(job: Path, tmp_path: Path) -> None:
    short = make_ca("TEST short CA", rsa_key(), not_after=NOW + dt.timedelta(days=100))
    text = sign(job, write_ca(tmp_path / "short", cert_pem(short.cert), short.key), now=NOW)
    for side in ("server", "client"):
        assert loaded(job / f"{side}.cer").not_valid_after_utc == short.cert.not_valid_after_utc
    assert text.count("(capped at the CA's own expiry") == 2


# Refusals: a clear message, and nothing written


def refused(folder: Path, ca: tuple[Path, Path], match: str, **extra: Any) -> None:
    root = folder.parent
    before = tree(root)
    with pytest.raises(ConfigError, match=match):
        sign(folder, ca, **extra)
    assert tree(root) == before


def test_a_csr_whose_signature_does_not_verify_is_refused(
    tmp_path: Path, pki: Pki, ca: tuple[Path, Path]
) -> None:
    data = bytearray(make_csr(pki.client_key, cn("postgres"), der=True))
    data[-1] ^= 0x01  # the last byte of the signature
    folder = write_csrs(tmp_path / "job" / "csr", pki, client=bytes(data))
    assert not x509.load_der_x509_csr(bytes(data)).is_signature_valid
    refused(folder, ca, r"client.csr: the CSR's signature does not verify")


@pytest.mark.parametrize(
    ("side", "subject", "match"),
    [
        (
            "client",
            cn("admin"),
            "client.csr has CN 'admin', but the database cluster client "
            "certificate must have CN=postgres",
        ),
        ("client", x509.Name([]), "client.csr has no CN, but"),
        (
            "server",
            x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "TEST ONLY")]),
            r"server.csr has no CN \(subject O=TEST ONLY\)",
        ),
        ("server", x509.Name([*cn("a"), *cn("b")]), "server.csr has more than one CN"),
    ],
)
def test_names_the_cluster_cannot_use_are_refused(
    tmp_path: Path, pki: Pki, ca: tuple[Path, Path], side: str, subject: x509.Name, match: str
) -> None:
    key = pki.client_key if side == "client" else pki.server_key
    folder = write_csrs(tmp_path / "job" / "csr", pki, **{side: make_csr(key, subject)})
    refused(folder, ca, match)


def test_swapped_csrs_are_named(tmp_path: Path, pki: Pki, ca: tuple[Path, Path]) -> None:
    server = make_csr(pki.client_key, cn("postgres"))
    client = make_csr(pki.server_key, cn("cms-db.test"))
    folder = write_csrs(tmp_path / "job" / "csr", pki, server, client)
    refused(folder, ca, r"client.csr has CN 'cms-db.test', .*are server.csr and client.csr swapped")


def test_weak_or_foreign_keys_are_refused(tmp_path: Path, pki: Pki, ca: tuple[Path, Path]) -> None:
    small = write_csrs(tmp_path / "small" / "csr", pki, make_csr(pki.small_key, cn("db")))
    refused(small, ca, r"server.csr has a 1024-bit RSA key; use at least 2048 bits")
    ec = write_csrs(tmp_path / "ec" / "csr", pki, make_csr(pki.ec_key, cn("db")))
    refused(ec, ca, r"server.csr is for a key of type EC secp256r1; .* are RSA")


def test_one_key_for_both_is_refused(tmp_path: Path, pki: Pki, ca: tuple[Path, Path]) -> None:
    folder = write_csrs(tmp_path / "job" / "csr", pki, make_csr(pki.client_key, cn("cms-db.test")))
    refused(folder, ca, r"server.csr and .*client.csr are for the same key")


def test_a_ca_that_cannot_sign_is_refused(job: Path, tmp_path: Path, pki: Pki) -> None:
    wrong_key = write_ca(tmp_path / "a", cert_pem(pki.root.cert), pki.other_root.key)
    refused(job, wrong_key, r"does not belong to the CA certificate .*their public keys differ")
    leaf = write_ca(tmp_path / "b", cert_pem(pki.leaf(pki.spare_key, "leaf")), pki.spare_key)
    refused(job, leaf, r"not a CA certificate \(basicConstraints CA:FALSE\)")
    old = make_ca("TEST old CA", rsa_key(), not_after=NOW - dt.timedelta(days=1))
    refused(job, write_ca(tmp_path / "c", cert_pem(old.cert), old.key), "expired on")
    encrypted = write_ca(tmp_path / "d", cert_pem(pki.root.cert), pki.root.key, CA_PASS)
    refused(job, encrypted, r"is encrypted: name the environment variable")


def test_files_that_are_not_csrs_are_refused(
    tmp_path: Path, pki: Pki, ca: tuple[Path, Path]
) -> None:
    cert = cert_pem(pki.root.cert)
    folder = write_csrs(tmp_path / "cert" / "csr", pki, cert)
    refused(
        folder,
        ca,
        r"server.csr must hold one CERTIFICATE REQUEST and nothing else \(found "
        r"CERTIFICATE\)",
    )
    (folder / "server.csr").write_bytes(b"\x30\x03garbage")
    refused(folder, ca, "server.csr is binary but not a DER certificate signing request")
    (folder / "server.csr").unlink()
    refused(folder, ca, r"no .*server.csr: `certs sign` signs the server.csr and client.csr")


def test_existing_certificates_are_never_replaced(job: Path, ca: tuple[Path, Path]) -> None:
    (job / "client.cer").write_bytes(b"an earlier certificate\n")
    refused(job, ca, r"client.cer already exists: refusing to replace a file")


def test_days_must_be_positive(job: Path, ca: tuple[Path, Path]) -> None:
    refused(job, ca, "--days must be at least 1, not 0", days=0)


# The command line


def test_cli_signs_and_exits_0(job: Path, tmp_path: Path, pki: Pki) -> None:
    ca = write_ca(tmp_path / "ca", cert_pem(pki.root.cert), pki.root.key, CA_PASS)
    out = tmp_path / "out"
    args = ["certs", "sign", "--csr-dir", str(job), "--ca-cert", str(ca[0]), "--ca-key"]
    args += [str(ca[1]), "--ca-key-passphrase-env", "CA_PASS", "--out", str(out)]
    result = CliRunner().invoke(
        app,
        [*args, "--cluster", CLUSTER, "--days", "30"],
        env={"CA_PASS": CA_PASS, "T_KEY_PASS": None},
    )
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in out.iterdir()) == SIGNED
    assert f"reconcile certs install --cluster {CLUSTER} --server-cert" in result.output
    assert "(--days 30, not capped by the CA)" in result.output


def test_cli_refuses_a_bad_file_with_exit_1_and_no_traceback(
    job: Path, ca: tuple[Path, Path]
) -> None:
    (job / "server.csr").write_text("not a request")
    before = tree(job)
    args = ["certs", "sign", "--csr-dir", str(job), "--ca-cert", str(ca[0]), "--ca-key"]
    result = CliRunner().invoke(app, [*args, str(ca[1])])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert f"error: {job / 'server.csr'} is not PEM" in result.output
    assert tree(job) == before
