"""`reconcile hostkeys` over real SSH: fingerprints against pins, with no login at all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.simulator.service import SimulatedCluster
from tests.e2e.conftest import reconcile
from tests.e2e.test_import import RecordingUsers
from tests.support.lab import LabAddresses

pytestmark = pytest.mark.e2e

OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBU1Bomln9fH1wq1eHPydG0OgwnP0q9H3xcqCnXLIEAA"


def pins(repo: Path) -> Path:
    return repo / "clusters" / "known_hosts"


def edit_pin(repo: Path, addresses: LabAddresses, address: str, key: str | None) -> None:
    """Replace (or, with None, drop) the pin of ``address``."""
    lines = []
    for line in pins(repo).read_text().splitlines():
        if line.startswith(f"{addresses.pin(address)} "):
            if key is None:
                continue
            line = f"{addresses.pin(address)} {key}"
        lines.append(line)
    pins(repo).write_text("\n".join(lines) + "\n")


def nobody_logged_in(sim: SimulatedCluster) -> None:
    for node in sim.snapshot()["nodes"]:
        assert node["log"] == [], node["name"]


def no_traceback(*results: Any) -> None:
    for result in results:
        assert "Traceback" not in result.stdout + result.stderr


def test_pinned_keys_are_shown_without_logging_in(
    lab_sim: SimulatedCluster, lab_repo: Path, lab_addresses: LabAddresses
) -> None:
    users = RecordingUsers.install(lab_sim)
    result = reconcile("hostkeys", repo=lab_repo, env={"CMS_LAB_PASSWORD": ""})
    assert result.returncode == 0, result.stdout + result.stderr
    for name, address in lab_addresses.by_name.items():
        line = next(line for line in result.stdout.splitlines() if line.startswith(f"  {name} "))
        assert lab_addresses.pin(address) in line
        assert "ssh-ed25519 SHA256:" in line
        assert "  pinned (clusters/known_hosts line " in line
    assert "3 nodes: 3 pinned" in result.stdout
    nobody_logged_in(lab_sim)
    assert users.lookups == 0
    no_traceback(result)


def test_write_pins_a_new_key_and_never_a_changed_one(
    lab_sim: SimulatedCluster, lab_repo: Path, lab_addresses: LabAddresses
) -> None:
    edit_pin(lab_repo, lab_addresses, lab_addresses.cms3, None)
    edit_pin(lab_repo, lab_addresses, lab_addresses.cms2, OTHER_KEY)
    new_line = next(
        line
        for line in lab_sim.known_hosts_lines()
        if line.startswith(lab_addresses.pin(lab_addresses.cms3))
    )

    shown = reconcile("hostkeys", "--cluster", "lab", repo=lab_repo)
    assert shown.returncode == 1
    assert "NOT PINNED" in shown.stdout
    assert new_line in shown.stdout  # the exact line to add
    assert "CHANGED" in shown.stdout
    assert new_line not in pins(lab_repo).read_text()

    written = reconcile("hostkeys", "--cluster", "lab", "--write", repo=lab_repo)
    assert written.returncode == 1  # cms2 still CHANGED
    assert "pinned now" in written.stdout
    assert "appended 1 line to clusters/known_hosts" in written.stdout
    text = pins(lab_repo).read_text()
    assert text.splitlines()[-1] == new_line
    assert f"{lab_addresses.pin(lab_addresses.cms2)} {OTHER_KEY}" in text  # left alone

    again = reconcile("hostkeys", "--cluster", "lab", "--write", repo=lab_repo)
    assert again.returncode == 1
    assert pins(lab_repo).read_text() == text  # nothing appended twice

    edit_pin(lab_repo, lab_addresses, lab_addresses.cms2, None)
    fixed = reconcile("hostkeys", "--write", repo=lab_repo)
    assert fixed.returncode == 0, fixed.stdout
    final = reconcile("hostkeys", repo=lab_repo)
    assert final.returncode == 0
    assert "3 nodes: 3 pinned" in final.stdout
    nobody_logged_in(lab_sim)
    no_traceback(shown, written, again, fixed, final)


def test_a_revoked_key_and_an_unreachable_node(
    lab_sim: SimulatedCluster, lab_repo: Path, lab_addresses: LabAddresses
) -> None:
    cms1_key = next(
        line.split(" ", 1)[1]
        for line in lab_sim.known_hosts_lines()
        if line.startswith(lab_addresses.pin(lab_addresses.cms1))
    )
    with pins(lab_repo).open("a") as handle:
        handle.write(f"@revoked * {cms1_key}\n")
    lab_sim.set_down("cms3")
    before = pins(lab_repo).read_text()
    result = reconcile("hostkeys", "--write", repo=lab_repo)
    assert result.returncode == 1
    assert "REVOKED" in result.stdout
    assert "UNREACHABLE" in result.stdout
    assert pins(lab_repo).read_text() == before
    nobody_logged_in(lab_sim)
    no_traceback(result)
