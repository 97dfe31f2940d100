"""Node errors from the transport to the screen: the cause and the fix, each said once.

A node that answered (a refused login, a shell that is not an MMP) is never "unreachable";
the same failure on several nodes is one line naming them all; every missing variable of a
run is named in one error.
"""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path

import pytest
from rich.console import Console

from reconciler.connect import (
    credentials_for,
    describe_missing,
    missing_variables,
)
from reconciler.desired.loader import load_spec
from reconciler.desired.models import ClusterSpec
from reconciler.desired.source import open_source
from reconciler.errors import AuthenticationFailed, ConfigError, NotAnMMP, TransportError
from reconciler.live.reader import NodeTarget, read_clusters
from reconciler.mmp.session import CommandResult, MMPShell
from reconciler.mmp.transport import Credentials, Endpoint, KnownHosts, SSHTransport
from reconciler.plan.models import Plan
from reconciler.plan.planner import plan_cluster
from reconciler.plan.render.json import render_json
from reconciler.plan.render.markdown import render_markdown
from reconciler.plan.render.text import render_text, text_summary
from reconciler.simulator.builtin_lab import lab_hint
from tests.support.fake_session import FakeSession
from tests.support.lab import LAB_MATERIAL
from tests.support.planning import NOW, desired_cluster
from tests.unit.desired.labrepo import good_doc
from tests.unit.mmp.test_session import FakeClock, ScriptedChannel

DESIRED = desired_cluster(
    {
        "master": "10.0.0.1",
        "nodes": [
            {"name": "cms1", "address": "10.0.0.1"},
            {"name": "cms2", "address": "10.0.0.2"},
            {"name": "cms3", "address": "10.0.0.3"},
        ],
        "bundle": {
            "server_key": ["s.key", "a"],
            "server_cert": ["s.cer", "b"],
            "client_key": ["c.key", "c"],
            "client_cert": ["c.cer", "d"],
            "ca_cert": ["ca.cer", "e"],
        },
    }
)
REFUSED_LOGIN = (
    "authentication failed for user 'admin': the node refused the password in $PW (check "
    "that variable)"
)


class FailingSession(FakeSession):
    """A session whose first command meets ``error`` (as a failed connect does)."""

    def __init__(self, node: str, error: TransportError) -> None:
        super().__init__(node)
        self.error = error

    def run(self, command: str, timeout: float | None = None) -> CommandResult:
        raise self.error


def plan_with(errors: dict[str, TransportError]) -> Plan:
    """Plan the three-node cluster, each node's read failing with its error."""
    targets = [
        NodeTarget("lab", node.name, node.address, FailingSession(node.name, errors[node.name]))
        for node in DESIRED.nodes
    ]
    live = read_clusters(targets, now=lambda: NOW)[0]
    cluster = plan_cluster(DESIRED, live, now=NOW)
    return Plan(
        git={"commit": None, "dirty": False}, created_at=NOW.isoformat(), clusters=[cluster]
    )


def text(plan: Plan, width: int = 40) -> str:
    buffer = io.StringIO()
    render_text(plan, Console(file=buffer, width=width, force_terminal=False, color_system=None))
    return buffer.getvalue()


def refused(node: str) -> AuthenticationFailed:
    return AuthenticationFailed(node, REFUSED_LOGIN)


def connection_refused(node: str, address: str) -> TransportError:
    return TransportError(node, f"cannot connect to {address}:22: connection refused")


# --- the live state: who answered ----------------------------------------------------------


def test_a_node_that_refused_the_login_is_reachable_and_its_error_names_no_node() -> None:
    targets = [
        NodeTarget("lab", "cms1", "10.0.0.1", FailingSession("cms1", refused("cms1"))),
        NodeTarget(
            "lab", "cms2", "10.0.0.2", FailingSession("cms2", connection_refused("cms2", "x"))
        ),
    ]
    cms1, cms2 = read_clusters(targets)[0].nodes
    assert cms1.reachable
    assert cms1.error == REFUSED_LOGIN
    assert not cms2.reachable
    assert cms2.error == "cannot connect to x:22: connection refused"


@pytest.mark.parametrize("kind", [AuthenticationFailed, NotAnMMP])
def test_errors_of_a_node_that_answered_say_so(kind: type[TransportError]) -> None:
    assert kind("cms1", "x").answered
    assert not TransportError("cms1", "x").answered
    assert TransportError("cms1", "x", answered=True).answered


# --- the plan: the same failure said once ---------------------------------------------------


def test_the_same_refused_login_on_every_node_is_one_line_naming_them_all() -> None:
    plan = plan_with({name: refused(name) for name in ("cms1", "cms2", "cms3")})
    output = text(plan)
    assert (
        "  x cms1 (10.0.0.1), cms2 (10.0.0.2), cms3 (10.0.0.3): " + REFUSED_LOGIN + "\n"
    ) in output
    assert output.count(" x ") == 1
    assert "unreachable" not in output
    assert "readable" not in output.replace("unreadable", "")
    assert "?" not in output
    # The JSON keeps one finding per node, for machines.
    findings = json.loads(render_json(plan))["clusters"][0]["findings"]
    assert [finding["node"] for finding in findings] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert {finding["what"] for finding in findings} == {"unreadable"}
    assert {finding["message"] for finding in findings} == {REFUSED_LOGIN}


def test_a_markdown_comment_lists_the_nodes_once_too() -> None:
    plan = plan_with({name: refused(name) for name in ("cms1", "cms2", "cms3")})
    rows = [line for line in render_markdown(plan).splitlines() if line.startswith("| ")]
    problems = [row for row in rows if "authentication failed" in row]
    assert len(problems) == 1, rows
    assert "all 3: cms1, cms2, cms3" in problems[0]
    assert "unreachable" not in problems[0]


def test_different_failures_are_said_apart() -> None:
    plan = plan_with(
        {
            "cms1": refused("cms1"),
            "cms2": refused("cms2"),
            "cms3": connection_refused("cms3", "10.0.0.3"),
        }
    )
    output = text(plan)
    assert f"  x cms1 (10.0.0.1), cms2 (10.0.0.2): {REFUSED_LOGIN}\n" in output
    assert "  x cms3 (10.0.0.3): cannot connect to 10.0.0.3:22: connection refused\n" in output
    findings = {finding.node: finding.what for finding in plan.clusters[0].findings}
    assert findings == {
        "10.0.0.1": "unreadable",
        "10.0.0.2": "unreadable",
        "10.0.0.3": "unreachable",
    }
    assert text_summary(plan).startswith(
        f"lab: BLOCKED (3 errors): cms1 (10.0.0.1): {REFUSED_LOGIN}"
    )


# --- missing variables: all of them, once ---------------------------------------------------


def spec(name: str, password_env: str = "CMS_LAB_PASSWORD", **ssh: str) -> ClusterSpec:
    doc = good_doc()
    doc["name"] = name
    doc["ssh"] = {**doc["ssh"], "password_env": password_env, **ssh}
    return ClusterSpec.model_validate(doc)


def test_every_missing_variable_of_every_cluster_is_named_in_one_message() -> None:
    lab, other = spec("lab"), spec("other", password_env="CMS_OTHER_PASSWORD")
    passphrase = lab.certs.key_passphrase_env
    message = describe_missing(missing_variables([lab, other], {}))
    head, *lines = message.splitlines()
    assert head == (
        f"environment variables not set: CMS_LAB_PASSWORD, {passphrase}, CMS_OTHER_PASSWORD; "
        "export them and run again:"
    )
    assert lines == [
        "  CMS_LAB_PASSWORD: the SSH password (cluster lab: ssh.password_env)",
        f"  {passphrase}: the passphrase of the encrypted private keys in git (cluster lab: "
        "certs.key_passphrase_env; cluster other: certs.key_passphrase_env)",
        "  CMS_OTHER_PASSWORD: the SSH password (cluster other: ssh.password_env)",
    ]


def test_status_needs_no_passphrase() -> None:
    lab = spec("lab")
    missing = missing_variables([lab], {"CMS_LAB_PASSWORD": "x"}, passphrases=False)
    assert missing == []


def test_a_password_or_a_key_file_either_will_do() -> None:
    either = spec("lab", key_file_env="CMS_LAB_SSH_KEY")
    with pytest.raises(ConfigError) as caught:
        credentials_for(either, {"CMS_LAB_PASSWORD": ""})
    assert str(caught.value).splitlines() == [
        "environment variables not set: CMS_LAB_PASSWORD, CMS_LAB_SSH_KEY; export them and run "
        "again:",
        "  CMS_LAB_PASSWORD or CMS_LAB_SSH_KEY: the SSH password, or the path of the SSH "
        "private key (cluster lab: ssh.password_env or ssh.key_file_env)",
    ]
    assert credentials_for(either, {"CMS_LAB_SSH_KEY": "/k"}).key_file == Path("/k")


def test_an_empty_variable_is_said_to_be_empty() -> None:
    with pytest.raises(ConfigError, match="CMS_LAB_PASSWORD is empty"):
        credentials_for(spec("lab"), {"CMS_LAB_PASSWORD": ""})


# --- not an MMP -----------------------------------------------------------------------------


def shell(channel: ScriptedChannel, clock: FakeClock) -> MMPShell:
    return MMPShell(channel, "cms2", clock=clock, command_timeout=30)


def test_a_unix_shell_is_not_an_mmp_and_is_said_at_once() -> None:
    clock = FakeClock()
    channel = ScriptedChannel(clock, greeting="Last login: today\r\nadmin@web1:~$ ")
    with pytest.raises(NotAnMMP) as caught:
        shell(channel, clock).run("database cluster status")
    message = str(caught.value)
    assert "SSH works, but this is not an MMP" in message
    assert "'admin@web1:~$ '" in message
    assert "ssh_port" in message
    assert clock.now < 1  # a moment of quiet, not the 30 s command timeout
    assert channel.sent == []


def test_a_session_closed_before_any_prompt_is_not_an_mmp() -> None:
    clock = FakeClock()
    channel = ScriptedChannel(clock, greeting="This service allows sftp connections only.\r\n")
    channel.pending.append("<EOF>")
    with pytest.raises(NotAnMMP, match="closed the session before showing an MMP prompt"):
        shell(channel, clock).run("database cluster status")


def test_no_prompt_at_all_is_not_an_mmp_after_the_timeout() -> None:
    clock = FakeClock()
    channel = ScriptedChannel(clock, greeting="Welcome\r\n")
    with pytest.raises(NotAnMMP, match=r"no MMP prompt \('name> '\) within 30 s after login"):
        shell(channel, clock).run("database cluster status")


def test_an_mmp_prompt_after_a_banner_is_an_mmp() -> None:
    clock = FakeClock()
    channel = ScriptedChannel(clock, greeting="Usage at 45%\r\ncms2> ")
    channel.replies["database cluster status\r"] = ["database cluster status\r\nok\r\ncms2> "]
    assert shell(channel, clock).run("database cluster status").output == "ok\n"


def test_a_refused_login_met_on_the_first_read_stays_a_refused_login() -> None:
    class Refusing(ScriptedChannel):
        def read(self, timeout: float) -> str | None:
            raise refused("cms2")

    clock = FakeClock()
    with pytest.raises(AuthenticationFailed):
        shell(Refusing(clock), clock).run("database cluster status")


# --- connection refused: the fix, too -----------------------------------------------------------


def refused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed once the block ends: nothing listens


def refused_detail(endpoint: Endpoint) -> str:
    transport = SSHTransport(
        endpoint,
        Credentials(password="x", password_env="PW"),
        KnownHosts.parse("", "clusters/known_hosts"),
    )
    with pytest.raises(TransportError) as caught:
        transport.connect()
    assert not caught.value.answered
    return caught.value.detail


def test_connection_refused_says_what_to_check_and_nothing_of_a_simulator() -> None:
    """Issue 23: a loopback address is not the lab (an SSH tunnel to a real node is one)."""
    port = refused_port()
    endpoint = Endpoint(node="cms1", host="127.0.0.1", port=port, username="admin")
    assert refused_detail(endpoint) == (
        f"cannot connect to 127.0.0.1:{port}: connection refused; is the node up, with its MMP "
        f"listening on port {port}?"
    )


def test_connection_refused_adds_the_hint_its_endpoint_carries() -> None:
    port = refused_port()
    endpoint = Endpoint("cms1", "127.0.0.1", port, "admin", refused_hint="Is X serving it?")
    assert refused_detail(endpoint).endswith(f"listening on port {port}? Is X serving it?")


def lab_spec(**changes: object) -> ClusterSpec:
    """The packaged lab's cluster file, with ``changes`` to its top-level keys."""
    with open_source(LAB_MATERIAL) as source:
        loaded = load_spec(source, "lab").spec
    assert loaded is not None
    return loaded.model_copy(update=changes)


def test_only_the_lab_is_told_how_to_serve_the_simulated_lab() -> None:
    hint = (
        "For the simulated lab: is `reconcile sim --cluster lab` running (in this repository, "
        "or in any folder without a clusters/lab.yaml of its own)?"
    )
    assert lab_hint(lab_spec()) == hint
    # A cluster named lab elsewhere is somebody's real cluster.
    real = lab_spec()
    nodes = [
        node.model_copy(update={"address": f"10.1.1.{i}"})
        for i, node in enumerate(real.nodes, start=1)
    ]
    assert lab_hint(real.model_copy(update={"nodes": nodes, "master": "10.1.1.1"})) is None
    # The lab's addresses under another name are not the lab either.
    assert lab_hint(lab_spec(name="prod")) is None
    # One node reached through a tunnel is not the lab's node.
    tunnelled = [real.nodes[0].model_copy(update={"ssh_host": "127.0.0.1"}), *real.nodes[1:]]
    assert lab_hint(real.model_copy(update={"nodes": tunnelled})) is None


def test_a_moved_copy_of_the_lab_is_told_where_it_listens() -> None:
    real = lab_spec()
    moved = [
        node.model_copy(
            update={"address": node.address.replace("127.0.85.", "127.0.86."), "ssh_port": 2300}
        )
        for node in real.nodes
    ]
    spec = real.model_copy(update={"nodes": moved, "master": "127.0.86.73"})
    assert lab_hint(spec) == (
        "For the simulated lab: is `reconcile sim --cluster lab` running in this repository "
        "(or `reconcile sim --cluster lab --subnet 127.0.86 --port 2300` in a folder without "
        "a clusters/lab.yaml of its own)?"
    )
