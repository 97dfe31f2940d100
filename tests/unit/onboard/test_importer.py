"""What the import refuses before it contacts any node (no SSH: the scan must not be called)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from reconciler.errors import ConfigError, ImportRefused
from reconciler.mmp.transport import Endpoint, KnownHosts, ScannedHostKey, TransportTimeouts
from reconciler.onboard.describe import ImportSettings
from reconciler.onboard.hostkeys import Scanner
from reconciler.onboard.importer import ImportRequest, run_import
from tests.unit.desired.labrepo import fake_host_key

SETTINGS = ImportSettings("prod", 22, "admin", "P_PASSWORD", "P_KEY_PASSPHRASE")
ENV = {"P_PASSWORD": "pw", "P_KEY_PASSPHRASE": "pass"}


def no_scan(endpoint: Endpoint, known: KnownHosts, timeouts: TransportTimeouts) -> ScannedHostKey:
    raise AssertionError(f"{endpoint.host} was contacted")


def request(repo: Path, *addresses: str, settings: ImportSettings = SETTINGS) -> ImportRequest:
    return ImportRequest(repo, settings, addresses or ("10.0.0.1",))


def test_every_missing_variable_is_named_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        run_import(request(tmp_path), {"P_PASSWORD": ""}, scan=no_scan)
    message = str(caught.value)
    assert "P_PASSWORD (--password-env: the SSH password)" in message
    assert "P_KEY_PASSPHRASE (--key-passphrase-env" in message
    assert "export them" in message


def test_a_secret_given_instead_of_a_variable_name_is_not_echoed(tmp_path: Path) -> None:
    settings = ImportSettings("prod", 22, "admin", "hunter2!", "P_KEY_PASSPHRASE")
    with pytest.raises(ConfigError, match="is not a variable name") as caught:
        run_import(request(tmp_path, settings=settings), ENV, scan=no_scan)
    assert "never the secret itself" in str(caught.value)


@pytest.mark.parametrize(
    ("cluster", "addresses", "message"),
    [
        ("../x", ("10.0.0.1",), "is not a cluster name"),
        ("prod", ("10.0.0.1", "10.0.0.1"), "given twice"),
        ("prod", ("10.0.0.1/24",), "is not a host name or address"),
    ],
)
def test_bad_options(
    tmp_path: Path, cluster: str, addresses: tuple[str, ...], message: str
) -> None:
    settings = ImportSettings(cluster, 22, "admin", "P_PASSWORD", "P_KEY_PASSPHRASE")
    with pytest.raises(ConfigError, match=message):
        run_import(request(tmp_path, *addresses, settings=settings), ENV, scan=no_scan)


def test_an_existing_cluster_file_refuses_before_any_node_is_contacted(tmp_path: Path) -> None:
    (tmp_path / "clusters").mkdir()
    (tmp_path / "clusters" / "prod.yaml").write_text("name: prod\n")
    with pytest.raises(ImportRefused, match="never overwrites a cluster file"):
        run_import(request(tmp_path), ENV, scan=no_scan)


def test_a_broken_pins_file_refuses_before_any_node_is_contacted(tmp_path: Path) -> None:
    (tmp_path / "clusters").mkdir()
    (tmp_path / "clusters" / "known_hosts").write_text("10.0.0.1 ssh-ed25519 not-base64!\n")
    with pytest.raises(ImportRefused, match="line 1"):
        run_import(request(tmp_path), ENV, scan=no_scan)


def _key(seed: int) -> ScannedHostKey:
    text = fake_host_key(seed)
    return ScannedHostKey("ssh-ed25519", base64.b64decode(text), text)


def scan_serving(keys: dict[str, ScannedHostKey]) -> Scanner:
    def scan(endpoint: Endpoint, known: KnownHosts, timeouts: TransportTimeouts) -> ScannedHostKey:
        return keys[endpoint.host]

    return scan


def test_unpinned_keys_stop_before_login_with_each_fingerprint_and_line(tmp_path: Path) -> None:
    keys = {"10.0.0.1": _key(1), "10.0.0.2": _key(2)}
    with pytest.raises(ImportRefused) as caught:
        run_import(request(tmp_path, *keys), ENV, scan=scan_serving(keys))
    message = str(caught.value)
    assert "before logging in (no password was sent, nothing written)" in message
    for address, key in keys.items():
        assert f"  {address}  ssh-ed25519 {key.fingerprint}" in message
        assert f"  {address} ssh-ed25519 {key.base64}" in message
    assert list(tmp_path.iterdir()) == []


def test_unpinned_keys_say_how_to_check_a_fingerprint_without_inventing_an_mmp_command(
    tmp_path: Path,
) -> None:
    """Issue 23: "the one the node shows on its console" named nothing a CMS shows. The MMP
    reference documents no command that prints the host key, so the message says so and
    offers what does work: a trusted path, or whoever installed the node."""
    keys = {"10.0.0.1": _key(1)}
    settings = ImportSettings("prod", 2222, "admin", "P_PASSWORD", "P_KEY_PASSPHRASE")
    with pytest.raises(ImportRefused) as caught:
        run_import(request(tmp_path, *keys, settings=settings), ENV, scan=scan_serving(keys))
    message = str(caught.value)
    assert "console" not in message
    assert (
        "Check each fingerprint against one obtained over a path you trust, not over this "
        "connection: the MMP has no documented command that shows its SSH host key, so ask "
        "whoever installed the node, or run `ssh-keyscan -p 2222 ADDRESS | ssh-keygen -lf -` "
        "on a machine of the node's own management network and compare the line of the same "
        "key type. If they match, run the import again with --trust-new-host-keys"
    ) in message


def test_a_changed_key_refuses_even_with_the_flag(tmp_path: Path) -> None:
    (tmp_path / "clusters").mkdir()
    pins = f"10.0.0.1 ssh-ed25519 {_key(9).base64}\n"
    (tmp_path / "clusters" / "known_hosts").write_text(pins)
    keys = {"10.0.0.1": _key(1)}
    trusting = ImportRequest(tmp_path, SETTINGS, ("10.0.0.1",), trust_new_host_keys=True)
    with pytest.raises(ImportRefused, match="is CHANGED") as caught:
        run_import(trusting, ENV, scan=scan_serving(keys))
    assert _key(9).fingerprint in str(caught.value)
    assert (tmp_path / "clusters" / "known_hosts").read_text() == pins
