"""`reconcile status` against the running simulated lab, over real SSH."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from reconciler.simulator.lab import build_cluster, load_topology
from reconciler.simulator.service import SimulatedCluster
from reconciler.simulator.state import Durations
from tests.e2e.conftest import RunningSim, lab_cluster, reconcile, wait_idle
from tests.support.lab import FAST, LabAddresses

pytestmark = pytest.mark.e2e


SEED_EXPIRY = "2017-03-09T08:57:17+00:00"  # the seed's server and client certificates
SEED_CA_EXPIRY = "2035-03-09T08:57:17+00:00"


def test_status_shows_the_seed_state(running_lab: RunningSim, lab_repo: Path) -> None:
    result = reconcile("status", "--cluster", "lab", "--format", "json", repo=lab_repo)
    assert result.returncode == 2, result.stderr  # certificates in use are expired
    cluster = json.loads(result.stdout)["clusters"][0]
    assert cluster["name"] == "lab"
    cms1, cms2, _ = running_lab.addresses.nodes
    by_address = {node["address"]: node for node in cluster["nodes"]}
    assert by_address[cms1]["role"] == "master"
    for node in by_address.values():
        assert node["reachable"] is True
        assert node["node_in_use"] == cms1
        certificates = node["certificates"]
        assert certificates["server_cert"]["expired"] is True
        assert certificates["client_cert"] == {
            "file": "EXPRSVR.cer",
            "expired": True,
            "sha256": certificates["client_cert"]["sha256"],
            "present": True,
            "not_after": SEED_EXPIRY,
            "days_left": certificates["client_cert"]["days_left"],
        }
        assert len(certificates["client_cert"]["sha256"]) == 64
        assert certificates["client_cert"]["days_left"] < -3500
        assert certificates["server_cert"]["not_after"] == SEED_EXPIRY
        assert certificates["ca_cert"]["expired"] is False
        assert certificates["ca_cert"]["not_after"] == SEED_CA_EXPIRY
        assert certificates["ca_cert"]["days_left"] > 30
        assert "not_after" not in certificates["server_key"]  # keys do not expire
    assert by_address[cms2]["in_sync"] is False


def test_status_text_and_one_connection_per_node(running_lab: RunningSim, lab_repo: Path) -> None:
    result = reconcile("status", "--cluster", "lab", repo=lab_repo)
    assert result.returncode == 2, result.stderr
    lines = result.stdout.splitlines()
    for expected in (
        "  server cert   dbclusterserver.cer  expired  2017-03-09 (",
        "  client cert   EXPRSVR.cer          expired  2017-03-09 (",
        "  CA cert       CA.cer               ok       2035-03-09 (in ",
    ):
        assert _starting(lines, expected) == 3, expected
    # The seed's expired certificates broke replication: the replicas are not in sync.
    assert _last_line(result.stdout) == "lab: 6 certificates expired, cms2 and cms3 not in sync"
    for address in running_lab.addresses.nodes:
        assert len(running_lab.log(address, "connect")) == 1
        assert running_lab.log(address, "command") == ["database cluster status"]
        # The certificate files were hashed over SFTP on the same connection.
        assert running_lab.log(address, "sftp")


def _last_line(stdout: str) -> str:
    """The verdict, the last paragraph of the text but a closing note (a healthy verdict's
    caveat, issue 23 item 6), unwrapped (it wraps at 80 columns)."""
    paragraphs = stdout.rstrip("\n").split("\n\n")
    if paragraphs[-1].startswith("Note: "):
        paragraphs.pop()
    return " ".join(paragraphs[-1].split())


def _starting(lines: list[str], prefix: str) -> int:
    """How many lines (one per node) start with ``prefix``."""
    return sum(line.startswith(prefix) for line in lines)


def _replace_pin(
    repo: Path, addresses: LabAddresses, address: str, replacement: str | None
) -> None:
    path = repo / "clusters" / "known_hosts"
    lines = []
    for line in path.read_text().splitlines():
        if line.startswith(f"{addresses.pin(address)} "):
            if replacement is None:
                continue
            line = f"{addresses.pin(address)} {replacement}"
        lines.append(line)
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.reliability(
    section="hostile-input",
    case="a changed host key is refused before any command",
)
def test_a_changed_host_key_is_refused_before_any_command(
    running_lab: RunningSim, lab_repo: Path
) -> None:
    other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBU1Bomln9fH1wq1eHPydG0OgwnP0q9H3xcqCnXLIEAA"
    cms2 = running_lab.addresses.cms2
    _replace_pin(lab_repo, running_lab.addresses, cms2, other)
    result = reconcile("status", "--cluster", "lab", "--format", "json", repo=lab_repo)
    assert result.returncode == 1
    node = json.loads(result.stdout)["clusters"][0]["nodes"][1]
    assert node["reachable"] is True  # it answered with its key: refused, not unreachable
    assert "host key CHANGED" in node["error"]
    assert "SHA256:" in node["error"]
    assert running_lab.log(cms2, "command") == []
    assert running_lab.log(cms2, "connect") == []  # refused before authentication


def test_a_missing_host_key_is_refused_before_any_command(
    running_lab: RunningSim, lab_repo: Path
) -> None:
    cms3 = running_lab.addresses.cms3
    _replace_pin(lab_repo, running_lab.addresses, cms3, None)
    result = reconcile("status", "--cluster", "lab", repo=lab_repo)
    assert result.returncode == 1
    text = " ".join(result.stdout.split())  # long errors wrap between words at 80 columns
    assert "unknown host key ssh-ed25519 SHA256:" in text
    assert "never added automatically" in text
    assert running_lab.log(cms3, "command") == []
    assert cms3 not in (lab_repo / "clusters" / "known_hosts").read_text()


def test_an_unreachable_node_is_reported_and_exit_is_1(
    running_lab: RunningSim, lab_repo: Path
) -> None:
    cms3, port = running_lab.addresses.cms3, running_lab.addresses.port
    cluster_file = lab_repo / "clusters" / "lab.yaml"
    text = cluster_file.read_text()
    served = f"{{name: cms3, address: {cms3}, ssh_port: {port}}}"
    closed = f"{{name: cms3, address: {cms3}, ssh_port: {port + 1}}}"  # the subnet is ours
    assert served in text
    cluster_file.write_text(text.replace(served, closed))
    result = reconcile("status", "--cluster", "lab", "--format", "json", repo=lab_repo)
    assert result.returncode == 1
    nodes = json.loads(result.stdout)["clusters"][0]["nodes"]
    assert nodes[2]["reachable"] is False
    assert "connection refused" in nodes[2]["error"]
    assert nodes[0]["reachable"] is True
    # The other nodes' certificates are expired too (exit 2), but a node not read wins.
    assert nodes[0]["certificates"]["client_cert"]["days_left"] < 0
    shown = reconcile("status", "--cluster", "lab", repo=lab_repo)
    assert shown.returncode == 1
    lines = shown.stdout.splitlines()
    assert f"cms3  {cms3}" in lines
    assert lines[lines.index(f"cms3  {cms3}") + 1].startswith("  unreachable   ")
    assert _last_line(shown.stdout) == (
        "lab: 1 node not read, 4 certificates expired, cms2 not in sync"
    )


def test_after_apply_status_is_healthy(running_lab: RunningSim, lab_repo: Path) -> None:
    """The seed's expired certificates (exit 2) replaced by the bundle in git: exit 0."""
    before = reconcile("status", "--cluster", "lab", repo=lab_repo)
    assert before.returncode == 2, before.stdout + before.stderr
    applied = reconcile("--apply", "--auto-approve", "--cluster", "lab", repo=lab_repo)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    after = reconcile("status", "--cluster", "lab", repo=lab_repo)
    assert after.returncode == 0, after.stdout + after.stderr
    lines = after.stdout.splitlines()
    for role, file, expiry in (
        ("server cert", "dbclusterserver.cer", "2031-11-01"),
        ("client cert", "dbclusterclient.cer", "2031-11-01"),
        ("CA cert", "CAVD.cer", "2036-11-01"),
    ):
        expected = f"  {role:<12}  {file:<19}  ok       {expiry} (in "
        assert _starting(lines, expected) == 3, expected
    assert _last_line(after.stdout) == (
        "lab: healthy: every node read, every replica in sync with cms1, no certificate "
        "expired or due for renewal"
    )
    assert after.stdout.count("Note: certificates are judged from the files on each node") == 1
    data = reconcile("status", "--cluster", "lab", "--format", "json", repo=lab_repo)
    assert data.returncode == 0
    for node in json.loads(data.stdout)["clusters"][0]["nodes"]:
        client = node["certificates"]["client_cert"]
        assert client["not_after"] == "2031-11-01T00:00:00+00:00"
        assert client["days_left"] > 30


def test_due_for_renewal_exits_2(running_lab: RunningSim, lab_repo: Path) -> None:
    """renew_before from the cluster file: the seed's CA (valid until 2035) becomes due."""
    cluster_file = lab_repo / "clusters" / "lab.yaml"
    text = cluster_file.read_text()
    assert "\nrenew_before: 30d\n" in text
    cluster_file.write_text(text.replace("\nrenew_before: 30d\n", "\nrenew_before: 5000d\n"))
    result = reconcile("status", "--cluster", "lab", repo=lab_repo)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "renew_before 5000d" in lines[0]
    assert _starting(lines, "  CA cert       CA.cer               due      2035-03-09 (in ") == 3
    assert _last_line(result.stdout) == (
        "lab: 6 certificates expired, 3 certificates due for renewal (within 5000d), cms2 and "
        "cms3 not in sync"
    )


@pytest.mark.parametrize("columns", ["80", None])
def test_the_text_fits_80_columns(
    running_lab: RunningSim, lab_repo: Path, columns: str | None
) -> None:
    """In a CI log (not a terminal), with or without COLUMNS: no line over 80, nothing cut."""
    env = {"COLUMNS": columns} if columns else {}
    result = reconcile("status", "--cluster", "lab", repo=lab_repo, env=env)
    assert result.returncode == 2, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, lines
    assert "…" not in result.stdout
    words = {word for line in lines for word in line.split()}
    for address in running_lab.addresses.nodes:
        assert address in words
    for name in ("dbclusterserver.key", "dbclusterserver.cer", "EXPRSVR.cer", "CA.cer"):
        assert name in words


def test_missing_password_is_a_clear_error(lab_repo: Path) -> None:
    result = reconcile("status", "--cluster", "lab", repo=lab_repo, env={"CMS_LAB_PASSWORD": ""})
    assert result.returncode == 1
    assert "CMS_LAB_PASSWORD" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def _private_key() -> bytes:
    return ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )


def test_key_file_authentication(lab_repo: Path, tmp_path: Path) -> None:
    """ssh.key_file_env: the node accepts the public key; no password is needed."""
    key_path = tmp_path / "id_ed25519"
    key_path.write_bytes(_private_key())
    cluster_file = lab_repo / "clusters" / "lab.yaml"
    cluster_file.write_text(
        cluster_file.read_text().replace(
            "password_env: CMS_LAB_PASSWORD", "key_file_env: CMS_LAB_SSH_KEY"
        )
    )
    env = {"CMS_LAB_SSH_KEY": str(key_path)}
    topology = load_topology(lab_repo, "lab")
    assert topology.password_env is None
    with build_cluster(lab_repo, topology, env=env, workdir=tmp_path / "sim", durations=FAST):
        result = reconcile("status", "--cluster", "lab", repo=lab_repo, env=env)
        assert result.returncode == 2, result.stderr  # read; the seed's certificates expired
        other = tmp_path / "other"
        other.write_bytes(_private_key())
        refused = reconcile(
            "status", "--cluster", "lab", repo=lab_repo, env={"CMS_LAB_SSH_KEY": str(other)}
        )
        assert refused.returncode == 1
        assert "authentication failed" in " ".join(refused.stdout.split())


# Operations finish within one poll: an apply costs its CLI runs, not the simulated waits.
QUICK = Durations(remove=0.05, initialize=0.05, join=0.05, upgrade_schema=0.05)


@pytest.fixture
def quick_lab(lab_repo: Path, tmp_path: Path) -> Iterator[SimulatedCluster]:
    """The lab served in-process, so that a test can fail a join or cut the network."""
    with lab_cluster(lab_repo, tmp_path / "sim", durations=QUICK) as cluster:
        yield cluster


def _status_json(repo: Path) -> tuple[int, dict[str, object]]:
    result = reconcile("status", "--cluster", "lab", "--format", "json", repo=repo)
    cluster: dict[str, object] = json.loads(result.stdout)["clusters"][0]
    return result.returncode, cluster


def _verdict(repo: Path) -> tuple[int, str]:
    """The exit code and the last line (unwrapped) of the text status."""
    result = reconcile("status", "--cluster", "lab", repo=repo)
    return result.returncode, _last_line(result.stdout)


@pytest.mark.reliability(
    section="truthful",
    case="status after a failed join, and in a partition, exits 2 and names the node (CLI)",
)
def test_status_sees_a_failed_join_and_a_partition(
    quick_lab: SimulatedCluster, lab_repo: Path
) -> None:
    """Issue 23: with every certificate fine, status said "healthy" (exit 0) while a join had
    just failed, and while a replica was cut off from its master."""
    quick_lab.fail_operation("cms2", "join")
    applied = reconcile("--apply", "--cluster", "lab", "--auto-approve", repo=lab_repo)
    assert applied.returncode == 1, applied.stderr
    wait_idle(quick_lab)
    code, cluster = _status_json(lab_repo)
    assert code == 2
    nodes = cluster["nodes"]
    assert isinstance(nodes, list)
    for node in nodes:  # the new certificates are in use: only replication needs attention
        for role in ("server_cert", "client_cert", "ca_cert"):
            assert node["certificates"][role]["days_left"] > 30
    problems = cluster["problems"]
    assert isinstance(problems, list)
    assert [(problem["node"], problem["kind"]) for problem in problems] == [
        ("cms2", "not_clustered"),
        ("cms2", "command_failed"),
        ("cms3", "not_clustered"),
    ]
    cms1 = quick_lab.node("cms1").address
    assert problems[1]["detail"] == (
        f"its last cluster command failed: 'database cluster join {cms1}'"
    )
    assert _verdict(lab_repo) == (
        2,
        "lab: cms2 and cms3 not clustered (Disabled), last cluster command failed on cms2",
    )

    quick_lab.clear_faults()
    converged = reconcile("--apply", "--cluster", "lab", "--auto-approve", repo=lab_repo)
    assert converged.returncode == 0, converged.stderr
    assert _verdict(lab_repo)[0] == 0

    quick_lab.partition("cms3", "cms1")
    code, cluster = _status_json(lab_repo)
    assert code == 2
    assert cluster["problems"] == [
        {
            "node": "cms3",
            "address": quick_lab.node("cms3").address,
            "kind": "no_master",
            "detail": "Enabled, but sees no master (a partition, or the master is down); it "
            f"should follow cms1 ({cms1})",
        }
    ]
    assert _verdict(lab_repo) == (2, "lab: cms3 following no master")
