"""YAML parsing and PEM reading, on their own (known_hosts: tests/unit/mmp/test_known_hosts.py)."""

from __future__ import annotations

import pytest

from reconciler.desired.findings import Severity, SpecFinding, dedupe, line_of, with_lines
from reconciler.desired.pem import check_key_pem, load_certificates, pem_blocks
from reconciler.desired.yamlfile import YamlProblem, parse_yaml
from reconciler.errors import MaterialError
from tests.unit.desired.pki import Pki, cert_pem, encrypted_key, plaintext_key


def test_yaml_lines_of_key_paths() -> None:
    parsed = parse_yaml(b"name: t\nnodes:\n  - name: a\n    address: 10.0.0.1\n  - {name: b}\n")
    assert parsed.problems == []
    assert parsed.lines == {
        "name": 1,
        "nodes": 2,
        "nodes[0]": 3,
        "nodes[0].name": 3,
        "nodes[0].address": 4,
        "nodes[1]": 5,
        "nodes[1].name": 5,
    }


@pytest.mark.reliability(
    section="hostile-input",
    case="a duplicate YAML key is refused, naming its line",
)
def test_yaml_duplicate_nested_key() -> None:
    parsed = parse_yaml(b"ssh:\n  port: 22\n  port: 2222\n")
    assert parsed.problems == [
        YamlProblem(
            "ssh.port",
            "duplicate key 'port' at line 3 (first at line 2); YAML would keep only the last "
            "one, remove one of them",
            line=3,
            column=3,
        )
    ]


def test_yaml_multiple_documents_are_refused() -> None:
    parsed = parse_yaml(b"name: a\n---\nname: b\n")
    assert parsed.data is None
    assert "YAML syntax error at line 2" in parsed.problems[0].message
    assert parsed.problems[0].line == 2


def test_line_of_falls_back_to_the_parent() -> None:
    lines = {"certs": 10, "certs.ca_cert": 12}
    assert line_of("certs.ca_cert.path", lines) == 12
    assert line_of("certs.other", lines) == 10
    assert line_of("nodes[3].name", lines) is None
    finding = SpecFinding(severity=Severity.ERROR, file="f", key="certs.ca_cert", message="m")
    assert with_lines([finding], lines)[0].line == 12
    assert dedupe([finding, finding]) == [finding]


@pytest.mark.reliability(
    section="hostile-input",
    case="a truncated or binary (DER) PEM block is refused",
)
def test_pem_blocks_refuse_truncation_and_binary() -> None:
    with pytest.raises(MaterialError, match="without its END line"):
        pem_blocks(b"-----BEGIN CERTIFICATE-----\nAAAA\n", kind="certificate", path="x")
    with pytest.raises(MaterialError, match="binary data"):
        pem_blocks(b"\x01\x02\xff\xfe", kind="certificate", path="x")


def test_certificate_file_with_chain(pki: Pki) -> None:
    data = cert_pem(pki.root.cert, pki.intermediate.cert)
    assert load_certificates(data, "ca.cer") == [pki.root.cert, pki.intermediate.cert]
    with pytest.raises(MaterialError, match="certificate signing request"):
        load_certificates(
            b"-----BEGIN CERTIFICATE REQUEST-----\nAA\n-----END CERTIFICATE REQUEST-----\n", "x.csr"
        )


def test_key_file_must_hold_one_encrypted_key(pki: Pki) -> None:
    block = check_key_pem(encrypted_key(pki.server_key), "k")
    assert block.label == "ENCRYPTED PRIVATE KEY"
    with pytest.raises(MaterialError, match="exactly one private key and nothing else"):
        check_key_pem(encrypted_key(pki.server_key) + cert_pem(pki.root.cert), "k")
    with pytest.raises(MaterialError, match="UNENCRYPTED"):
        check_key_pem(encrypted_key(pki.server_key) + plaintext_key(pki.client_key), "k")
