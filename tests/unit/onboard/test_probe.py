"""``reconcile probe``'s pure parts: the bundle (written, read back, replayed through the
parsers), the anonymiser, the exit code, and the commands it sends (read-only)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.errors import TransportError
from reconciler.mmp.parsers import parse_cluster_status, parse_pki_inspect
from reconciler.mmp.session import CommandResult, Redactor
from reconciler.onboard.probe import (
    EXIT_KNOWN,
    EXIT_UNKNOWN,
    EXIT_UNREACHABLE,
    PROBE_COMMANDS,
    Exchange,
    NodeProbe,
    ProbeReport,
    anonymiser,
    bundle_findings,
    load_bundle,
    probe_node,
    render_bundle,
    report_json,
    report_lines,
)

FIXTURE = Path(__file__).resolve().parents[2] / "support" / "probe_bundles" / "lab-anonymised.txt"
"""A bundle ``reconcile probe --anonymise`` wrote against the simulated lab."""


def test_the_recorded_bundle_replays_through_the_parsers() -> None:
    bundle = load_bundle(FIXTURE.read_text())
    assert bundle.cluster == "lab"
    assert bundle.anonymised
    assert [node.name for node in bundle.nodes] == ["node1", "node2", "node3"]
    for node in bundle.nodes:
        [status] = node.outputs("database cluster status")
        parsed = parse_cluster_status(status)
        assert {member.address for member in parsed.members} <= {
            "192.0.2.1",
            "192.0.2.2",
            "192.0.2.3",
        }
        inspected = [e for e in node.exchanges if e.request.startswith("pki inspect ")]
        assert len(inspected) == 5
        for exchange in inspected:
            parse_pki_inspect(exchange.output)
    assert bundle_findings(bundle) == {"node1": [], "node2": [], "node3": []}


def test_a_line_added_to_the_recorded_bundle_is_found_on_replay() -> None:
    text = FIXTURE.read_text().replace(
        "| Status                : Enabled",
        "| Status                : Enabled\n| Cluster mode          : enhanced",
        1,
    )
    findings = bundle_findings(load_bundle(text))
    [found] = findings["node1"]
    assert found.command == "database cluster status"
    assert found.line is not None
    assert found.line.text == "Cluster mode          : enhanced"
    assert findings["node2"] == []


class FakeSession:
    def __init__(self, outputs: dict[str, str], fail_on: str | None = None) -> None:
        self.outputs = outputs
        self.sent: list[str] = []
        self.fail_on = fail_on

    def run(self, command: str, timeout: float | None = None) -> CommandResult:
        self.sent.append(command)
        if command == self.fail_on:
            raise TransportError("cms1", "connection refused")
        return CommandResult("cms1", command, self.outputs[command], False, 0.0)

    def file_size(self, name: str) -> int | None:
        return 10 if name != "gone.cer" else None

    def list_files(self) -> list[str] | None:
        return ["a.cer"]


def _outputs() -> dict[str, str]:
    bundle = load_bundle(FIXTURE.read_text())
    node = bundle.node("node1")
    return {e.request: e.output for e in node.exchanges}


def test_a_node_is_read_with_read_only_commands_only() -> None:
    session = FakeSession(_outputs())
    node = probe_node("cms1", "10.0.0.1", session)
    assert node.matches
    assert session.sent[0] == "database cluster status"
    assert all(
        any(command.startswith(allowed) for allowed in PROBE_COMMANDS) for command in session.sent
    )
    assert [e.request for e in node.exchanges][-6:] == [
        "sftp list",
        "sftp stat dbclusterserver.key",
        "sftp stat dbclusterserver.cer",
        "sftp stat dbclusterclient.key",
        "sftp stat EXPRSVR.cer",
        "sftp stat CA.cer",
    ]


def test_a_node_not_read_makes_the_exit_code_1() -> None:
    outputs = _outputs()
    down = probe_node("cms2", "10.0.0.2", FakeSession(outputs, fail_on="database cluster status"))
    unknown = probe_node(
        "cms3",
        "10.0.0.3",
        FakeSession({**outputs, "backup list": "a.bak\nBackups are kept 7 days\n"}),
    )
    assert down.error is not None
    assert [f.line.text for f in unknown.findings if f.line] == ["Backups are kept 7 days"]
    now = datetime(2026, 12, 7, tzinfo=UTC)
    assert ProbeReport("lab", now, [unknown]).exit_code == EXIT_UNKNOWN
    assert ProbeReport("lab", now, [unknown, down]).exit_code == EXIT_UNREACHABLE
    assert ProbeReport("lab", now, []).exit_code == EXIT_KNOWN
    text = "\n".join(report_lines(ProbeReport("lab", now, [unknown, down])))
    assert "backup list: line 2 'Backups are kept 7 days'" in text
    assert "cms2 (10.0.0.2): not read" in text
    data = report_json(ProbeReport("lab", now, [unknown]))
    assert data["nodes"][0]["unrecognised"][0]["line"] == "Backups are kept 7 days"
    assert data["exit_code"] == EXIT_UNKNOWN


def test_the_bundle_is_redacted_and_round_trips() -> None:
    status = "Status : Disabled\n\nCertificates\n"
    node = NodeProbe("cms1", "10.0.0.1")
    node.exchanges = [
        Exchange("database cluster status", status),
        Exchange(
            "pki inspect k.key",
            "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\nsecret-pw\n",
        ),
        Exchange("sftp list", "| odd.cer\n-- not a header\n"),
    ]
    report = ProbeReport("lab", datetime(2026, 12, 7, tzinfo=UTC), [node])
    text = render_bundle(report, Redactor(["secret-pw"]))
    assert "MIIE" not in text
    assert "secret-pw" not in text
    bundle = load_bundle(text)
    exchanges = bundle.node("cms1").exchanges
    assert exchanges[0] == Exchange("database cluster status", status)
    assert exchanges[2].output == "| odd.cer\n-- not a header\n"


def test_anonymising_replaces_names_and_addresses_consistently() -> None:
    node = NodeProbe("cms1", "10.0.0.1")
    node.exchanges = [
        Exchange(
            "database cluster status",
            "Status : Enabled\nNodes:\n  10.0.0.1 (me) : Connected Master\n"
            "  10.0.0.10 : Connected Slave\n  2001:db8:1::5 : Disconnected\n",
        ),
        Exchange("backup list", "cms1-2026.bak\ncms10.bak\n"),
    ]
    known = [("cms1", "10.0.0.1"), ("cms2", "10.0.0.2")]
    replace = anonymiser(known, [node])
    assert replace.apply("10.0.0.1 and 10.0.0.10 and 10.0.0.1.") == (
        "192.0.2.1 and 192.0.2.3 and 192.0.2.1."
    )
    assert replace.apply("2001:db8:1::5 : x") == "2001:db8::4 : x"
    assert replace.apply("cms1-2026.bak cms10.bak cms1") == "node1-2026.bak cms10.bak node1"
    report = ProbeReport("lab", datetime(2026, 12, 7, tzinfo=UTC), [node])
    text = render_bundle(report, Redactor(), replace)
    assert "10.0.0." not in text
    assert "== node node1 192.0.2.1" in text


def test_something_else_is_not_a_bundle() -> None:
    with pytest.raises(ValueError, match="not a cms-reconciler probe bundle"):
        load_bundle("hello\n")
    with pytest.raises(ValueError, match="line 2"):
        load_bundle("# cms-reconciler probe bundle v1\nstray\n")
