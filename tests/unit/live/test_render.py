"""The status text fits 80 columns with every address and file name whole; the JSON."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from rich.console import Console

from reconciler.live.health import ClusterReport
from reconciler.live.models import LiveNode
from reconciler.live.render import print_status, status_json
from tests.unit.live.clusters import NOW, Node, ipv4_lab, ipv6_cluster, report


def render(reports: list[ClusterReport], **console_options: object) -> str:
    options: dict[str, object] = {"width": 80, "color_system": None}
    options.update(console_options)
    console = Console(file=io.StringIO(), record=True, **options)  # type: ignore[arg-type]
    print_status(reports, console)
    return console.export_text()


def _words(node: LiveNode) -> set[str]:
    """What must appear whole: the node's address, every address it names, every file."""
    words = {node.name, node.address}
    if node.status is not None:
        words |= {member.address for member in node.status.members}
        words.add(node.status.node_in_use or "None")
        words |= set(node.files)
    return words


def _assert_fits(text: str, reports: list[ClusterReport]) -> None:
    lines = text.splitlines()
    too_long = [line for line in lines if len(line) > 80]
    assert not too_long, too_long
    assert "…" not in text
    assert "..." not in text
    for cluster in reports:
        for node in cluster.live.nodes:
            for word in _words(node):
                # Whole, on one line, between spaces (not cut, not split across lines).
                assert any(word in line.split() for line in lines), word


def test_a_three_node_ipv4_cluster_fits_80_columns() -> None:
    reports = [report(ipv4_lab())]
    text = render(reports)
    _assert_fits(text, reports)
    assert text.count("expired  2017-03-09 (3555 days ago)") == 6
    assert text.count("ok       2035-03-09 (in 3018 days)") == 3
    assert text.splitlines()[-1] == "lab: 6 certificates expired"


def test_a_five_node_ipv6_cluster_fits_80_columns() -> None:
    reports = [report(ipv6_cluster(), name="london")]
    text = render(reports)
    _assert_fits(text, reports)
    lines = text.splitlines()
    # A file name too wide for its column keeps its line; its state goes under the column.
    index = lines.index("  CA cert       corporate-root-and-issuing-ca-2026.cer")
    assert lines[index + 1].strip() == "ok       2035-02-18 (in 3000 days)"
    # A last command too long for the line wraps between words, never inside the address.
    index = lines.index(
        "  last command  database cluster join 2001:0db8:0085:4c00:0000:0000:0000:0011"
    )
    assert lines[index + 1] == " " * 16 + "(Success)"
    assert lines[-1] == "london: 1 certificate expired, 2 certificates due for renewal (within 30d)"


def test_the_lines_are_the_same_on_any_console() -> None:
    """A terminal, a pipe (160 columns) and a narrow CI log get the same lines, uncut."""
    reports = [report(ipv4_lab()), report(ipv6_cluster(), name="london")]
    at_80 = render(reports)
    assert render(reports, width=160) == at_80
    narrow = render(reports, width=40)
    assert narrow == at_80  # nothing re-wrapped or cropped to 40: the terminal wraps
    assert max(len(line) for line in narrow.splitlines()) > 40


def test_marks_expired_due_and_ok_at_the_reading_time() -> None:
    nodes = [
        Node(
            name="cms1",
            address="10.0.0.1",
            master="10.0.0.1",
            files={"server_cert": "a.cer", "client_cert": "b.cer", "ca_cert": "c.cer"},
            expires_in={"server_cert": -1.5, "client_cert": 30.0, "ca_cert": 30.5},
        )
    ]
    lines = render([report(nodes)]).splitlines()
    assert "  server cert   a.cer  expired  2026-11-30 (1 day ago)" in lines
    assert "  client cert   b.cer  due      2027-01-01 (in 30 days)" in lines
    assert "  CA cert       c.cer  ok       2027-01-01 (in 30 days)" in lines
    assert lines[-1] == "lab: 1 certificate expired, 1 certificate due for renewal (within 30d)"


def test_says_why_an_expiry_is_unknown() -> None:
    nodes = [
        Node(
            name="cms1",
            address="10.0.0.1",
            master="10.0.0.1",
            files={"server_cert": "gone.cer", "client_cert": "odd.cer", "ca_cert": "ca.cer"},
            expires_in={"ca_cert": 400.0},
            expired=("client_cert",),
            missing=("server_cert",),
        )
    ]
    lines = render([report(nodes)]).splitlines()
    assert "  server cert   gone.cer  unknown  (file not on the node)" in lines
    assert "  client cert   odd.cer   expired  (no certificate in the file)" in lines
    assert lines[-1] == "lab: 1 certificate expired"


def test_a_healthy_cluster_says_so() -> None:
    nodes = ipv4_lab(
        **{name: {"server_cert": 365.0, "client_cert": 365.0} for name in ("cms1", "cms2", "cms3")}
    )
    for node in nodes:
        node.expired = ()
    text = render([report(nodes)])
    assert "expired  " not in text
    assert text.count("  ok       ") == 9
    lines = text.splitlines()
    verdict = lines.index(
        "lab: healthy: every node read, every replica in sync with cms1, no certificate"
    )
    assert lines[verdict + 1] == "expired or due for renewal"
    # Then, once, what "healthy" could not see (issue 23, item 6), wrapped to 80 columns.
    assert lines[verdict + 2] == ""
    assert lines[verdict + 3].startswith("Note: certificates are judged from the files on each")
    assert " ".join(lines[verdict + 3 :]).endswith("--recertify` plans re-loading them.")
    assert all(len(line) <= 80 for line in lines[verdict:])


def healthy_lab() -> list[Node]:
    nodes = ipv4_lab(
        **{name: {"server_cert": 365.0, "client_cert": 365.0} for name in ("cms1", "cms2", "cms3")}
    )
    for node in nodes:
        node.expired = ()
    return nodes


@pytest.mark.reliability(
    section="truthful",
    case='status: "healthy" says, in its JSON and once in text, that certificates are judged '
    "from the files on disk, not from what `database cluster certs` loaded",
)
def test_healthy_carries_the_caveat_in_json_and_once_in_text() -> None:
    """Issue 23, item 6: the device names the files it loaded, never their content."""
    healthy = [report(healthy_lab(), name=name) for name in ("blue", "green")]
    for cluster in status_json(healthy)["clusters"]:
        assert cluster["problems"] == []
        assert [caveat["kind"] for caveat in cluster["caveats"]] == [
            "loaded_certificates_unverified"
        ]
        assert "reconcile plan --recertify" in cluster["caveats"][0]["detail"]
    text = render(healthy)
    assert text.count(": healthy: every node read") == 2
    assert text.count("Note: certificates are judged from the files") == 1
    # A cluster that needs attention has its problems; no caveat to qualify a "healthy".
    unwell = status_json([report(ipv4_lab())])["clusters"][0]
    assert unwell["problems"] != []
    assert unwell["caveats"] == []
    assert "Note:" not in render([report(ipv4_lab())])


def test_an_unreachable_node_shows_its_error_wrapped_between_words() -> None:
    nodes = ipv4_lab()
    nodes[2].unreachable = (
        "cms3: host key CHANGED for [127.0.85.75]:2222: ssh-ed25519 "
        "SHA256:Wq0mM1n3kTq2yWbJ0X3dC1ZfY8u0rGk4vE6sH9pL2aQ pinned, "
        "SHA256:AAAAbbbbCCCCddddEEEEffffGGGGhhhhIIIIjjjjKKK offered; refusing to connect"
    )
    reports = [report(nodes)]
    text = render(reports)
    _assert_fits(text, reports)
    assert "  unreachable   cms3: host key CHANGED for [127.0.85.75]:2222: ssh-ed25519" in text
    assert " ".join(text.split()).count(nodes[2].unreachable) == 1
    assert text.splitlines()[-1] == "lab: 1 node not read, 4 certificates expired"


def test_json_gains_not_after_and_days_left_per_certificate() -> None:
    data = status_json([report(ipv4_lab())])
    json.dumps(data)  # plain JSON
    cluster = data["clusters"][0]
    assert cluster["read_at"] == NOW.isoformat()
    certificates = cluster["nodes"][0]["certificates"]
    assert certificates["server_key"] == {"file": "dbclusterserver.key", "expired": False}
    assert certificates["client_cert"] == {
        "file": "EXPRSVR.cer",
        "expired": True,
        "sha256": "0" * 64,
        "present": True,
        "not_after": "2017-03-09T08:57:17+00:00",
        "days_left": -3556,
    }
    assert certificates["ca_cert"]["not_after"] == "2035-03-09T08:57:17+00:00"
    assert certificates["ca_cert"]["days_left"] == 3018


def test_json_of_an_unknown_expiry_and_an_unreachable_node() -> None:
    nodes = ipv4_lab()
    nodes[0].expires_in = {}
    nodes[1].unreachable = "cms2: connection refused"
    data = status_json([report(nodes)])
    first, second, _ = data["clusters"][0]["nodes"]
    assert first["certificates"]["ca_cert"]["not_after"] is None
    assert first["certificates"]["ca_cert"]["days_left"] is None
    assert second["reachable"] is False
    assert second["certificates"] == {}


@pytest.mark.parametrize("renew_before", [timedelta(0), timedelta(days=90)])
def test_the_heading_names_renew_before(renew_before: timedelta) -> None:
    text = render([report(ipv4_lab(), renew_before=renew_before)])
    expected = "0s" if not renew_before else "90d"
    assert (
        text.splitlines()[0]
        == f"cluster lab: read 2026-12-02 09:30:00 UTC, renew_before {expected}"
    )


def test_a_node_that_answered_but_refused_is_not_called_unreachable() -> None:
    cluster = report(ipv4_lab())
    first, *rest = cluster.live.nodes
    refused = LiveNode(
        name=first.name,
        address=first.address,
        reachable=True,
        error="authentication failed for user 'admin'",
    )
    live = cluster.live.model_copy(update={"nodes": (refused, *rest)})
    lines = render([cluster.model_copy(update={"live": live})]).splitlines()
    index = lines.index("cms1  127.0.85.73")
    assert lines[index + 1] == "  not read      authentication failed for user 'admin'"
    assert "unreachable" not in "\n".join(lines)


def test_the_next_maintenance_window_is_shown_under_the_heading_and_in_json() -> None:
    said = "next opens Sat 02:00 CET (01:00 UTC), in 2 days 15 h"
    windowed = report(ipv4_lab()).model_copy(update={"window": said})
    lines = render([windowed]).splitlines()
    assert lines[1] == f"maintenance window: {said}"
    assert status_json([windowed])["clusters"][0]["maintenance_window"] == said
    assert status_json([report(ipv4_lab())])["clusters"][0]["maintenance_window"] is None
    assert not any(
        "maintenance window" in line for line in render([report(ipv4_lab())]).splitlines()
    )
