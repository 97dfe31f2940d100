"""Hostile names in a pull request: refused before any node is contacted, the real CLI.

One cluster file carries the same hostile string three ways: in a certificate's path (its
basename would be the SFTP name and an argument of ``database cluster certs``), in a
remote file name, and in a node's name (matched against the MMP prompt). ``validate``
names every one with file and key; ``plan`` and ``apply`` refuse; and the simulator's log
shows that no node saw a connection, a command or an SFTP operation.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.simulator.service import SimulatedCluster
from tests.e2e.conftest import reconcile

pytestmark = pytest.mark.e2e

HOSTILE = {
    "space": "db server",
    "semicolon": "x;database cluster remove",
    "newline": "x\ndatabase cluster remove",
    "dot-dot": "../../x",
    "absolute": "/etc/x",
    "nul": "x\x00y",
    "non-ascii": "sérveur",
}
INJECTIONS = ("semicolon", "newline")
KEYS = ("certs.server_key", "certs.client_cert.remote_name", "nodes[1].name")


def _hostile_cluster(repo: Path, hostile: str, outside: Path, *, only_path: bool = False) -> None:
    """Put ``hostile`` in a cert path (the file exists where it can), a remote name and a
    node name of the lab's cluster file (``only_path``: in the path alone)."""
    cluster_file = repo / "clusters" / "lab.yaml"
    doc: dict[str, Any] = yaml.safe_load(cluster_file.read_text())
    key = repo / "certs" / "lab" / "dbclusterserver.key"
    if hostile.startswith("/"):
        path = str(outside / "x.key")
        shutil.copy(key, path)
    elif hostile.startswith(".."):
        path = f"{hostile}.key"
        (repo / path).resolve().parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(key, (repo / path).resolve())
    else:
        path = f"certs/lab/{hostile}.key"
        if "\x00" not in path:
            shutil.copy(key, repo / path)
    doc["certs"]["server_key"] = path
    if not only_path:
        doc["certs"]["client_cert"] = {
            "path": doc["certs"]["client_cert"],
            "remote_name": f"{hostile}.cer",
        }
        doc["nodes"][1]["name"] = hostile
    cluster_file.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))


def _refused_keys(repo: Path) -> set[str]:
    """The keys ``validate`` refuses, each finding checked for file and a one-line message."""
    validate = reconcile("validate", "--cluster", "lab", "--format", "json", repo=repo)
    assert validate.returncode == 1, validate.stdout + validate.stderr
    _clean(validate)
    [cluster] = yaml.safe_load(validate.stdout)["clusters"]
    errors = [f for f in cluster["findings"] if f["severity"] == "error"]
    assert all(f["file"] == "clusters/lab.yaml" for f in errors)
    assert all("\n" not in f["message"] for f in errors)
    return {key for key in KEYS for f in errors if f["key"].startswith(key)}


def _log(sim: SimulatedCluster) -> list[dict[str, Any]]:
    return [entry for node in sim.snapshot()["nodes"] for entry in node["log"]]


def _clean(result: subprocess.CompletedProcess[str]) -> None:
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert "\x00" not in output


@pytest.mark.reliability(
    section="hostile-input",
    case="hostile cert, remote and node names (space, ';', newline, '../', '/', NUL, "
    "non-ASCII): validate names each, plan and apply refuse, no node contacted",
)
@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_names_never_reach_a_node(
    kind: str, lab_sim: SimulatedCluster, lab_repo: Path, tmp_path: Path
) -> None:
    original = (lab_repo / "clusters" / "lab.yaml").read_text()
    _hostile_cluster(lab_repo, HOSTILE[kind], tmp_path)
    refused = _refused_keys(lab_repo)
    assert {"certs.client_cert.remote_name", "nodes[1].name"} <= refused, refused
    commands = [["--plan", "--cluster", "lab"]]
    if kind in INJECTIONS:  # apply reads the same way; proved once per injection, for time
        commands.append(["--apply", "--auto-approve", "--allow-dirty", "--cluster", "lab"])
    for command in commands:
        result = reconcile(*command, repo=lab_repo)
        assert result.returncode == 1, result.stdout + result.stderr
        assert result.stderr.startswith("error: "), result.stderr
        assert "clusters/lab.yaml" in result.stderr
        _clean(result)
    if "certs.server_key" not in refused:
        # A basename that is no MMP file name is judged with the files, after the structure:
        # with the structure fixed, the path alone is refused too.
        (lab_repo / "clusters" / "lab.yaml").write_text(original)
        _hostile_cluster(lab_repo, HOSTILE[kind], tmp_path, only_path=True)
        assert _refused_keys(lab_repo) == {"certs.server_key"}
        plan = reconcile(*commands[0], repo=lab_repo)
        assert plan.returncode == 1
        assert "certs.server_key" in plan.stderr
        _clean(plan)

    assert _log(lab_sim) == [], "a node was contacted"
    assert not (lab_repo / ".reconcile" / "journal").exists()
