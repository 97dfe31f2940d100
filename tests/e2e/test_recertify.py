"""Issue 23, item 6, end to end: a node running certificates it loaded from other files than
those on its disk, which plan and status can only call converged and healthy (and say what
they could not see), and `reconcile plan --recertify` re-loading them.

The simulator keeps what `database cluster certs` loaded apart from the files, as the device
does (reference §1.2, §3.4: the service runs what `certs` loaded; status shows only names).
The state is reached as an operator would reach it: the cluster converged on the lab's
bundle, then a new bundle committed to git and copied onto every node by hand under the same
names (an SFTP upload), without `database cluster certs`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.simulator.scenario import device_bytes
from reconciler.simulator.service import SimulatedCluster
from tests.e2e.conftest import reconcile
from tests.e2e.test_certs import commit_all, make_ca
from tests.support.lab import LAB_BUNDLE

pytestmark = pytest.mark.e2e
NODES = ("cms1", "cms2", "cms3")
ROLES = ("server_key", "server_cert", "client_key", "client_cert", "ca_cert")
CAVEAT = "loaded_certificates_unverified"


def bundle_hashes(repo: Path) -> dict[str, str]:
    """sha256 of each file of certs/lab/ as the device holds it (keys decrypted), by role."""
    folder = repo / "certs" / "lab"
    return {
        role: hashlib.sha256(device_bytes(folder / name, "cms-lab")).hexdigest()
        for role, name in zip(ROLES, LAB_BUNDLE, strict=True)
    }


def loaded_hashes(sim: SimulatedCluster) -> dict[str, dict[str, str]]:
    """What each node's database service runs: the contents `certs` loaded, by role."""
    return {
        node["name"]: {role: node["certs"][role]["sha256"] for role in ROLES}
        for node in sim.snapshot()["nodes"]
    }


def json_of(*args: str, repo: Path, expect: int) -> dict[str, Any]:
    result = reconcile(*args, "--cluster", "lab", "--format", "json", repo=repo)
    assert result.returncode == expect, result.stdout + result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.mark.reliability(
    section="truthful",
    case="a node running certificates loaded from other files than on its disk: plan and "
    "status say converged/healthy with the caveat; plan --recertify re-loads them (re-form, "
    "backups first, the master's database kept) and the applied plan file converges",
)
def test_recertify_reloads_certificates_the_files_on_disk_cannot_show(
    lab_sim: SimulatedCluster, lab_repo: Path, tmp_path: Path
) -> None:
    commit_all(lab_repo, "lab")
    first = reconcile("apply", "--cluster", "lab", "--auto-approve", repo=lab_repo)
    assert first.returncode == 0, first.stdout + first.stderr
    old = bundle_hashes(lab_repo)
    assert loaded_hashes(lab_sim) == dict.fromkeys(NODES, old)

    # A new bundle in git, copied onto every node by hand: on disk, never loaded.
    ca_cert, ca_key, _, _ = make_ca(tmp_path / "ca")
    issued = reconcile(
        "certs",
        "issue",
        "--cluster",
        "lab",
        "--ca-cert",
        str(ca_cert),
        "--ca-key",
        str(ca_key),
        "--ca-key-passphrase-env",
        "TEST_CA_PASSPHRASE",
        "--key-size",
        "2048",
        repo=lab_repo,
        env={"TEST_CA_PASSPHRASE": "ca passphrase"},
    )
    assert issued.returncode == 0, issued.stdout + issued.stderr
    commit_all(lab_repo, "the new bundle")
    new = bundle_hashes(lab_repo)
    for node in NODES:
        for name in LAB_BUNDLE:
            data = device_bytes(lab_repo / "certs" / "lab" / name, "cms-lab")
            lab_sim.node(node).file_path(name).write_bytes(data)
    assert loaded_hashes(lab_sim) == dict.fromkeys(NODES, old)  # they still run the old one
    assert all(old[role] != new[role] for role in ROLES)

    # What plan and status can see is the files: converged and healthy, and they say so.
    plan = json_of("plan", repo=lab_repo, expect=0)
    (cluster,) = plan["clusters"]
    assert cluster["steps"] == []
    assert [caveat["kind"] for caveat in cluster["caveats"]] == [CAVEAT]
    text = reconcile("plan", "--cluster", "lab", repo=lab_repo)
    assert text.returncode == 0, text.stdout + text.stderr
    assert "No changes. Cluster lab is converged." in text.stdout
    assert text.stdout.count("Note: certificates are judged from the files on each node") == 1
    assert "reconcile plan --recertify" in text.stdout
    status = json_of("status", repo=lab_repo, expect=0)
    (judged,) = status["clusters"]
    assert judged["problems"] == []
    assert [caveat["kind"] for caveat in judged["caveats"]] == [CAVEAT]

    # --recertify: the rotation's re-form, rehearsed, saved; the file records the option.
    saved = tmp_path / "recertify.json"
    planned = json_of(
        "plan", "--recertify", "--rehearse", "--out", str(saved), repo=lab_repo, expect=2
    )
    assert planned["recertify"] is True
    (cluster,) = planned["clusters"]
    assert cluster["strategy"] == "reform"
    assert cluster["caveats"] == []
    assert cluster["rehearsal"]["converges"] is True
    actions = [step["action"] for step in cluster["steps"]]
    assert "upload" not in actions  # the files are right; only what is loaded is not known
    assert actions[:3] == ["backup"] * 3
    assert actions.count("certs") == 3
    assert actions.count("initialize") == 1
    master = lab_sim.node("cms1")
    assert cluster["data_authority"]["source"] == master.address
    assert cluster["data_authority"]["master_change"] is False

    # An edited file (the option dropped) is not what this plans: refused, nothing sent.
    edited = tmp_path / "edited.json"
    edited.write_text(saved.read_text().replace('"recertify": true', '"recertify": false'))
    before = {node: list(lab_sim.commands(node)) for node in NODES}
    refused = reconcile("apply", "--plan-file", str(edited), "--auto-approve", repo=lab_repo)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "not what this version plans" in refused.stderr
    for node in NODES:
        sent = lab_sim.commands(node)[len(before[node]) :]
        assert set(sent) <= {"database cluster status"}, sent

    # Apply exactly the reviewed file, with no flag: the file says to re-load.
    master_data = master.content_id
    applied = reconcile("apply", "--plan-file", str(saved), "--auto-approve", repo=lab_repo)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert loaded_hashes(lab_sim) == dict.fromkeys(NODES, new)
    snapshot = lab_sim.snapshot()
    assert {node["name"]: node["role"] for node in snapshot["nodes"]} == {
        "cms1": "master",
        "cms2": "replica",
        "cms3": "replica",
    }
    assert {node["content_id"] for node in snapshot["nodes"]} == {master_data}  # kept
    for node in NODES:
        backups = lab_repo / ".reconcile" / "backups" / "lab" / node
        assert len([path for path in backups.iterdir() if path.suffix == ".bak"]) == 2
    after = json_of("plan", repo=lab_repo, expect=0)
    assert after["clusters"][0]["steps"] == []
