"""validate reads known_hosts as the transport does: every unusable line is an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.desired.labrepo import KNOWN_HOSTS, LabRepo, fake_host_key

PATH = "clusters/known_hosts"


def _known_hosts(repo: LabRepo, extra: str) -> None:
    repo.files[PATH] = (KNOWN_HOSTS + extra).encode()


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            f"@cert-authority *.example ssh-ed25519 {fake_host_key(20)}\n",
            "@cert-authority lines are not supported",
        ),
        ("[10.0.0.1]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITEST\n", "not valid base64"),
        (f"[10.0.0.1]:2222 ssh-foo {fake_host_key(21)}\n", "key type 'ssh-foo' is unknown"),
        ("[10.0.0.1]:2222 ssh-ed25519\n", "missing fields"),
        (f"@revoked * ssh-ed25519 {fake_host_key(22)[:-1]}\n", "not valid base64"),
    ],
)
def test_unusable_line_is_an_error_naming_the_line(
    repo: LabRepo, tmp_path: Path, extra: str, expected: str
) -> None:
    _known_hosts(repo, "# added by hand\n" + extra)
    findings, code = repo.findings(tmp_path)
    assert code == 1
    (finding,) = findings
    assert finding["severity"] == "error"
    assert finding["key"] == "ssh.known_hosts"
    assert finding["message"].startswith(f"{PATH} line 11: ")
    assert expected in finding["message"]
    text, _ = repo.validate(tmp_path, "text")
    assert f"error   clusters/t.yaml: ssh.known_hosts: {PATH} line 11: " in text
    assert text.splitlines()[-1].startswith("FAILED  cluster t")


def test_a_revocation_of_an_unused_key_is_fine(repo: LabRepo, tmp_path: Path) -> None:
    _known_hosts(repo, f"@revoked * ssh-ed25519 {fake_host_key(30)}\n")
    assert repo.findings(tmp_path) == ([], 0)


def test_node_whose_only_pin_is_revoked_is_an_error(repo: LabRepo, tmp_path: Path) -> None:
    _known_hosts(repo, f"@revoked [10.0.0.1]:2222 ssh-ed25519 {fake_host_key(1)}\n")
    findings, code = repo.findings(tmp_path)
    assert code == 1
    (finding,) = findings
    assert (finding["severity"], finding["key"], finding["node"]) == (
        "error",
        "nodes[0]",
        "10.0.0.1",
    )
    assert (
        "every host key pinned for [10.0.0.1]:2222 in clusters/known_hosts is @revoked"
        in (finding["message"])
    )
    assert "line 1 pins SHA256:" in finding["message"]
    assert "which line 10 revokes" in finding["message"]


def test_node_with_another_good_pin_gets_a_warning(repo: LabRepo, tmp_path: Path) -> None:
    _known_hosts(
        repo,
        f"[10.0.0.2]:2222 ssh-ed25519 {fake_host_key(40)}\n"
        f"@revoked * ssh-ed25519 {fake_host_key(2)}\n",
    )
    findings, code = repo.findings(tmp_path)
    assert code == 0
    (finding,) = findings
    assert (finding["severity"], finding["node"]) == ("warning", "10.0.0.2")
    assert "line 2 pins" in finding["message"]
    assert "which line 11 revokes" in finding["message"]


def test_wildcard_pin_counts(repo: LabRepo, tmp_path: Path) -> None:
    repo.files[PATH] = f"[10.0.0.?]:2222 ssh-ed25519 {fake_host_key(1)}\n".encode()
    assert repo.findings(tmp_path) == ([], 0)
