"""Hostile file and node names are refused at validate, naming the file and the field.

A certificate's name reaches the MMP twice: as an SFTP path (``put <name>``) and as an
argument of ``database cluster certs <key> <cert> ...``; a node's name is matched against
the MMP prompt. A space or ``;`` would split or chain that command line, a newline would
end it, ``../`` or ``/`` would leave the flat SFTP root, a NUL cannot be opened at all.
Each is refused before any node is contacted (tests/e2e/test_hostile_input.py proves the
"not contacted" half against the simulator), with a one-line message.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.desired.labrepo import CERTS, LabRepo

HOSTILE = {
    "space": "db server",
    "semicolon": "x;reboot",
    "newline": "x\ndatabase cluster remove",
    "dot-dot": "../x",
    "absolute": "/tmp/x",
    "nul": "x\x00y",
    "non-ascii": "sérveur",
    "command-substitution": "$(reboot)",
    "option": "-oProxyCommand=x",
}
IDS = list(HOSTILE)


def _one_line_error_at(repo: LabRepo, tmp_path: Path, key: str) -> str:
    findings, code = repo.findings(tmp_path)
    assert code == 1
    errors = [f for f in findings if f["severity"] == "error" and f["key"].startswith(key)]
    assert errors, f"nothing refused at {key}: {findings}"
    for finding in errors:
        assert finding["file"] == "clusters/t.yaml"
        assert "\n" not in finding["message"]
        assert "\x00" not in finding["message"]
    text, _ = repo.validate(tmp_path, "text")
    assert "Traceback" not in text
    assert "\x00" not in text
    message: str = errors[0]["message"]
    return message


@pytest.mark.reliability(
    section="hostile-input",
    case="a certificate path with a space, ';', newline, '../', '/', NUL or non-ASCII name "
    "is refused at validate",
)
@pytest.mark.parametrize("kind", IDS)
def test_hostile_certificate_path(kind: str, repo: LabRepo, tmp_path: Path) -> None:
    name = f"{CERTS}/{HOSTILE[kind]}.key" if not HOSTILE[kind].startswith("/") else "/tmp/x.key"
    if kind == "dot-dot":
        name = f"../{CERTS}/server.key"
    if "\x00" not in name and not name.startswith(("/", "..")):
        repo.files[name] = repo.files[f"{CERTS}/server.key"]  # the file exists: only the name
    repo.doc["certs"]["server_key"] = name
    message = _one_line_error_at(repo, tmp_path, "certs.server_key")
    assert message


@pytest.mark.reliability(
    section="hostile-input",
    case="a remote file name (SFTP path, MMP argument) with a space, ';', newline, '../', "
    "'/', NUL or non-ASCII is refused at validate",
)
@pytest.mark.parametrize("kind", IDS)
def test_hostile_remote_name(kind: str, repo: LabRepo, tmp_path: Path) -> None:
    repo.doc["certs"]["client_cert"] = {
        "path": f"{CERTS}/client.cer",
        "remote_name": HOSTILE[kind] + ".cer",
    }
    message = _one_line_error_at(repo, tmp_path, "certs.client_cert.remote_name")
    assert "remote file name" in message


@pytest.mark.reliability(
    section="hostile-input",
    case="a node name with a space, ';', newline, '../', '/', NUL or non-ASCII is refused "
    "at validate",
)
@pytest.mark.parametrize("kind", IDS)
def test_hostile_node_name(kind: str, repo: LabRepo, tmp_path: Path) -> None:
    repo.node(1)["name"] = HOSTILE[kind]
    message = _one_line_error_at(repo, tmp_path, "nodes[1].name")
    assert "node name" in message


@pytest.mark.reliability(
    section="hostile-input",
    case="an SSH user name with a control character is refused at validate",
)
@pytest.mark.parametrize("name", ["admin\n", "ad\x00min", "admin\x1b[0m"])
def test_hostile_username(name: str, repo: LabRepo, tmp_path: Path) -> None:
    repo.doc["ssh"]["username"] = name
    assert "control character" in _one_line_error_at(repo, tmp_path, "ssh.username")


@pytest.mark.reliability(
    section="hostile-input", case="a certificate file over 1 MiB is refused before it is read"
)
def test_a_huge_certificate_is_refused(repo: LabRepo, tmp_path: Path) -> None:
    repo.files[f"{CERTS}/ca.cer"] = repo.files[f"{CERTS}/ca.cer"] + b"\n" * 1_048_577
    message = _one_line_error_at(repo, tmp_path, "certs.ca_cert")
    assert "1 MiB" in message


@pytest.mark.reliability(
    section="hostile-input",
    case="a certificate that is a symlink out of the repository is refused at validate",
)
def test_a_certificate_symlink_out_of_the_repository(repo: LabRepo, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    outside = tmp_path / "outside.cer"
    outside.write_bytes(repo.files.pop(f"{CERTS}/ca.cer"))
    repo.write(root)
    (root / CERTS / "ca.cer").symlink_to(outside)
    findings, code = repo.findings(root)
    assert code == 1
    [error] = [f for f in findings if f["severity"] == "error"]
    assert error["key"] == "certs.ca_cert"
    assert "outside the repository" in error["message"]


@pytest.mark.reliability(
    section="hostile-input",
    case="a duration too large for date arithmetic, or not a number, is refused, no overflow",
)
@pytest.mark.parametrize("value", [86400000000000.0, 1e300, ".inf", ".nan", "99999999999999d"])
def test_an_absurd_duration_is_refused(value: object, repo: LabRepo, tmp_path: Path) -> None:
    repo.text = repo.yaml_text().replace("renew_before: 30d", f"renew_before: {value}")
    assert f"renew_before: {value}" in repo.text
    message = _one_line_error_at(repo, tmp_path, "renew_before")
    assert "duration" in message or "number of seconds" in message
