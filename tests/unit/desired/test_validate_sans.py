"""``validate`` warns when the server certificate does not name every node that presents it
(address, and name where it is a DNS name) as a SAN: CMS 3.5's unpublished "enhanced
security for the Database Cluster" may check names (reference, Uncertain 9). A warning, not
an error: releases before 3.5 check no name. A bundle made by ``certs issue``/``certs csr``
names them all, so it passes without one."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from cryptography import x509

from reconciler.certs.material import server_identity
from reconciler.desired.models import ClusterSpec
from tests.unit.desired.labrepo import CERTS, LabRepo
from tests.unit.desired.pki import CLIENT_AUTH, SERVER_AUTH, Pki, cert_pem, encrypted_key


def _server(repo: LabRepo, pki: Pki, sans: tuple[x509.GeneralName, ...]) -> None:
    cert = pki.leaf(pki.server_key, "cms-db.test", usages=[SERVER_AUTH, CLIENT_AUTH], sans=sans)
    repo.files[f"{CERTS}/server.cer"] = cert_pem(cert)


def _entries(*values: str) -> tuple[x509.GeneralName, ...]:
    entries: list[x509.GeneralName] = []
    for value in values:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(value)))
        except ValueError:
            entries.append(x509.DNSName(value))
    return tuple(entries)


def test_a_server_certificate_without_sans_is_a_warning_naming_every_node(
    repo: LabRepo, pki: Pki, tmp_path: Path
) -> None:
    _server(repo, pki, ())
    findings, code = repo.findings(tmp_path)
    assert code == 0, findings  # a warning: nothing before 3.5 checks names
    [finding] = findings
    assert finding["severity"] == "warning"
    assert finding["key"] == "certs.server_cert"
    assert finding["node"] is None  # the shared file: said once, not once per node
    message = finding["message"]
    assert message.startswith(
        f"server certificate {CERTS}/server.cer does not carry IP:10.0.0.1, DNS:cms1, "
        "IP:10.0.0.2, DNS:cms2, IP:10.0.0.3, DNS:cms3 in its subjectAltName"
    )
    assert 'CMS 3.5 added "enhanced security for the Database Cluster"' in message
    assert "`reconcile certs issue` and `reconcile certs csr`" in message


def test_only_what_is_missing_is_named(repo: LabRepo, pki: Pki, tmp_path: Path) -> None:
    _server(repo, pki, _entries("cms1", "10.0.0.1", "CMS2.", "10.0.0.2", "10.0.0.3"))
    [finding] = repo.findings(tmp_path)[0]
    assert "does not carry DNS:cms3 in its subjectAltName" in finding["message"]


def test_every_node_by_name_and_address_is_no_warning(
    repo: LabRepo, pki: Pki, tmp_path: Path
) -> None:
    _server(
        repo, pki, _entries(*(f"cms{n}" for n in (1, 2, 3)), *(f"10.0.0.{n}" for n in (1, 2, 3)))
    )
    assert repo.findings(tmp_path) == ([], 0)


def test_the_names_certs_issue_gives_are_no_warning(
    repo: LabRepo, pki: Pki, tmp_path: Path
) -> None:
    identity = server_identity(ClusterSpec.model_validate(repo.doc), None, "cms-db.test")
    _server(
        repo,
        pki,
        (
            *(x509.DNSName(name) for name in identity.dns_names),
            *(x509.IPAddress(address) for address in identity.ip_addresses),
        ),
    )
    assert repo.findings(tmp_path) == ([], 0)


def test_a_nodes_own_server_certificate_needs_only_that_node(
    repo: LabRepo, pki: Pki, tmp_path: Path
) -> None:
    own = pki.leaf(
        pki.spare_key, "cms2.test", usages=[SERVER_AUTH], sans=_entries("cms2", "10.0.0.2")
    )
    bare = pki.leaf(pki.spare_key, "cms3.test", usages=[SERVER_AUTH], sans=())
    repo.files[f"{CERTS}/cms2-server.cer"] = cert_pem(own)
    repo.files[f"{CERTS}/cms3-server.cer"] = cert_pem(bare)
    repo.files[f"{CERTS}/cms2-server.key"] = repo.files[f"{CERTS}/cms3-server.key"] = encrypted_key(
        pki.spare_key
    )
    for index, name in ((1, "cms2"), (2, "cms3")):
        repo.node(index)["certs"] = {
            "server_key": f"{CERTS}/{name}-server.key",
            "server_cert": f"{CERTS}/{name}-server.cer",
        }
    findings, code = repo.findings(tmp_path)
    assert code == 0, findings
    [finding] = findings
    assert (finding["key"], finding["node"]) == ("nodes[2].certs.server_cert", "10.0.0.3")
    assert "does not carry IP:10.0.0.3, DNS:cms3 in its" in finding["message"]
