"""Which lines the parsers do not recognise: every one, with its number, and nothing else."""

from __future__ import annotations

import pytest

from reconciler.mmp.parsers.recognise import unrecognised_lines

STATUS = """\
Status                : Enabled

Nodes:
  10.0.0.1 (me)       : Connected Master
  10.0.0.2            : Connected Slave ( In Sync )
Node in use           : 10.0.0.1

Interface              : a

Certificates
  Server Key           : server.key
  Server Certificate   : server.cer
  Client Key           : client.key
  Client Certificate   : client.cer
  CA Certificate       : ca.cer
"""

INSPECT = """\
Checking ssh public keys...not found
Checking user configured certificates and keys...found
File contains a PEM encoded certificate
Certificate:
  Data:
    Version: 3 (0x2)
    Serial Number:
      64:d5:33:4d
    Signature Algorithm: sha256WithRSAEncryption
    Issuer: CN=CA
    Validity:
      Not Before: Mar  9 08:47:17 2015 GMT
      Not After : Mar  9 08:57:17 2035 GMT
    Subject: CN=db
    Subject Public Key Info:
      Public Key Algorithm: rsaEncryption
      Public-Key: (2048 bit)
"""


def _insert(text: str, after: int, line: str) -> str:
    lines = text.split("\n")
    return "\n".join([*lines[:after], line, *lines[after:]])


@pytest.mark.parametrize(
    ("command", "output"),
    [
        ("database cluster status", STATUS),
        ("pki inspect server.cer", INSPECT),
        ("backup list", "a.bak\nb.bak\n"),
        ("backup list", "No backups\n"),
        ("backup list", "There are no backups on this node\n"),
    ],
)
def test_a_known_output_has_no_unrecognised_line(command: str, output: str) -> None:
    assert unrecognised_lines(command, output) == []


def test_every_unknown_status_line_is_named_with_its_number() -> None:
    output = _insert(_insert(STATUS, 1, "Cluster mode          : enhanced"), 9, "Hello there")
    found = unrecognised_lines("database cluster status", output)
    assert [(f.line.number, f.line.text) for f in found if f.line] == [
        (2, "Cluster mode          : enhanced"),
        (10, "Hello there"),
    ]
    assert all(f.command == "database cluster status" for f in found)
    assert "line not understood" in found[0].reason
    assert "'Cluster mode" in found[0].describe()
    assert "line 2" in found[0].describe()


def test_an_unknown_member_state_is_named() -> None:
    output = STATUS.replace("Connected Slave ( In Sync )", "Connected Witness")
    [found] = unrecognised_lines("database cluster status", output)
    assert found.line is not None
    assert "Connected Witness" in found.line.text


def test_an_extra_line_before_the_certificate_dump_is_named() -> None:
    output = _insert(INSPECT, 2, "SUCCESS: File found")
    [found] = unrecognised_lines("pki inspect server.cer", output)
    assert found.line is not None
    assert (found.line.number, found.line.text) == (
        3,
        "SUCCESS: File found",
    )


def test_a_dump_missing_a_field_is_a_problem_of_the_whole_output() -> None:
    output = "\n".join(line for line in INSPECT.split("\n") if "Issuer" not in line)
    [found] = unrecognised_lines("pki inspect server.cer", output)
    assert found.line is None
    assert "lacks issuer" in found.reason


def test_a_backup_list_line_naming_no_backup_beside_a_listing_is_named() -> None:
    found = unrecognised_lines("backup list", "Backups:\na.bak\n")
    assert [(f.line.number, f.line.text) for f in found if f.line] == [(1, "Backups:")]


def test_a_refused_backup_list_is_named() -> None:
    [found] = unrecognised_lines("backup list", "ERROR: not allowed\n")
    assert found.line is None
    assert "refused" in found.reason


def test_a_command_no_parser_knows_is_refused() -> None:
    with pytest.raises(ValueError, match="no parser"):
        unrecognised_lines("database cluster remove", "")


def test_an_unknown_last_command_result_is_named_with_its_line() -> None:
    """The parser says "neither Success nor Failed" of the line itself: the line is at
    fault, not something absent, so it is named (and a wait quotes it)."""
    output = STATUS.replace(
        "CA Certificate       : ca.cer\n",
        "CA Certificate       : ca.cer\n"
        "Last command         : 'database cluster join 10.0.0.1' (Succeeded)\n",
    )
    [found] = unrecognised_lines("database cluster status", output)
    assert found.line is not None
    assert "(Succeeded)" in found.line.text
