"""known_hosts read line by line: markers, hashed names, patterns, and every broken line named."""

from __future__ import annotations

import base64
import hashlib
import hmac

import paramiko
import pytest

from reconciler.errors import ConfigError, HostKeyRejected
from reconciler.mmp.known_hosts import (
    KEY_TYPES,
    Marker,
    fingerprint,
    host_key_name,
    parse_known_hosts,
)
from reconciler.mmp.transport import KnownHosts
from reconciler.simulator.ssh_server import generate_ed25519_key

ORIGIN = "clusters/known_hosts"
NODE = "[10.0.0.1]:2222"
TRUNCATED = base64.b64encode(b"\0\0\0\x0bssh-ed2").decode()  # says 11 bytes, holds 7


def ssh_blob(*parts: bytes) -> str:
    """Base64 of SSH wire-format strings, as known_hosts holds a public key."""
    return base64.b64encode(b"".join(len(p).to_bytes(4, "big") + p for p in parts)).decode()


def pin(name: str, key: paramiko.PKey, marker: str = "") -> str:
    return f"{marker} {name} {key.get_name()} {key.get_base64()}".strip()


def hashed(name: str, salt: bytes = b"s" * 20) -> str:
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


@pytest.fixture(scope="module")
def key() -> paramiko.PKey:
    return generate_ed25519_key()


@pytest.fixture(scope="module")
def other_key() -> paramiko.PKey:
    return generate_ed25519_key()


# --- the format ---------------------------------------------------------------------------


def test_pins_comments_and_blank_lines(key: paramiko.PKey) -> None:
    text = f"# pinned by hand\n\n   \n{pin('10.0.0.1,cms1', key)} a comment\n"
    parsed = parse_known_hosts(text)
    assert parsed.problems == ()
    (line,) = parsed.lines
    assert (line.number, line.marker, line.hosts) == (4, None, ("10.0.0.1", "cms1"))
    assert line.blob == key.asbytes()
    assert line.fingerprint == fingerprint(key.asbytes())
    assert parsed.pins("10.0.0.1") == [line]
    assert parsed.pins("CMS1") == [line]  # host names are case-insensitive, as in OpenSSH
    assert parsed.pins("[10.0.0.1]:2222") == []


def test_port_names_and_wildcards(key: paramiko.PKey) -> None:
    parsed = parse_known_hosts(
        f"{pin('[10.0.0.1]:2222', key)}\n"
        f"{pin('10.0.1.*,!10.0.1.9', key)}\n"
        f"{pin('[10.0.2.?]:2222', key)}\n"
    )
    assert parsed.problems == ()
    assert host_key_name("10.0.0.1", 22) == "10.0.0.1"
    assert host_key_name("10.0.0.1", 2222) == NODE
    assert [line.number for line in parsed.pins(NODE)] == [1]
    assert [line.number for line in parsed.pins("10.0.1.5")] == [2]
    assert parsed.pins("10.0.1.9") == []  # negated
    assert [line.number for line in parsed.pins("[10.0.2.7]:2222")] == [3]
    assert parsed.pins("[10.0.2.17]:2222") == []
    assert parsed.pins("[10.0.0.1]:22222") == []  # '[' and ']' are literal, not a class


def test_hashed_names(key: paramiko.PKey) -> None:
    parsed = parse_known_hosts(f"{pin(hashed(NODE), key)}\n")
    assert parsed.problems == ()
    assert len(parsed.pins(NODE)) == 1
    assert parsed.pins("[10.0.0.2]:2222") == []
    assert parsed.pins("10.0.0.1") == []


def test_malformed_hashed_name_is_a_problem(key: paramiko.PKey) -> None:
    for name in ("|1|bm90LWJhc2U2NA|x", "|2|" + hashed(NODE)[3:], hashed(NODE, b"short")):
        (problem,) = parse_known_hosts(f"{pin(name, key)}\n").problems
        assert "hashed host name" in problem.message
        assert "malformed" in problem.message


def test_revoked_line_is_a_revocation_not_a_pin(
    key: paramiko.PKey, other_key: paramiko.PKey
) -> None:
    parsed = parse_known_hosts(f"{pin(NODE, key)}\n{pin('*', key, '@revoked')}\n")
    assert parsed.problems == ()
    assert [line.number for line in parsed.pins(NODE)] == [1]
    revocation = parsed.revocation(key.asbytes())
    assert revocation is not None
    assert (revocation.number, revocation.marker) == (2, Marker.REVOKED)
    assert parsed.revocation(other_key.asbytes()) is None


def test_cert_authority_is_refused_with_advice(key: paramiko.PKey) -> None:
    parsed = parse_known_hosts(f"# CA\n{pin('*.example.com', key, '@cert-authority')}\n")
    assert parsed.lines == ()
    (problem,) = parsed.problems
    assert problem.number == 2
    assert "@cert-authority lines are not supported" in problem.message
    assert "pin each node's own host key" in problem.message
    assert problem.describe(ORIGIN).startswith(f"{ORIGIN} line 2: @cert-authority")


def test_unknown_marker(key: paramiko.PKey) -> None:
    (problem,) = parse_known_hosts(pin(NODE, key, "@trusted") + "\n").problems
    assert "unknown marker '@trusted'" in problem.message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (f"{NODE} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITEST", "is not valid base64"),
        (f"{NODE} ssh-ed25519 not*base64!", "is not valid base64"),
        (f"{NODE} ssh-ed25519", "missing fields"),
        (NODE, "missing fields"),
        ("@revoked ssh-ed25519 AAAA", "missing fields"),
        (f"{NODE} ssh-foo {ssh_blob(b'ssh-foo', b'x')}", "key type 'ssh-foo' is unknown"),
        (f"{NODE} ssh-dss {ssh_blob(b'ssh-dss', b'p', b'q', b'g', b'y')}", "(DSA)"),
        (
            f"{NODE} ssh-ed25519-cert-v01@openssh.com {ssh_blob(b'x')}",
            "is a certificate type",
        ),
        (f"{NODE} 2048 35 12345", "SSH protocol 1"),
        (f"{NODE} ssh-rsa {ssh_blob(b'ssh-ed25519', b'k' * 32)}", "the key data is a ssh-ed25519"),
        (f"{NODE} ssh-ed25519 {ssh_blob(b'ssh-ed25519', b'k' * 31)}", "not a well-formed"),
        (f"{NODE} ssh-ed25519 {TRUNCATED}", "truncated"),
        (
            f"{NODE} ecdsa-sha2-nistp256 {ssh_blob(b'ecdsa-sha2-nistp256', b'nistp384', b'Q')}",
            "not a well-formed",
        ),
        ("a,,b ssh-ed25519 AAAA", "empty host name"),
    ],
)
def test_broken_lines_are_named(line: str, expected: str) -> None:
    parsed = parse_known_hosts(f"# header\n\n{line}\n")
    assert parsed.lines == ()
    (problem,) = parsed.problems
    assert problem.number == 3
    assert expected in problem.message


def test_every_broken_line_is_reported_and_good_ones_kept(key: paramiko.PKey) -> None:
    parsed = parse_known_hosts(
        f"{pin(NODE, key)}\n{NODE} ssh-ed25519 @@@\n{pin('*', key, '@cert-authority')}\n"
    )
    assert [line.number for line in parsed.lines] == [1]
    assert [problem.number for problem in parsed.problems] == [2, 3]


def test_rsa_and_ecdsa_keys_are_accepted() -> None:
    rsa = paramiko.RSAKey.generate(1024)
    ecdsa = paramiko.ECDSAKey.generate()
    parsed = parse_known_hosts(f"{pin(NODE, rsa)}\n{pin(NODE, ecdsa)}\n")
    assert parsed.problems == ()
    assert [line.key_type for line in parsed.lines] == ["ssh-rsa", "ecdsa-sha2-nistp256"]
    assert set(KEY_TYPES) >= {"ssh-rsa", "ecdsa-sha2-nistp256", "ssh-ed25519"}


# --- KnownHosts: what the transport trusts ------------------------------------------------


def test_a_file_with_any_broken_line_is_refused_whole(key: paramiko.PKey) -> None:
    text = f"{pin(NODE, key)}\n{NODE} ssh-ed25519 AAAA=x\n\n{pin('*', key, '@cert-authority')}\n"
    with pytest.raises(ConfigError) as raised:
        KnownHosts.parse(text, ORIGIN)
    message = str(raised.value)
    assert f"{ORIGIN} line 2: the ssh-ed25519 key is not valid base64" in message
    assert f"{ORIGIN} line 4: @cert-authority lines are not supported" in message


def test_a_key_paramiko_cannot_decode_is_refused_with_its_line() -> None:
    # Well-formed on the wire, but not a point on the curve.
    blob = ssh_blob(b"ecdsa-sha2-nistp256", b"nistp256", b"\x04" + b"\x01" * 64)
    with pytest.raises(ConfigError, match=rf"{ORIGIN} line 1: the ecdsa-sha2-nistp256 key"):
        KnownHosts.parse(f"{NODE} ecdsa-sha2-nistp256 {blob}\n", ORIGIN)


def test_pinned_key_is_accepted(key: paramiko.PKey) -> None:
    KnownHosts.parse(pin(NODE, key), ORIGIN).verify("cms1", NODE, key)


def test_revoked_key_is_refused_even_where_pinned(key: paramiko.PKey) -> None:
    known = KnownHosts.parse(
        f"{pin(NODE, key)}\n# revoked 2026-12\n{pin('*', key, '@revoked')}\n", ORIGIN
    )
    with pytest.raises(HostKeyRejected) as raised:
        known.verify("cms1", NODE, key)
    message = str(raised.value)
    assert message.startswith("cms1: host key REVOKED")
    assert f"{ORIGIN} line 3 marks @revoked" in message
    assert fingerprint(key.asbytes()) in message


def test_revocation_applies_whatever_host_the_line_names(key: paramiko.PKey) -> None:
    known = KnownHosts.parse(f"{pin(NODE, key)}\n{pin('other.example', key, '@revoked')}\n", ORIGIN)
    with pytest.raises(HostKeyRejected, match="REVOKED"):
        known.verify("cms1", NODE, key)


def test_unknown_and_changed_keys(key: paramiko.PKey, other_key: paramiko.PKey) -> None:
    known = KnownHosts.parse(pin(NODE, key), ORIGIN)
    with pytest.raises(HostKeyRejected, match=r"unknown host key .* for \[10.0.0.2\]:2222"):
        known.verify("cms2", "[10.0.0.2]:2222", other_key)
    with pytest.raises(HostKeyRejected) as raised:
        known.verify("cms1", NODE, other_key)
    assert "host key CHANGED" in str(raised.value)
    assert f"pins {fingerprint(key.asbytes())} (line 1)" in str(raised.value)


def test_pinned_types_are_asked_for_first(key: paramiko.PKey) -> None:
    rsa = paramiko.RSAKey.generate(1024)
    known = KnownHosts.parse(f"{pin(NODE, rsa)}\n{pin(NODE, key)}\n", ORIGIN)
    assert known.host_key_algorithms(NODE) == ["rsa-sha2-512", "rsa-sha2-256", "ssh-ed25519"]
    assert known.host_key_algorithms("[10.0.0.9]:2222") == []


def test_a_comment_is_one_line_even_with_unicode_line_separators(key: paramiko.PKey) -> None:
    """Review finding: str.splitlines() split at U+2028, so a pin hidden in a comment (which
    OpenSSH and a reviewer read as comment) became a real pin."""
    parsed = parse_known_hosts(f"# note\u2028{pin('10.0.0.1', key)}\n")
    assert parsed.lines == ()
    assert parsed.pins("10.0.0.1") == []
