"""Every mistake a person can make in a pull request: exit 1, the right key, a specific message.

Each case starts from a valid repository (``labrepo.good_doc``/``good_files``) and breaks
exactly one thing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from tests.unit.desired.labrepo import CERTS, LabRepo
from tests.unit.desired.pki import (
    CLIENT_AUTH,
    NOW,
    SERVER_AUTH,
    Pki,
    cert_der,
    cert_pem,
    encrypted_key,
    legacy_encrypted_key,
    make_ca,
    plaintext_key,
)

Mutation = Callable[[LabRepo, Pki], None]


@dataclass(frozen=True)
class Case:
    id: str
    mutate: Mutation
    key: str
    message: str


def _text(text: str) -> Mutation:
    def mutate(repo: LabRepo, pki: Pki) -> None:
        repo.text = text

    return mutate


def _file(path: str, data: Callable[[Pki], bytes]) -> Mutation:
    def mutate(repo: LabRepo, pki: Pki) -> None:
        repo.files[f"{CERTS}/{path}"] = data(pki)

    return mutate


def _server_cert(**kwargs: object) -> Mutation:
    def mutate(repo: LabRepo, pki: Pki) -> None:
        cert = pki.leaf(pki.server_key, "cms-db.test", **kwargs)  # type: ignore[arg-type]
        repo.files[f"{CERTS}/server.cer"] = cert_pem(cert)

    return mutate


def _client_cert(common_name: str = "postgres", **kwargs: object) -> Mutation:
    def mutate(repo: LabRepo, pki: Pki) -> None:
        cert = pki.leaf(pki.client_key, common_name, **kwargs)  # type: ignore[arg-type]
        repo.files[f"{CERTS}/client.cer"] = cert_pem(cert)

    return mutate


def _set(path: str, value: object) -> Mutation:
    """Set a value by a dotted path with [n] indices, e.g. ``nodes[1].ssh_port``."""

    def mutate(repo: LabRepo, pki: Pki) -> None:
        target, last = _locate(repo, path)
        target[last] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(repo: LabRepo, pki: Pki) -> None:
        target, last = _locate(repo, path)
        del target[last]

    return mutate


def _locate(repo: LabRepo, path: str) -> tuple[dict[str, object], str]:
    parts = path.replace("[", ".").replace("]", "").split(".")
    target: object = repo.doc
    for part in parts[:-1]:
        target = target[int(part)] if isinstance(target, list) else target[part]  # type: ignore[index]
    assert isinstance(target, dict)
    return target, parts[-1]


def _remove_file(path: str) -> Mutation:
    def mutate(repo: LabRepo, pki: Pki) -> None:
        del repo.files[path]

    return mutate


def _env(name: str, value: str | None) -> Mutation:
    def mutate(repo: LabRepo, pki: Pki) -> None:
        if value is None:
            repo.env.pop(name)
        else:
            repo.env[name] = value

    return mutate


def _both(*mutations: Mutation) -> Mutation:
    def mutate(repo: LabRepo, pki: Pki) -> None:
        for mutation in mutations:
            mutation(repo, pki)

    return mutate


def _latin1(repo: LabRepo, pki: Pki) -> None:
    repo.raw_yaml = repo.yaml_text().replace("admin", "admin\xe9").encode("latin-1")


def _duplicate_key(repo: LabRepo, pki: Pki) -> None:
    repo.text = repo.yaml_text() + "name: t\n"


def _small_rsa(repo: LabRepo, pki: Pki) -> None:
    cert = pki.leaf(pki.small_key, "cms-db.test", usages=[SERVER_AUTH])
    repo.files[f"{CERTS}/server.cer"] = cert_pem(cert)
    repo.files[f"{CERTS}/server.key"] = encrypted_key(pki.small_key)


def _other_ca_on_node(repo: LabRepo, pki: Pki) -> None:
    other = pki.leaf(pki.spare_key, "cms2.test", issuer=pki.other_root, usages=[SERVER_AUTH])
    repo.files["certs/t/cms2/server.cer"] = cert_pem(other)
    repo.files["certs/t/cms2/server.key"] = encrypted_key(pki.spare_key)
    repo.files["certs/t/cms2/ca.cer"] = cert_pem(pki.other_root.cert)
    repo.node(1)["certs"] = {
        "server_key": "certs/t/cms2/server.key",
        "server_cert": "certs/t/cms2/server.cer",
        "ca_cert": {"path": "certs/t/cms2/ca.cer", "remote_name": "ca2.cer"},
    }


def _expired_ca(repo: LabRepo, pki: Pki) -> None:
    ca = make_ca(
        "TEST root CA",
        pki.root.key,  # type: ignore[arg-type]
        not_before=NOW - dt.timedelta(days=3000),
        not_after=NOW - dt.timedelta(days=1),
    )
    repo.files[f"{CERTS}/ca.cer"] = cert_pem(ca.cert)


def _intermediate_without_root(repo: LabRepo, pki: Pki) -> None:
    server = pki.leaf(pki.server_key, "cms-db.test", issuer=pki.intermediate)
    client = pki.leaf(pki.client_key, "postgres", issuer=pki.intermediate)
    repo.files[f"{CERTS}/server.cer"] = cert_pem(server)
    repo.files[f"{CERTS}/client.cer"] = cert_pem(client)
    repo.files[f"{CERTS}/ca.cer"] = cert_pem(pki.intermediate.cert)


def _look_alike_ca(repo: LabRepo, pki: Pki) -> None:
    repo.files[f"{CERTS}/ca.cer"] = cert_pem(pki.twin_root.cert)


def _bad_basename(repo: LabRepo, pki: Pki) -> None:
    repo.files[f"{CERTS}/my server.cer"] = repo.files[f"{CERTS}/server.cer"]
    repo.doc["certs"]["server_cert"] = f"{CERTS}/my server.cer"


def _collision(repo: LabRepo, pki: Pki) -> None:
    repo.doc["certs"]["client_cert"] = {"path": f"{CERTS}/client.cer", "remote_name": "server.cer"}


def _no_digital_signature(repo: LabRepo, pki: Pki) -> None:
    usage = x509.KeyUsage(False, False, False, True, False, False, False, False, False)
    cert = pki.leaf(pki.server_key, "cms-db.test", usages=[SERVER_AUTH], key_usage=usage)
    repo.files[f"{CERTS}/server.cer"] = cert_pem(cert)


def _ssh_without_credentials(repo: LabRepo, pki: Pki) -> None:
    del repo.doc["ssh"]["password_env"]


def _wrong_ca(repo: LabRepo, pki: Pki) -> None:
    cert = pki.leaf(pki.server_key, "cms-db.test", issuer=pki.other_root, usages=[SERVER_AUTH])
    repo.files[f"{CERTS}/server.cer"] = cert_pem(cert)


def _ssh_endpoint_clash(repo: LabRepo, pki: Pki) -> None:
    repo.node(2)["ssh_host"] = "10.0.0.1"


CASES = [
    # --- YAML ------------------------------------------------------------------------------
    Case("yaml-syntax", _text("name: t\nnodes: [\n  - a\n"), "", "YAML syntax error at line"),
    Case("yaml-not-mapping", _text("- name: t\n- master: x\n"), "", "must be a mapping of keys"),
    Case("yaml-empty", _text("# nothing here\n"), "", "is empty"),
    Case("yaml-duplicate-key", _duplicate_key, "name", "duplicate key 'name'"),
    Case("yaml-bool-for-string", _set("interface", False), "interface", "quote the value"),
    Case("not-utf8", _latin1, "", "is not UTF-8"),
    # --- structure -------------------------------------------------------------------------
    Case("unknown-top-key", _set("nodez", []), "nodez", "unknown key 'nodez'"),
    Case(
        "unknown-node-key",
        _set("nodes[1].sshport", 22),
        "nodes[1].sshport",
        "unknown key 'sshport' (allowed: address, certs, name, ssh_host, ssh_port); "
        "did you mean 'ssh_port'?",
    ),
    Case(
        "wrong-type-port",
        _set("nodes[0].ssh_port", "abc"),
        "nodes[0].ssh_port",
        "expected an integer, got 'abc'",
    ),
    Case("port-out-of-range", _set("ssh.port", 70000), "ssh.port", "70000 is not a TCP port"),
    Case("nodes-not-a-list", _set("nodes", {"name": "cms1"}), "nodes", "expected a list"),
    Case("no-nodes", _set("nodes", []), "nodes", "must list at least one node"),
    Case("missing-master", _delete("master"), "master", "required key 'master' is missing"),
    Case("missing-ssh", _delete("ssh"), "ssh", "required key 'ssh' is missing"),
    Case("bad-duration", _set("renew_before", "30 days"), "renew_before", "is not a duration"),
    Case("zero-timeout", _set("timeouts.join", "0s"), "timeouts.join", "must be longer than zero"),
    Case(
        "secret-in-env-key",
        _set("ssh.password_env", "hunter2!"),
        "ssh.password_env",
        "must be the NAME of an environment variable",
    ),
    Case(
        "path-leaves-repo",
        _set("certs.ca_cert", "../ca.cer"),
        "certs.ca_cert.path",
        "leaves the repository",
    ),
    Case(
        "absolute-path", _set("certs.ca_cert", "/etc/ca.cer"), "certs.ca_cert.path", "is absolute"
    ),
    Case("cluster-name-syntax", _set("name", "my lab"), "name", "is not a valid cluster name"),
    Case(
        "cert-entry-wrong-type",
        _set("certs.client_cert", 42),
        "certs.client_cert",
        "expected a repository path or a mapping {path: ..., remote_name: ...}, got 42",
    ),
    # --- topology --------------------------------------------------------------------------
    Case(
        "name-not-stem",
        _set("name", "other"),
        "name",
        "name 'other' does not match the file name 't'",
    ),
    Case(
        "address-not-ip",
        _set("nodes[2].address", "cms3.example"),
        "nodes[2].address",
        "'cms3.example' is not an IPv4 or IPv6 address",
    ),
    Case(
        "duplicate-address",
        _set("nodes[1].address", "10.0.0.1"),
        "nodes[1].address",
        "duplicate address 10.0.0.1 (also nodes[0]); give each node its own address",
    ),
    Case(
        "duplicate-node-name",
        _set("nodes[2].name", "cms1"),
        "nodes[2].name",
        "duplicate node name 'cms1' (also nodes[0])",
    ),
    Case(
        "master-not-a-node",
        _set("master", "10.0.0.9"),
        "master",
        "master 10.0.0.9 is not the address of any node",
    ),
    Case(
        "master-is-a-name",
        _set("master", "cms1"),
        "master",
        "master 'cms1' is the name of nodes[0]; master must be an address: write master: 10.0.0.1",
    ),
    Case(
        "ssh-endpoint-clash",
        _ssh_endpoint_clash,
        "nodes[2].ssh_host",
        "SSH endpoint 10.0.0.1:2222 is also used by nodes[0]",
    ),
    # --- connected call bridges (issue 24, item 7) -----------------------------------------
    Case(
        "connected-is-a-node",
        _set("connected", [{"name": "cb1", "address": "10.0.0.2"}]),
        "connected[0].address",
        "duplicate address 10.0.0.2 (also nodes[1]); a connected call bridge has no local "
        "database and is not a node",
    ),
    Case(
        "connected-twice",
        _set(
            "connected",
            [{"name": "cb1", "address": "10.0.0.21"}, {"name": "cb1", "address": "10.0.0.22"}],
        ),
        "connected[1].name",
        "duplicate name 'cb1' (also connected[0])",
    ),
    Case(
        "connected-endpoint-clash",
        _set(
            "connected",
            [{"name": "cb1", "address": "10.0.0.21", "ssh_host": "10.0.0.1", "ssh_port": 2222}],
        ),
        "connected[0].ssh_host",
        "SSH endpoint 10.0.0.1:2222 is also used by nodes[0]",
    ),
    Case(
        "connected-address-not-ip",
        _set("connected", [{"name": "cb1", "address": "cb1.example"}]),
        "connected[0].address",
        "'cb1.example' is not an IPv4 or IPv6 address",
    ),
    Case(
        "connected-unknown-key",
        _set("connected", [{"name": "cb1", "address": "10.0.0.21", "certs": {}}]),
        "connected[0].certs",
        "unknown key 'certs' (allowed: address, name, ssh_host, ssh_port)",
    ),
    Case(
        "no-ssh-credentials",
        _ssh_without_credentials,
        "ssh",
        "neither password_env nor key_file_env is set",
    ),
    Case(
        "known-hosts-missing",
        _remove_file("clusters/known_hosts"),
        "ssh.known_hosts",
        "known_hosts file clusters/known_hosts does not exist",
    ),
    # --- files -----------------------------------------------------------------------------
    Case(
        "missing-cert-file",
        _remove_file(f"{CERTS}/client.cer"),
        "certs.client_cert",
        "client certificate certs/t/client.cer does not exist in the working tree",
    ),
    Case(
        "der-certificate",
        _file("server.cer", lambda p: cert_der(p.root.cert)),
        "certs.server_cert",
        "is DER (binary), not PEM; convert it with: openssl x509",
    ),
    Case(
        "garbage-certificate",
        _file("ca.cer", lambda p: b"hello, I am not a certificate\n"),
        "certs.ca_cert",
        "is not PEM: no '-----BEGIN ...-----' line",
    ),
    Case(
        "damaged-pem",
        _file(
            "ca.cer", lambda p: b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        ),
        "certs.ca_cert",
        "PEM block 1 is not a valid certificate",
    ),
    Case("empty-key-file", _file("client.key", lambda p: b""), "certs.client_key", "is empty"),
    Case(
        "plaintext-key",
        _file("server.key", lambda p: plaintext_key(p.server_key)),
        "certs.server_key",
        "is an UNENCRYPTED private key",
    ),
    Case(
        "legacy-encrypted-key",
        _file("server.key", lambda p: legacy_encrypted_key(p.server_key)),
        "certs.server_key",
        "uses legacy PEM encryption",
    ),
    Case(
        "key-and-cert-swapped",
        _file("client.key", lambda p: cert_pem(p.root.cert)),
        "certs.client_key",
        "holds a certificate, not a private key",
    ),
    Case(
        "cert-holds-key",
        _file("client.cer", lambda p: encrypted_key(p.client_key)),
        "certs.client_cert",
        "holds a private key, not a certificate",
    ),
    Case(
        "passphrase-env-missing",
        _env("T_KEY_PASS", None),
        "certs.key_passphrase_env",
        "environment variable T_KEY_PASS (named by certs.key_passphrase_env) is not set",
    ),
    Case(
        "wrong-passphrase",
        _env("T_KEY_PASS", "not-it"),
        "certs.server_key",
        "cannot be decrypted with the passphrase in $T_KEY_PASS",
    ),
    # --- certificates ----------------------------------------------------------------------
    Case(
        "key-mismatch",
        _file("server.key", lambda p: encrypted_key(p.spare_key)),
        "certs.server_key",
        "server key certs/t/server.key does not belong to server certificate certs/t/server.cer",
    ),
    Case(
        "wrong-ca",
        _wrong_ca,
        "certs.server_cert",
        "was issued by CN=TEST other CA,O=TEST ONLY, which is not in the CA file certs/t/ca.cer",
    ),
    Case(
        "expired-cert",
        _client_cert(not_before=NOW - dt.timedelta(days=800), not_after=NOW - dt.timedelta(days=3)),
        "certs.client_cert",
        "client certificate certs/t/client.cer expired on",
    ),
    Case(
        "not-yet-valid",
        _server_cert(not_before=NOW + dt.timedelta(days=2)),
        "certs.server_cert",
        "is not valid until",
    ),
    Case(
        "client-cn",
        _client_cert("cms-client.test"),
        "certs.client_cert",
        "has CN 'cms-client.test', but the database cluster client certificate must have "
        "CN=postgres",
    ),
    Case(
        "server-eku",
        _server_cert(usages=[CLIENT_AUTH]),
        "certs.server_cert",
        "has extendedKeyUsage clientAuth without serverAuth",
    ),
    Case(
        "client-eku",
        _client_cert(usages=[SERVER_AUTH]),
        "certs.client_cert",
        "has extendedKeyUsage serverAuth without clientAuth",
    ),
    Case(
        "key-usage",
        _no_digital_signature,
        "certs.server_cert",
        "keyUsage without digitalSignature or keyEncipherment",
    ),
    Case("rsa-1024", _small_rsa, "certs.server_cert", "has a 1024-bit RSA key"),
    Case("expired-ca", _expired_ca, "certs.ca_cert", "in certs/t/ca.cer expired on"),
    Case(
        "ca-without-root",
        _intermediate_without_root,
        "certs.server_cert",
        "add the root CA certificate",
    ),
    Case(
        "look-alike-ca",
        _look_alike_ca,
        "certs.server_cert",
        "signature does not verify with that certificate",
    ),
    Case(
        "ca-is-not-a-ca",
        _file("ca.cer", lambda p: cert_pem(p.leaf(p.spare_key, "not a ca"))),
        "certs.ca_cert",
        "is not a CA certificate",
    ),
    Case(
        "different-ca-on-a-node",
        _other_ca_on_node,
        "nodes[1].certs.ca_cert",
        "every node must trust the same CA",
    ),
    # --- remote names ----------------------------------------------------------------------
    Case(
        "remote-name-space",
        _set("certs.server_cert", {"path": f"{CERTS}/server.cer", "remote_name": "my cert.cer"}),
        "certs.server_cert.remote_name",
        "contains whitespace",
    ),
    Case(
        "remote-name-separator",
        _set("certs.ca_cert", {"path": f"{CERTS}/ca.cer", "remote_name": "sub/ca.cer"}),
        "certs.ca_cert.remote_name",
        "contains a path separator",
    ),
    Case(
        "basename-not-a-remote-name",
        _bad_basename,
        "certs.server_cert",
        "its basename 'my server.cer' would be the file name on the MMP",
    ),
    Case(
        "remote-name-collision",
        _collision,
        "certs.client_cert",
        "remote file name 'server.cer' of client_cert (certs/t/client.cer) is also used by "
        "server_cert",
    ),
]


def test_there_are_at_least_25_distinct_cases() -> None:
    assert len({case.id for case in CASES}) == len(CASES) >= 25
    assert set(RELIABILITY_ROWS) <= {case.id for case in CASES}
    assert len({(case.key, case.message) for case in CASES}) == len(CASES)


def test_the_unbroken_repository_is_valid(repo: LabRepo, tmp_path: Path) -> None:
    findings, code = repo.findings(tmp_path)
    assert (findings, code) == ([], 0)


# The cases that are rows of docs/reliability.md's hostile-input table.
RELIABILITY_ROWS = {
    "yaml-duplicate-key": "a duplicate key in the cluster file is refused",
    "unknown-top-key": "an unknown key is refused",
    "unknown-node-key": "an unknown key is refused",
    "wrong-type-port": "a value of the wrong type is refused",
    "nodes-not-a-list": "a value of the wrong type is refused",
    "cert-entry-wrong-type": "a value of the wrong type is refused",
    "not-utf8": "a cluster file that is not UTF-8 is refused",
    "der-certificate": "a DER certificate file (not PEM) is refused",
    "damaged-pem": "a truncated certificate file is refused",
    "garbage-certificate": "a file that is not a certificate is refused",
    "cert-holds-key": "a file that is not a certificate is refused",
    "path-leaves-repo": "a certificate path out of the repository ('..') is refused",
    "absolute-path": "an absolute certificate path is refused",
    "remote-name-space": "a remote file name with a space is refused",
    "remote-name-separator": "a remote file name with a path separator is refused",
    "basename-not-a-remote-name": "a certificate file name that is no MMP file name is refused",
    "passphrase-env-missing": "a missing key passphrase variable is named",
    "secret-in-env-key": "a secret pasted in place of a variable name is refused, not echoed",
}


def _param(case: Case) -> object:
    row = RELIABILITY_ROWS.get(case.id)
    marks = [pytest.mark.reliability(section="hostile-input", case=row)] if row else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_bad_input_is_reported(case: Case, repo: LabRepo, pki: Pki, tmp_path: Path) -> None:
    case.mutate(repo, pki)
    findings, code = repo.findings(tmp_path)
    assert code == 1
    errors = [f for f in findings if f["severity"] == "error"]
    matching = [f for f in errors if f["key"] == case.key and case.message in f["message"]]
    assert matching, f"no error at {case.key!r} containing {case.message!r}; got {errors}"
    assert all(f["file"] == "clusters/t.yaml" for f in findings)

    text, text_code = repo.validate(tmp_path, "text")
    assert text_code == 1
    assert "Traceback" not in text
    assert case.message in text
    assert "\x1b[" not in text


def test_a_pasted_secret_is_never_echoed(repo: LabRepo, tmp_path: Path) -> None:
    repo.doc["ssh"]["password_env"] = "S3cret-Passw0rd!"
    for output_format in ("text", "json"):
        output, code = repo.validate(tmp_path, output_format)
        assert code == 1
        assert "S3cret-Passw0rd!" not in output


def test_one_run_reports_every_mistake(repo: LabRepo, pki: Pki, tmp_path: Path) -> None:
    repo.node(1)["address"] = "10.0.0.1"
    repo.doc["master"] = "10.0.0.7"
    repo.files[f"{CERTS}/server.key"] = plaintext_key(pki.server_key)
    findings, code = repo.findings(tmp_path)
    assert code == 1
    assert {f["key"] for f in findings if f["severity"] == "error"} == {
        "nodes[1].address",
        "master",
        "certs.server_key",
    }


def test_findings_point_at_yaml_lines(repo: LabRepo, tmp_path: Path) -> None:
    repo.text = repo.yaml_text().replace("address: 10.0.0.2", "address: 10.0.0.1")
    findings, _ = repo.findings(tmp_path)
    duplicate = next(f for f in findings if f["key"] == "nodes[1].address")
    lines = repo.text.splitlines()
    assert "10.0.0.1" in lines[duplicate["line"] - 1]
    assert lines[duplicate["line"] - 1].strip().startswith("address")


def test_yaml_syntax_error_names_line_and_column(repo: LabRepo, tmp_path: Path) -> None:
    repo.text = "name: t\nmaster: [10.0.0.1\nnodes: []\n"
    findings, _ = repo.findings(tmp_path)
    assert len(findings) == 1
    assert "line 3, column" in findings[0]["message"]


def test_yaml_stays_yaml(repo: LabRepo) -> None:
    """Guard for the case table: the base document round-trips through YAML unchanged."""
    assert yaml.safe_load(repo.yaml_text()) == repo.doc
