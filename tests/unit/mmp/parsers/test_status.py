"""``database cluster status``: what is tolerated, and every fail-closed case."""

from __future__ import annotations

import re

import pytest

from reconciler.errors import StatusParseError
from reconciler.mmp.models import CertFileRef, MemberRole, Wording
from reconciler.mmp.parsers import parse_cluster_status

BASE = """\
Status                   : Enabled

Nodes:
    10.0.0.1             : Connected Primary
    10.0.0.2 (me)        : Connected Replica ( In Sync )
Node in use              : 10.0.0.1

Interface                : a

Certificates
  Server Key             : s.key
  Server Certificate     : s.cer
  Client Key             : c.key
  Client Certificate     : c.cer
  CA Certificate         : ca.cer

Last command             : 'database cluster join 10.0.0.1' (Success)
"""


def _replace(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new, 1)


def test_base_sample() -> None:
    status = parse_cluster_status(BASE)
    assert status.state == "Enabled"
    assert status.role == "replica"
    assert status.in_sync is True
    assert status.master_address == "10.0.0.1"
    assert status.wording is Wording.PRIMARY_REPLICA
    assert status.me is not None
    assert status.me.address == "10.0.0.2"


# --- tolerated variations -------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "Status: Enabled",
        "Status : Enabled",
        "Status:Enabled",
        "  Status                                  :     Enabled",
        "Status\t: Enabled",
    ],
)
def test_label_padding(line: str) -> None:
    status = parse_cluster_status(_replace("Status                   : Enabled", line))
    assert status.state == "Enabled"


def test_no_padding_anywhere() -> None:
    text = "\n".join(
        [
            "Status: Enabled",
            "Nodes:",
            "10.0.0.1: Connected Master",
            "fd00::2 (me): Connected Slave ( In Sync )",
            "2001:db8::: Disconnected",
            "Node in use: 10.0.0.1",
            "Interface: a",
            "Certificates",
            "Server Key: s.key",
            "Server Certificate: s.cer (expired)",
            "Client Key: c.key",
            "Client Certificate: c.cer",
            "CA Certificate: ca.cer",
            "Last command: 'database cluster initialize' (Success)",
        ]
    )
    status = parse_cluster_status(text)
    assert [m.address for m in status.members] == ["10.0.0.1", "fd00::2", "2001:db8::"]
    assert status.role == "replica"
    assert status.certificates.server_cert == CertFileRef(file="s.cer", expired=True)


@pytest.mark.parametrize(
    ("line", "address", "me", "role", "in_sync"),
    [
        ("  fd00::1 (me)  : Connected Master", "fd00::1", True, MemberRole.MASTER, None),
        ("  2001:db8::  : Disconnected", "2001:db8::", False, None, None),
        ("  ::1 : Connected Slave", "::1", False, MemberRole.REPLICA, False),
        (
            "  fe80::1%eth0 (me) : Connected Slave ( In Sync )",
            "fe80::1%eth0",
            True,
            MemberRole.REPLICA,
            True,
        ),
        ("  10.0.0.9(me): Connected Slave (In Sync)", "10.0.0.9", True, MemberRole.REPLICA, True),
        ("  ::ffff:10.0.0.9 : Disconnected", "::ffff:10.0.0.9", False, None, None),
    ],
)
def test_member_lines(
    line: str, address: str, me: bool, role: MemberRole | None, in_sync: bool | None
) -> None:
    text = f"Status : Enabled\nNodes:\n{line}\n"
    (member,) = parse_cluster_status(text).members
    assert (member.address, member.me, member.role, member.in_sync) == (address, me, role, in_sync)
    assert member.connected is (role is not None)


def test_crlf_blank_lines_and_prompts() -> None:
    text = (
        "\r\n\r\ncms2> database cluster status\r\n"
        + BASE.replace("\n", "\r\n")
        + "\r\ncms2>\r\ncms2> "
    )
    assert parse_cluster_status(text) == parse_cluster_status(BASE)


def test_bare_cr_line_endings() -> None:
    assert parse_cluster_status(BASE.replace("\n", "\r")) == parse_cluster_status(BASE)


def test_whitespace_only_lines_are_blank() -> None:
    assert parse_cluster_status(BASE.replace("\n\n", "\n   \n")) == parse_cluster_status(BASE)


def test_output_before_the_echo_belongs_to_an_earlier_command() -> None:
    text = "Usage:\n  backup list\ncms1> database cluster status\n" + BASE
    assert parse_cluster_status(text) == parse_cluster_status(BASE)


@pytest.mark.parametrize(
    ("value", "state", "transitional", "seconds"),
    [
        ("Enabled", "Enabled", False, None),
        ("Disabled", "Disabled", False, None),
        ("Error", "Error", False, None),
        ("Disabling (Started 19 seconds ago)", "Disabling", True, 19),
        ("Disabling (Started 1 second ago)", "Disabling", True, 1),
        ("Enabling (Started 3 seconds ago)", "Enabling", True, 3),
        ("Initializing (Started 2 minutes ago)", "Initializing", True, 120),
        ("Joining (in progress)", "Joining", True, None),
        ("Joining", "Joining", True, None),
        ("Upgrading", "Upgrading", True, None),
        ("enabled", "Enabled", False, None),
    ],
)
def test_status_values(value: str, state: str, transitional: bool, seconds: int | None) -> None:
    status = parse_cluster_status(_replace("Enabled\n", value + "\n"))
    assert status.state == state
    assert status.status_text == value
    assert status.transitional is transitional
    assert status.started_seconds_ago == seconds


@pytest.mark.parametrize(
    "label",
    ["Server Key", "Server Certificate", "Client Key", "Client Certificate", "CA Certificate"],
)
@pytest.mark.parametrize(
    ("suffix", "expired", "not_yet_valid"),
    [
        (" (expired)", True, False),
        (" (not yet valid)", False, True),
        (" ( Not Yet Valid )", False, True),
        (" (expired) (not yet valid)", True, True),
        ("", False, False),
    ],
)
def test_certificate_markers_on_any_line(
    label: str, suffix: str, expired: bool, not_yet_valid: bool
) -> None:
    old = next(line for line in BASE.splitlines() if line.strip().startswith(label + " "))
    status = parse_cluster_status(_replace(old, old + suffix))
    refs = status.certificates.model_dump()
    marked = [k for k, v in refs.items() if v["expired"] or v["not_yet_valid"]]
    assert len(marked) == (1 if suffix else 0)
    for ref in refs.values():
        if ref["expired"] or ref["not_yet_valid"]:
            assert (ref["expired"], ref["not_yet_valid"]) == (expired, not_yet_valid)


@pytest.mark.parametrize("value", ["", "None"])
def test_empty_certificate_line_is_none(value: str) -> None:
    text = _replace("  CA Certificate         : ca.cer", f"  CA Certificate         : {value}")
    assert parse_cluster_status(text).certificates.ca_cert is None


def test_absent_certificate_lines_are_none() -> None:
    status = parse_cluster_status("Status : Disabled\nNode in use : None\nCertificates\n")
    assert status.certificates.model_dump() == dict.fromkeys(
        ["server_key", "server_cert", "client_key", "client_cert", "ca_cert"]
    )
    assert status.role == "none"
    assert status.master_address is None


@pytest.mark.parametrize("line", ["ERROR : Couldn't upgrade", "ERROR: Couldn't upgrade"])
def test_error_line(line: str) -> None:
    status = parse_cluster_status(line + "\n" + _replace("Enabled", "Error"))
    assert status.error == "Couldn't upgrade"
    assert status.state == "Error"


def test_master_address_falls_back_to_node_in_use_only_without_members() -> None:
    status = parse_cluster_status("Status : Enabled\nNode in use : 10.0.0.5\n")
    assert status.master_address == "10.0.0.5"
    minority = parse_cluster_status(
        "Status : Enabled\nNodes:\n10.0.0.5 (me) : Connected Replica\n"
        "10.0.0.6 : Disconnected\nNode in use : 10.0.0.5\n"
    )
    assert minority.master_address is None
    assert minority.role == "replica"
    assert minority.in_sync is False


def test_disconnected_me_has_no_role() -> None:
    status = parse_cluster_status("Status : Enabled\nNodes:\n10.0.0.5 (me) : Disconnected\n")
    assert status.role == "none"
    assert status.wording is None


# --- fail closed ----------------------------------------------------------------------------


def _refused(text: str, quoted: str) -> StatusParseError:
    with pytest.raises(StatusParseError) as caught:
        parse_cluster_status(text)
    error = caught.value
    assert error.line == quoted
    assert repr(quoted) in str(error)
    assert error.line_number is not None
    assert text.replace("\r\n", "\n").split("\n")[error.line_number - 1].rstrip() == quoted
    return error


@pytest.mark.parametrize("text", ["", "\n\n", "cms1> database cluster status\n\ncms1> ", "cms1>"])
def test_empty_output(text: str) -> None:
    with pytest.raises(StatusParseError, match="empty output"):
        parse_cluster_status(text)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        # unknown lines
        ("Interface                : a", "Foo : bar", "not understood"),
        (
            "Interface                : a",
            "Interface                : a\nFoo : bar",
            "not understood",
        ),
        ("\nNodes:", "\nSomething odd", "not understood"),
        ("Last command", "Last Command", "not understood"),
        # members
        (
            "Connected Replica ( In Sync )",
            "Connected Replica ( Out Of Sync )",
            "member state not understood",
        ),
        ("Connected Primary", "Connected Leader", "member state not understood"),
        ("Connected Primary", "Unreachable", "member state not understood"),
        ("Connected Primary", "connected primary", "member state not understood"),
        ("Connected Primary", "Connected Primary ( In Sync )", "In Sync marker on a master"),
        ("    10.0.0.1    ", "    cms1.example.com", "does not start with an address"),
        ("    10.0.0.1    ", "    Foo         ", "does not start with an address"),
        ("    10.0.0.1    ", "    10.0.0.256  ", "does not start with an address"),
        (
            "    10.0.0.1             : ",
            "    10.0.0.1 (you)       : ",
            "does not start with an addr",
        ),
        ("    10.0.0.1             : ", "    10.0.0.1 ", "is not '<address> : <state>'"),
        ("10.0.0.1 ", "10.0.0.3 (me) ", "second (me) member"),
        (
            "10.0.0.2 (me)        : Connected Replica ( In Sync )",
            "10.0.0.2 (me)        : Connected Primary",
            "second master",
        ),
        ("10.0.0.2 (me) ", "10.0.0.1 (me) ", "address listed twice"),
        ("Connected Replica ( In Sync )", "Connected Slave ( In Sync )", "wording mixed"),
        # duplicated or malformed fields
        ("Interface                : a", "Status : Enabled", "second 'Status' line"),
        ("Interface                : a", "Interface : a\nInterface : b", "second 'Interface' line"),
        ("\nCertificates", "\nCertificates\nCertificates", "second Certificates section"),
        ("\nNodes:", "\nNodes:\nNodes:", "second Nodes section"),
        ("  CA Certificate", "  Server Key : x.key\n  CA Certificate", "second 'Server Key' line"),
        (
            "Status                   : Enabled",
            "Status : Enabled Nodes:",
            "Status value not understood",
        ),
        ("Status                   : Enabled", "Status : ", "Status value not understood"),
        ("Status                   : Enabled", "Status : Enabled (weird)", "Status detail"),
        (
            "Status                   : Enabled",
            "Status : Enabled now",
            "Status value not understood",
        ),
        ("Node in use              : 10.0.0.1", "Node in use : somewhere", "neither None nor"),
        ("Node in use              : 10.0.0.1", "Node in use : ", "neither None nor"),
        ("Interface                : a", "Interface : a b", "not a single word"),
        ("(Success)", "(Succeeded)", "neither Success nor Failed"),
        ("(Success)", "(In progress)", "neither Success nor Failed"),
        ("(Success)", "(success)", "neither Success nor Failed"),
        ("'database cluster join 10.0.0.1' (Success)", "database cluster join", "Last command"),
        ("ca.cer", "ca.cer (revoked)", "marker (revoked)"),
        ("ca.cer", "ca.cer (expired) (expired)", "marker (expired)"),
        ("ca.cer", "my ca.cer", "certificate value not understood"),
    ],
)
def test_refused(old: str, new: str, message: str) -> None:
    text = _replace(old, new)
    with pytest.raises(StatusParseError, match=re.escape(message)) as caught:
        parse_cluster_status(text)
    error = caught.value
    assert error.line is not None
    assert error.line_number is not None
    assert repr(error.line) in str(error)
    assert text.split("\n")[error.line_number - 1].rstrip() == error.line


def test_unknown_line_quoted_with_number() -> None:
    text = _replace("Interface                : a", "Foo : bar")
    error = _refused(text, "Foo : bar")
    assert error.line_number == 8


def test_duplicated_me_quotes_the_second() -> None:
    text = _replace("10.0.0.1             :", "10.0.0.1 (me)        :")
    _refused(text, "    10.0.0.2 (me)        : Connected Replica ( In Sync )")


def test_second_status_line_quoted() -> None:
    text = BASE + "Status : Disabled\n"
    _refused(text, "Status : Disabled")


def test_bad_last_command_quoted() -> None:
    text = _replace("(Success)", "(Pending)")
    _refused(text, "Last command             : 'database cluster join 10.0.0.1' (Pending)")


def test_mixed_wording_quotes_the_line() -> None:
    text = "Status : Enabled\nNodes:\n10.0.0.1 : Connected Master\n10.0.0.2 : Connected Replica\n"
    _refused(text, "10.0.0.2 : Connected Replica")


def test_member_line_outside_nodes_section() -> None:
    _refused(BASE + "10.0.0.3 : Connected Replica\n", "10.0.0.3 : Connected Replica")


def test_certificate_line_outside_certificates_section() -> None:
    text = "Status : Disabled\nServer Key : s.key\n"
    error = _refused(text, "Server Key : s.key")
    assert "outside the Certificates section" in str(error)


def test_neither_status_nor_nodes() -> None:
    _refused("Node in use : None\nInterface : a\n", "Node in use : None")


def test_error_only_output_is_not_a_status() -> None:
    _refused("ERROR: command not found\n", "ERROR: command not found")


def test_empty_error_line() -> None:
    _refused("ERROR :\nStatus : Error\n", "ERROR :")


def test_output_of_another_command_is_refused() -> None:
    text = "cms1> database cluster remove\n" + BASE
    _refused(text, "cms1> database cluster remove")


def test_two_echoed_commands_are_refused() -> None:
    text = "cms1> database cluster status\n" + BASE + "cms1> database cluster status\n" + BASE
    _refused(text, "cms1> database cluster status")


def test_usage_output_is_refused() -> None:
    _refused("Usage:\n  database cluster status\n", "Usage:")
