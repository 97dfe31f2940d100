"""`reconcile --plan` against the running simulated lab: the seed's rotation, nothing changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningSim, reconcile

pytestmark = pytest.mark.e2e
READ_ONLY_COMMANDS = {"database cluster status"}
READ_ONLY_SFTP = {"get", "stat", "listdir"}


def test_plan_shows_the_seed_rotation_and_changes_nothing(
    running_lab: RunningSim, lab_repo: Path, tmp_path: Path
) -> None:
    cms1, cms2, cms3 = nodes = running_lab.addresses.nodes
    before = {address: running_lab.node(address)["content_id"] for address in nodes}
    result = reconcile(
        "--plan",
        "--cluster",
        "lab",
        "--format",
        "json",
        "--out",
        str(tmp_path / "plan.json"),
        repo=lab_repo,
    )
    assert result.returncode == 2, result.stderr
    plan = json.loads(result.stdout)
    assert plan == json.loads((tmp_path / "plan.json").read_text())
    cluster = plan["clusters"][0]
    assert cluster["strategy"] == "reform"
    actions = [(step["node"], step["action"]) for step in cluster["steps"]]
    removes = [node for node, action in actions if action == "remove"]
    assert removes == [cms2, cms3, cms1]  # slaves first, master last
    assert [node for node, action in actions if action == "initialize"] == [cms1]
    assert [node for node, action in actions if action == "join"] == [cms2, cms3]
    assert (cms2, "initialize") not in actions  # the seed's extra initialize is not copied
    for address in nodes:
        commands = running_lab.log(address, "command")
        assert set(commands) <= READ_ONLY_COMMANDS, commands
        operations = {detail.split(" ")[0] for detail in running_lab.log(address, "sftp")}
        assert operations <= READ_ONLY_SFTP, operations
        assert running_lab.node(address)["content_id"] == before[address]
        assert len(running_lab.log(address, "connect")) == 1


def test_plan_text_and_markdown(running_lab: RunningSim, lab_repo: Path) -> None:
    text = reconcile("--plan", "--cluster", "lab", repo=lab_repo)
    assert text.returncode == 2, text.stderr
    assert f"database cluster join {running_lab.addresses.cms1}" in text.stdout
    assert "Plan: 27 steps on 3 nodes (reform)." in text.stdout
    markdown = reconcile("--plan", "--cluster", "lab", "--format", "markdown", repo=lab_repo)
    assert markdown.returncode == 2
    assert markdown.stdout.startswith("<!-- cms-reconciler plan -->")
    assert "<details>" in markdown.stdout


def test_plan_with_invalid_desired_state_exits_1_without_contacting_nodes(
    running_lab: RunningSim, lab_repo: Path
) -> None:
    (lab_repo / "certs" / "lab" / "CAVD.cer").write_text("garbage\n")
    result = reconcile("--plan", "--cluster", "lab", repo=lab_repo)
    assert result.returncode == 1
    assert "certs/lab/CAVD.cer" in result.stderr
    assert "Traceback" not in result.stderr
    for address in running_lab.addresses.nodes:
        assert running_lab.log(address, "connect") == []
