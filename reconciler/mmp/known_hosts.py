"""The OpenSSH ``known_hosts`` format, read line by line without paramiko.

Both ``validate`` (offline, in CI) and the transport (before it trusts a node) read the pinned
keys through this one parser, so a line that one of them refuses, the other refuses too.

A line is ``[@marker] hostnames key-type base64-key [comment]``; ``#`` starts a comment line.
Host names are comma-separated patterns (``*`` and ``?`` wildcards, ``!`` to negate,
``[host]:port`` for a port other than 22) or one hashed name ``|1|salt|hash``.

- ``@revoked``: the key must never be accepted. It is honoured for every host, whatever the
  line's host names say, and before any pin: a revoked key is refused even if another line
  pins it.
- ``@cert-authority``: host certificates are not supported; such a line is a problem to fix
  (pin each node's own host key instead), never silently skipped.

Anything else that is not a well-formed pin (bad base64, unknown key type, missing fields,
key data that does not match its type) is a problem naming its line: the file is not used
until it is fixed, because a mangled line might be a pin or a revocation someone relies on.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass
from enum import StrEnum

LINE_FORMAT = "'[@marker] hostnames key-type base64-key [comment]'"
ECDSA_CURVES = {
    "ecdsa-sha2-nistp256": "nistp256",
    "ecdsa-sha2-nistp384": "nistp384",
    "ecdsa-sha2-nistp521": "nistp521",
}
KEY_TYPES: tuple[str, ...] = ("ssh-ed25519", *ECDSA_CURVES, "ssh-rsa")
"""Host key types that can be pinned (the ones the SSH client can verify)."""

_ED25519_LENGTH = 32
_SHA1_LENGTH = 20


class Marker(StrEnum):
    REVOKED = "@revoked"
    CERT_AUTHORITY = "@cert-authority"


@dataclass(frozen=True)
class HostKeyLine:
    """One well-formed line: a pin (no marker) or a revocation."""

    number: int
    marker: Marker | None
    hosts: tuple[str, ...]
    key_type: str
    blob: bytes
    """The decoded public key (SSH wire format), as a server presents it."""

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.blob)

    def matches(self, name: str) -> bool:
        """Whether the line is about ``name`` (``host`` or ``[host]:port``), as OpenSSH matches."""
        name = name.lower()
        if len(self.hosts) == 1 and self.hosts[0].startswith("|"):
            return _hashed_match(self.hosts[0], name)
        positive = False
        for pattern in self.hosts:
            negated = pattern.startswith("!")
            if _glob(pattern[1:] if negated else pattern).fullmatch(name):
                if negated:
                    return False
                positive = True
        return positive


@dataclass(frozen=True)
class Problem:
    """A line that is not a usable pin or revocation, and why."""

    number: int
    message: str

    def describe(self, origin: str) -> str:
        return f"{origin} line {self.number}: {self.message}"


@dataclass(frozen=True)
class KnownHostsFile:
    """Every line of a known_hosts file: the usable ones and the problems."""

    lines: tuple[HostKeyLine, ...]
    problems: tuple[Problem, ...]

    def pins(self, name: str) -> list[HostKeyLine]:
        """Lines without a marker whose host names match ``name``."""
        return [line for line in self.lines if line.marker is None and line.matches(name)]

    def revocation(self, blob: bytes) -> HostKeyLine | None:
        """The ``@revoked`` line for this key, whatever host it names; None if not revoked."""
        return next(
            (line for line in self.lines if line.marker is Marker.REVOKED and line.blob == blob),
            None,
        )


def host_key_name(host: str, port: int) -> str:
    """How OpenSSH names a host in known_hosts: ``host`` on port 22, else ``[host]:port``."""
    return host if port == 22 else f"[{host}]:{port}"


def fingerprint_source(port: int | str = "PORT", host: str = "ADDRESS") -> str:
    """Where to get a node's host key fingerprint to compare with the one offered, said as
    far as it is known: the MMP reference documents no command that prints the host key, so
    what remains is whoever installed the node, or a scan over a path one trusts (the node's
    own management network, not the path being checked)."""
    return (
        "the MMP has no documented command that shows its SSH host key, so ask whoever "
        f"installed the node, or run `ssh-keyscan -p {port} {host} | ssh-keygen -lf -` on a "
        "machine of the node's own management network and compare the line of the same key type"
    )


def fingerprint(blob: bytes) -> str:
    """OpenSSH-style ``SHA256:...`` fingerprint of a public key, as ``ssh-keygen -l`` prints."""
    digest = hashlib.sha256(blob).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def parse_known_hosts(text: str) -> KnownHostsFile:
    """Every line of ``text``; comments and blank lines are skipped, nothing else is."""
    lines: list[HostKeyLine] = []
    problems: list[Problem] = []
    # Lines end at \n only, as OpenSSH reads them: str.splitlines() would also split at
    # U+2028 and friends, turning the rest of a comment into a pin nobody sees.
    for number, raw in enumerate(text.split("\n"), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            line = _parse_line(number, stripped.split())
        except _LineError as error:
            problems.append(Problem(number, str(error)))
            continue
        if line.marker is Marker.CERT_AUTHORITY:
            problems.append(
                Problem(
                    number,
                    "@cert-authority lines are not supported (host certificates are not "
                    "checked); pin each node's own host key instead (ssh-keyscan -p PORT HOST)",
                )
            )
            continue
        lines.append(line)
    return KnownHostsFile(tuple(lines), tuple(problems))


class _LineError(ValueError):
    pass


def _parse_line(number: int, fields: list[str]) -> HostKeyLine:
    marker: Marker | None = None
    if fields[0].startswith("@"):
        try:
            marker = Marker(fields[0])
        except ValueError:
            raise _LineError(
                f"unknown marker {fields[0]!r}; known_hosts knows @revoked and @cert-authority"
            ) from None
        fields = fields[1:]
    if len(fields) < 3:
        raise _LineError(f"missing fields: a line is {LINE_FORMAT}")
    hosts_field, key_type, key_text = fields[:3]
    hosts = _hosts(hosts_field)
    _check_key_type(key_type)
    try:
        blob = base64.b64decode(key_text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise _LineError(f"the {key_type} key is not valid base64 ({error})") from None
    _check_blob(key_type, blob)
    return HostKeyLine(number, marker, hosts, key_type, blob)


def _hosts(field: str) -> tuple[str, ...]:
    if field.startswith("|"):
        if not _hashed_name_ok(field):
            raise _LineError(
                f"hashed host name {field!r} is malformed; ssh-keygen -H writes '|1|salt|hash' "
                "(both base64, 20 bytes each)"
            )
        return (field,)
    hosts = tuple(field.split(","))
    if any(not host or host == "!" for host in hosts):
        raise _LineError(f"empty host name in {field!r}")
    return hosts


def _check_key_type(key_type: str) -> None:
    if key_type in KEY_TYPES:
        return
    if key_type.endswith("-cert-v01@openssh.com"):
        reason = "is a certificate type; known_hosts pins plain host keys"
    elif key_type == "ssh-dss":
        reason = "(DSA) is no longer supported by the SSH client"
    elif key_type.isdigit():
        reason = "looks like an SSH protocol 1 key, which is not supported"
    else:
        reason = "is unknown"
    raise _LineError(f"key type {key_type!r} {reason}; pin one of: {', '.join(KEY_TYPES)}")


def _check_blob(key_type: str, blob: bytes) -> None:
    """The decoded key must be a whole public key of the type the line names."""
    try:
        parts = _ssh_strings(blob)
    except ValueError:
        raise _LineError(
            f"the key data is not an SSH public key (truncated or not a {key_type} key)"
        ) from None
    named = parts[0].decode("ascii", "replace") if parts else ""
    if named != key_type:
        raise _LineError(f"the line says {key_type} but the key data is a {named or '?'} key")
    if key_type == "ssh-ed25519":
        well_formed = len(parts) == 2 and len(parts[1]) == _ED25519_LENGTH
    elif key_type == "ssh-rsa":
        well_formed = len(parts) == 3 and all(parts[1:])
    else:
        well_formed = len(parts) == 3 and parts[1] == ECDSA_CURVES[key_type].encode()
    if not well_formed:
        raise _LineError(f"the key data is not a well-formed {key_type} public key")


def _ssh_strings(blob: bytes) -> list[bytes]:
    """Split SSH wire-format length-prefixed strings; ValueError unless they fill ``blob``."""
    parts: list[bytes] = []
    offset = 0
    while offset < len(blob):
        if offset + 4 > len(blob):
            raise ValueError("truncated length")
        (length,) = struct.unpack(">I", blob[offset : offset + 4])
        offset += 4
        if offset + length > len(blob):
            raise ValueError("truncated string")
        parts.append(blob[offset : offset + length])
        offset += length
    if not parts:
        raise ValueError("empty")
    return parts


def _hashed_parts(field: str) -> tuple[bytes, bytes] | None:
    pieces = field.split("|")
    if len(pieces) != 4 or pieces[0] != "" or pieces[1] != "1":
        return None
    try:
        salt = base64.b64decode(pieces[2], validate=True)
        digest = base64.b64decode(pieces[3], validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(salt) != _SHA1_LENGTH or len(digest) != _SHA1_LENGTH:
        return None
    return salt, digest


def _hashed_name_ok(field: str) -> bool:
    return _hashed_parts(field) is not None


def _hashed_match(field: str, name: str) -> bool:
    parts = _hashed_parts(field)
    if parts is None:
        return False
    salt, expected = parts
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(digest, expected)


def _glob(pattern: str) -> re.Pattern[str]:
    """OpenSSH host patterns: ``*`` and ``?`` are wildcards, everything else is literal."""
    translated = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.compile(translated, re.IGNORECASE | re.DOTALL)
