"""Host keys against pins, as data: judging, appending pins, and the command with a fake scan."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from reconciler.errors import ConfigError, TransportError
from reconciler.mmp import known_hosts as kh
from reconciler.mmp.transport import Endpoint, KnownHosts, ScannedHostKey, TransportTimeouts
from reconciler.onboard.hostkeys import (
    PINS_HEADER,
    PinState,
    append_pins,
    check_host_keys,
    judge,
    load_pins,
    render_host_keys,
)
from tests.unit.desired.labrepo import fake_host_key


def key(seed: int) -> ScannedHostKey:
    text = fake_host_key(seed)
    return ScannedHostKey("ssh-ed25519", base64.b64decode(text), text)


def pins(text: str) -> kh.KnownHostsFile:
    return kh.parse_known_hosts(text)


NAME = "[10.0.0.1]:2222"


def test_judge_pinned_not_pinned_changed_revoked() -> None:
    one, two = key(1), key(2)
    pinned = judge(pins(f"{NAME} ssh-ed25519 {one.base64}\n"), "kh", NAME, one.blob)
    assert pinned.state is PinState.PINNED
    assert pinned.detail == "kh line 1"
    assert judge(pins(""), "kh", NAME, one.blob).state is PinState.NOT_PINNED
    other_host = judge(pins(f"[10.0.0.2]:2222 ssh-ed25519 {one.base64}\n"), "kh", NAME, one.blob)
    assert other_host.state is PinState.NOT_PINNED
    changed = judge(pins(f"# x\n{NAME} ssh-ed25519 {two.base64}\n"), "kh", NAME, one.blob)
    assert changed.state is PinState.CHANGED
    assert f"{two.fingerprint} (line 2)" in changed.detail
    revoked = judge(
        pins(f"{NAME} ssh-ed25519 {one.base64}\n@revoked * ssh-ed25519 {one.base64}\n"),
        "kh",
        NAME,
        one.blob,
    )
    assert revoked.state is PinState.REVOKED
    assert "line 2" in revoked.detail


def test_a_line_pins_what_the_transport_accepts() -> None:
    one = key(1)
    line = one.known_hosts_line(NAME)
    assert line == f"{NAME} ssh-ed25519 {one.base64}"
    assert judge(pins(line + "\n"), "kh", NAME, one.blob).state is PinState.PINNED


def test_append_creates_with_a_header_and_never_duplicates(tmp_path: Path) -> None:
    first, second = key(1).known_hosts_line(NAME), key(2).known_hosts_line("10.0.0.2")
    assert append_pins(tmp_path, "clusters/known_hosts", [first, first]) == [first]
    path = tmp_path / "clusters" / "known_hosts"
    assert path.read_text() == PINS_HEADER + first + "\n"
    assert append_pins(tmp_path, "clusters/known_hosts", [first, second]) == [second]
    assert append_pins(tmp_path, "clusters/known_hosts", [first, second]) == []
    assert path.read_text().splitlines()[-2:] == [first, second]


def test_append_after_a_last_line_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    path.write_text("# mine")
    append_pins(tmp_path, "known_hosts", [key(1).known_hosts_line(NAME)])
    assert path.read_text() == f"# mine\n{key(1).known_hosts_line(NAME)}\n"


def test_pins_outside_the_repository_are_refused(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "clusters").symlink_to(tmp_path)
    with pytest.raises(ConfigError, match="outside the repository"):
        load_pins(tmp_path / "repo", "clusters/known_hosts")


def test_a_missing_pins_file_is_empty_and_a_broken_one_refused(tmp_path: Path) -> None:
    loaded, text = load_pins(tmp_path, "clusters/known_hosts")
    assert text == ""
    assert loaded.file.lines == ()
    (tmp_path / "clusters").mkdir()
    (tmp_path / "clusters" / "known_hosts").write_text("garbage\n")
    with pytest.raises(ConfigError, match="line 1"):
        load_pins(tmp_path, "clusters/known_hosts")


CLUSTER = """\
name: c
master: 10.0.0.1
nodes:
  - {name: n1, address: 10.0.0.1}
  - {name: n2, address: 10.0.0.2}
  - {name: n3, address: 10.0.0.3, ssh_port: 2222}
  - {name: n4, address: 10.0.0.4}
ssh: {username: admin, password_env: C_PASSWORD}
certs:
  server_key: certs/c/s.key
  server_cert: certs/c/s.cer
  client_key: certs/c/c.key
  client_cert: certs/c/c.cer
  ca_cert: certs/c/ca.cer
  key_passphrase_env: C_KEY
"""
SERVED = {"10.0.0.1": key(1), "10.0.0.2": key(2), "10.0.0.3": key(3)}


def fake_scan(endpoint: Endpoint, known: KnownHosts, timeouts: TransportTimeouts) -> ScannedHostKey:
    if endpoint.host not in SERVED:
        raise TransportError(endpoint.node, "cannot connect: connection refused")
    return SERVED[endpoint.host]


def make_repo(tmp_path: Path, pins_text: str) -> Path:
    (tmp_path / "clusters").mkdir()
    (tmp_path / "clusters" / "c.yaml").write_text(CLUSTER)
    (tmp_path / "clusters" / "known_hosts").write_text(pins_text)
    return tmp_path


def test_the_command_judges_every_node_and_writes_only_new_pins(tmp_path: Path) -> None:
    pins_text = f"10.0.0.1 ssh-ed25519 {key(1).base64}\n10.0.0.2 ssh-ed25519 {key(9).base64}\n"
    repo = make_repo(tmp_path, pins_text)
    report = check_host_keys(repo, [], scan=fake_scan)
    states = {
        node.node: node.verdict.state if node.verdict else None for node in report.clusters[0].nodes
    }
    assert states == {
        "n1": PinState.PINNED,
        "n2": PinState.CHANGED,
        "n3": PinState.NOT_PINNED,
        "n4": None,
    }
    assert not report.ok
    text = render_host_keys(report, write=False)
    assert f"[10.0.0.3]:2222 ssh-ed25519 {key(3).base64}" in text
    assert "n4  10.0.0.4  UNREACHABLE" in text
    assert "4 nodes: 1 pinned, 1 CHANGED, 1 NOT PINNED, 1 UNREACHABLE" in text
    assert (repo / "clusters" / "known_hosts").read_text() == pins_text

    written = check_host_keys(repo, ["c"], write=True, scan=fake_scan)
    assert written.written == (
        ("clusters/known_hosts", (key(3).known_hosts_line("[10.0.0.3]:2222"),)),
    )
    after = (repo / "clusters" / "known_hosts").read_text()
    assert after == pins_text + key(3).known_hosts_line("[10.0.0.3]:2222") + "\n"
    assert "pinned now" in render_host_keys(written, write=True)
    assert not written.ok  # n2 changed, n4 unreachable


def test_all_pinned_is_ok(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        "".join(
            f"{name} ssh-ed25519 {scanned.base64}\n"
            for name, scanned in (
                ("10.0.0.1", key(1)),
                ("10.0.0.2", key(2)),
                ("[10.0.0.3]:2222", key(3)),
                ("10.0.0.4", key(4)),
            )
        ),
    )
    SERVED["10.0.0.4"] = key(4)
    try:
        report = check_host_keys(repo, [], scan=fake_scan)
    finally:
        del SERVED["10.0.0.4"]
    assert report.ok
    assert render_host_keys(report, write=False).endswith("4 nodes: 4 pinned")


def test_connected_call_bridges_are_scanned_and_pinned_like_nodes(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "")
    path = repo / "clusters" / "c.yaml"
    path.write_text(CLUSTER + "connected:\n  - {name: cb1, address: 10.0.0.21}\n")
    served = {**SERVED, "10.0.0.21": key(21)}

    def scan(endpoint: Endpoint, known: KnownHosts, timeouts: TransportTimeouts) -> ScannedHostKey:
        if endpoint.host not in served:
            raise TransportError(endpoint.node, "cannot connect: connection refused")
        return served[endpoint.host]

    written = check_host_keys(repo, ["c"], write=True, scan=scan)
    assert "cb1" in [node.node for node in written.clusters[0].nodes]
    assert key(21).known_hosts_line("10.0.0.21") in written.written[0][1]
