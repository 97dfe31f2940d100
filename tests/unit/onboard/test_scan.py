"""`scan_host_key`: the key exchange only, against a real SSH server and a stalled peer."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import TransportError
from reconciler.mmp.transport import Endpoint, TransportTimeouts, scan_host_key
from tests.support.lab import make_lab
from tests.support.stalled_ssh import OPENSSH_BANNER, StalledSSHServer


def test_the_key_offered_and_no_login(tmp_path: Path) -> None:
    with make_lab(tmp_path) as lab:
        host, port = lab.server("cms2").address
        key = scan_host_key(Endpoint("cms2", host, port, "admin"))
        (setup,) = [s for s in lab.setups if s.name == "cms2"]
        assert key.key_type == "ssh-ed25519"
        assert key.base64 == setup.host_key.get_base64()
        assert key.blob == setup.host_key.asbytes()
        assert key.fingerprint.startswith("SHA256:")
        assert lab.snapshot()["nodes"][1]["log"] == []  # no login, no command


@pytest.mark.parametrize("close", [False, True])
def test_a_peer_that_never_completes_the_handshake(close: bool) -> None:
    with (
        StalledSSHServer(OPENSSH_BANNER, close=close, lifetime=10) as peer,
        pytest.raises(TransportError, match="handshake"),
    ):
        scan_host_key(
            Endpoint("n1", peer.host, peer.port, "admin"), timeouts=TransportTimeouts(0.5)
        )


def test_nothing_listening() -> None:
    with StalledSSHServer(b"", close=True, lifetime=1) as peer:
        port = peer.port
    with pytest.raises(TransportError, match="cannot connect"):
        scan_host_key(Endpoint("n1", "127.0.0.1", port, "admin"), timeouts=TransportTimeouts(1))
