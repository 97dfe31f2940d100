"""A pull request cannot choose where secrets go (SPEC §8): `--trusted-ref` end to end.

The lab is committed as the base branch would have it; a pull request then names another
secret's variable as the SSH password (`CMS_RECONCILER_CA_KEY`) and adds a node at an address
of its choosing, pinned by itself. Behind that address listens an SSH server of the attacker's
(a simulated node, reached through a relay that counts every TCP connection), which logs the
digest of every password it refuses, as the lab's nodes do.

With `--trusted-ref BASE`, the plan names the access changes and sends nothing to the new
address and no secret it did not have on the base branch. Without it (the control) the same
pull request delivers the CA key to the lab's nodes and connects to the attacker: so the
detectors below can see what they guard against.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import git
import pytest

from reconciler.simulator.lab import SimNodeSpec, SimTopology, build_cluster
from reconciler.simulator.service import AUTH_DIGEST_CHARS, SimulatedCluster
from tests.e2e.conftest import LAB_ENV, reconcile
from tests.support.lab import FAST, LabAddresses
from tests.support.tcp_relay import CountingRelay

pytestmark = pytest.mark.e2e

CA_KEY = (
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC the CA key\n"
    "-----END PRIVATE KEY-----"
)
ENV = {**LAB_ENV, "CMS_RECONCILER_CA_KEY": CA_KEY}


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:AUTH_DIGEST_CHARS]


def commit(repository: git.Repo, message: str) -> str:
    repository.git.add(A=True)
    repository.index.commit(message, author=git.Actor("ops", "ops@example.com"))
    return str(repository.head.commit.hexsha)


def refused_passwords(sim: SimulatedCluster) -> list[str]:
    """The digests of every password any node of ``sim`` refused."""
    return [
        entry["detail"].rsplit(" ", 1)[1]
        for node in sim.snapshot()["nodes"]
        for entry in node["log"]
        if entry["kind"] == "auth"
    ]


def trusted_plan(
    repo: Path, head: str, base: str, *cluster: str, code: int, env: dict[str, str] = ENV
) -> dict[str, Any]:
    """`reconcile plan --ref HEAD --trusted-ref BASE --format json` (of `cluster` when given),
    its exit code checked; the one cluster of the plan."""
    named = ("--cluster", *cluster) if cluster else ()
    result = reconcile(
        "plan",
        *named,
        "--ref",
        head,
        "--trusted-ref",
        base,
        "--format",
        "json",
        repo=repo,
        env=env,
    )
    assert result.returncode == code, result.stderr
    (planned,) = json.loads(result.stdout)["clusters"]
    found: dict[str, Any] = planned
    return found


def logins(sim: SimulatedCluster) -> int:
    return sum(
        1 for node in sim.snapshot()["nodes"] for entry in node["log"] if entry["kind"] == "connect"
    )


@dataclass
class Attack:
    repo: Path
    base: str
    head: str
    attacker: SimulatedCluster
    relay: CountingRelay
    new_address: str
    address_of_cms3: str

    def plan(self, *extra: str) -> dict[str, Any]:
        result = reconcile(
            "plan",
            "--cluster",
            "lab",
            "--ref",
            self.head,
            "--format",
            "json",
            *extra,
            repo=self.repo,
            env=ENV,
        )
        assert result.returncode in (1, 2), result.stderr
        plan: dict[str, Any] = json.loads(result.stdout)
        return plan


@pytest.fixture
def attacker(tmp_path: Path) -> Iterator[SimulatedCluster]:
    """An SSH server of the attacker's, on 127.0.0.1 (the relay puts it at the new address)."""
    topology = SimTopology(
        name="attacker",
        nodes=(SimNodeSpec("cms4", "127.0.0.1", "127.0.0.1", 0),),
        username="admin",
        password_env="ATTACKER_PASSWORD",
        key_file_env=None,
    )
    env = {"ATTACKER_PASSWORD": "the attacker does not know it"}
    with build_cluster(
        tmp_path, topology, env=env, workdir=tmp_path / "attacker", durations=FAST
    ) as cluster:
        yield cluster


@pytest.fixture
def attack(
    lab_sim: SimulatedCluster,
    lab_repo: Path,
    lab_addresses: LabAddresses,
    attacker: SimulatedCluster,
) -> Iterator[Attack]:
    repository = git.Repo.init(lab_repo)
    base = commit(repository, "the lab as the base branch has it")
    new = lab_addresses.spare
    cluster_file = lab_repo / "clusters" / "lab.yaml"
    text = cluster_file.read_text()
    text = text.replace("password_env: CMS_LAB_PASSWORD", "password_env: CMS_RECONCILER_CA_KEY")
    last = f"  - {{name: cms3, address: {lab_addresses.cms3}, ssh_port: {lab_addresses.port}}}\n"
    assert last in text
    text = text.replace(
        last, last + f"  - {{name: cms4, address: {new}, ssh_port: {lab_addresses.port}}}\n"
    )
    cluster_file.write_text(text)
    (line,) = attacker.known_hosts_lines()
    pins = lab_repo / "clusters" / "known_hosts"
    pins.write_text(pins.read_text() + f"{lab_addresses.pin(new)} {line.split(' ', 1)[1]}\n")
    head = commit(repository, "innocent-looking rotation")
    target = ("127.0.0.1", attacker.server("cms4").port)
    with CountingRelay(new, lab_addresses.port, target) as relay:
        yield Attack(lab_repo, base, head, attacker, relay, new, lab_addresses.cms3)


def test_the_pull_request_chooses_neither_the_secret_nor_the_host(
    attack: Attack, lab_sim: SimulatedCluster
) -> None:
    plan = attack.plan("--trusted-ref", attack.base)
    (cluster,) = plan["clusters"]
    access = cluster["access"]
    changes = {change["key"]: change for change in access["changes"]}
    assert changes["ssh.password_env"] == {
        "key": "ssh.password_env",
        "trusted": "CMS_LAB_PASSWORD",
        "proposed": "CMS_RECONCILER_CA_KEY",
    }
    assert changes["nodes[cms4]"]["trusted"] is None
    assert attack.new_address in changes["nodes[cms4]"]["proposed"]
    pin_key = next(key for key in changes if key.startswith("pins of "))
    assert attack.new_address in pin_key
    assert access["contacted"] is True
    assert access["not_contacted"] == [attack.new_address]
    assert access["pending"] is True  # blocked only by the node the pull request adds
    assert cluster["blocked"] is True  # cms4 could not be read: nothing to plan from
    assert any("not contacted" in (finding["message"] or "") for finding in cluster["findings"])

    # Nothing reached the new address, not even a TCP connection...
    assert attack.relay.accepted == 0
    assert refused_passwords(attack.attacker) == []
    assert logins(attack.attacker) == 0
    # ...and the lab's nodes were read with the base branch's password, never the CA key.
    assert logins(lab_sim) >= 3
    assert refused_passwords(lab_sim) == []


def test_the_plan_says_what_the_pull_request_changes_in_access(attack: Attack) -> None:
    result = reconcile(
        "plan",
        "--cluster",
        "lab",
        "--ref",
        attack.head,
        "--trusted-ref",
        attack.base,
        "--format",
        "markdown",
        repo=attack.repo,
        env=ENV,
    )
    assert result.returncode == 1, result.stderr
    assert "**Access change:**" in result.stdout
    assert "ssh.password\\_env: CMS\\_LAB\\_PASSWORD -\\> CMS\\_RECONCILER\\_CA\\_KEY" in (
        result.stdout
    )
    assert "takes effect once merged" in result.stdout
    assert "**Not contacted:**" in result.stdout
    assert CA_KEY.splitlines()[1] not in result.stdout + result.stderr
    assert attack.relay.accepted == 0


def test_the_ci_matrix_names_the_base_branchs_variables(attack: Attack) -> None:
    result = reconcile(
        "clusters",
        "--changed-since",
        attack.base,
        "--ref",
        attack.head,
        "--trusted-ref",
        attack.base,
        "--format",
        "json",
        repo=attack.repo,
        env=ENV,
    )
    assert result.returncode == 0, result.stderr
    (lab,) = json.loads(result.stdout)["clusters"]
    assert lab["env"] == ["CMS_LAB_PASSWORD", "CMS_LAB_KEY_PASSPHRASE"]
    assert "CMS_RECONCILER_CA_KEY" not in json.dumps(lab["secrets"])
    assert lab["trusted"] is True
    assert "ssh.password_env: CMS_LAB_PASSWORD -> CMS_RECONCILER_CA_KEY" in lab["access_changes"]
    assert lab["last_change"] == attack.head
    untrusted = reconcile(
        "clusters",
        "--changed-since",
        attack.base,
        "--ref",
        attack.head,
        "--format",
        "json",
        repo=attack.repo,
        env=ENV,
    )
    assert json.loads(untrusted.stdout)["clusters"][0]["env"][0] == "CMS_RECONCILER_CA_KEY"


def test_without_a_trusted_ref_the_same_pull_request_leaks_the_secret(
    attack: Attack, lab_sim: SimulatedCluster
) -> None:
    """The control: what the detectors above would see if access came from the pull request."""
    attack.plan()
    assert digest(CA_KEY) in refused_passwords(lab_sim)  # the CA key, sent as a password
    assert attack.relay.accepted >= 1  # and a connection to the pull request's own host
    assert digest(CA_KEY) in refused_passwords(attack.attacker)


def test_a_cluster_new_in_the_pull_request_is_not_contacted(
    lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    repository = git.Repo.init(lab_repo)
    cluster_file = lab_repo / "clusters" / "lab.yaml"
    text = cluster_file.read_text()
    cluster_file.unlink()
    base = commit(repository, "no cluster yet")
    cluster_file.write_text(text)
    head = commit(repository, "add the lab")
    cluster = trusted_plan(lab_repo, head, base, code=1)
    assert cluster["blocked"] is True
    assert cluster["access"]["contacted"] is False
    assert "does not exist at the trusted ref" in cluster["access"]["problem"]
    assert cluster["steps"] == []
    assert logins(lab_sim) == 0
    assert refused_passwords(lab_sim) == []
    listed = reconcile(
        "clusters",
        "--changed-since",
        base,
        "--ref",
        head,
        "--trusted-ref",
        base,
        "--format",
        "json",
        repo=lab_repo,
        env=ENV,
    )
    (entry,) = json.loads(listed.stdout)["clusters"]
    assert (entry["trusted"], entry["env"], entry["secrets"]) == (False, [], [])


def test_a_change_of_certificates_only_plans_as_before(
    lab_sim: SimulatedCluster, lab_repo: Path
) -> None:
    """The everyday pull request: no access change, planned with the base branch's access."""
    repository = git.Repo.init(lab_repo)
    base = commit(repository, "base")
    (lab_repo / "README.md").write_text("rotation notes\n")
    head = commit(repository, "a change that touches no access")
    cluster = trusted_plan(lab_repo, head, base, code=2)
    assert cluster["access"]["changes"] == []
    assert cluster["access"]["not_contacted"] == []
    assert cluster["strategy"] == "reform"
    assert refused_passwords(lab_sim) == []


def test_another_clusters_nodes_never_receive_this_clusters_password(
    lab_sim: SimulatedCluster, lab_repo: Path, lab_addresses: LabAddresses
) -> None:
    """The pins file is shared: a pull request on cluster prod that points prod's nodes at the
    lab's (pinned, for the lab) must not send prod's password there."""
    repository = git.Repo.init(lab_repo)
    lab = (lab_repo / "clusters" / "lab.yaml").read_text()
    prod = lab.replace("name: lab", "name: prod").replace(
        "password_env: CMS_LAB_PASSWORD", "password_env: CMS_PROD_PASSWORD"
    )
    elsewhere = prod
    for number, address in enumerate(lab_addresses.nodes, start=1):
        elsewhere = elsewhere.replace(address, f"10.255.0.{number}")
    (lab_repo / "clusters" / "prod.yaml").write_text(elsewhere)
    base = commit(repository, "base: the lab, and prod elsewhere")
    (lab_repo / "clusters" / "prod.yaml").write_text(prod)  # prod's nodes: the lab's addresses
    head = commit(repository, "move prod")
    prod_password = "prod-secret-password"
    cluster = trusted_plan(
        lab_repo, head, base, "prod", code=1, env={**LAB_ENV, "CMS_PROD_PASSWORD": prod_password}
    )
    assert sorted(cluster["access"]["not_contacted"]) == sorted(lab_addresses.nodes)
    assert cluster["access"]["pending"] is True  # only merging can let the new nodes in
    assert digest(prod_password) not in refused_passwords(lab_sim)
    assert logins(lab_sim) == 0


def test_a_pin_alone_does_not_make_a_new_node_contacted(attack: Attack, lab_repo: Path) -> None:
    """A pin merged on its own (say, for another cluster's future node) does not let any
    cluster's pull request send its secret there: only the cluster's own nodes at the trusted
    ref are contacted."""
    repository = git.Repo(lab_repo)
    repository.git.checkout(attack.base, "--", "clusters/lab.yaml")  # this cluster unchanged
    (line,) = attack.attacker.known_hosts_lines()
    pins = lab_repo / "clusters" / "known_hosts"
    assert attack.new_address in pins.read_text()  # the attacker's pin, from the pull request
    base = commit(repository, "the attacker's host pinned on the base branch (reviewed alone)")
    cluster_file = lab_repo / "clusters" / "lab.yaml"
    last = cluster_file.read_text().splitlines(keepends=True)
    node = next(row for row in last if "name: cms3" in row)
    cluster_file.write_text(
        cluster_file.read_text().replace(
            node,
            node + node.replace("cms3", "cms4").replace(attack.address_of_cms3, attack.new_address),
        )
    )
    head = commit(repository, "add cms4 at the pinned address")
    cluster = trusted_plan(lab_repo, head, base, "lab", code=1)
    assert cluster["access"]["not_contacted"] == [attack.new_address]
    assert cluster["access"]["pending"] is True
    assert attack.relay.accepted == 0
    assert line.split(" ", 1)[1] in pins.read_text()
