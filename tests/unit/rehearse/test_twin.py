"""The twin reports what the live nodes reported: it is built from the read, not guessed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.live.models import MASTER_MARKER
from reconciler.mmp.models import ClusterStatus
from reconciler.mmp.parsers.status import parse_cluster_status
from reconciler.rehearse.twin import build_twin
from tests.unit.rehearse.scenarios import SCENARIOS, named, scenario


def _view(status: ClusterStatus) -> dict[str, object]:
    return {
        "state": status.state,
        "transitional": status.transitional,
        "error": status.error,
        "members": [(m.address, m.me, m.connected, m.role, m.in_sync) for m in status.members],
        "node_in_use": status.node_in_use,
        "certificates": status.certificates.model_dump(),
        "last_command": status.last_command,
        "role": status.role,
    }


REHEARSED = [path for path in SCENARIOS if not scenario(path).plan.blocked]


@pytest.mark.parametrize("path", REHEARSED, ids=[path.stem for path in REHEARSED])
def test_each_twin_node_shows_the_status_its_live_node_showed(path: Path, tmp_path: Path) -> None:
    """For every plan that is rehearsed (a blocked plan is not): the twin's status, read
    through the real shell and parser, is what the node reported, peers' views included."""
    case = scenario(path)
    twin = build_twin(case.desired, case.live, tmp_path)
    compared = 0
    for live in case.live.nodes:
        if not live.readable or live.status is None:
            assert twin.node(live.address).faults.down
            assert any(live.name in assumption for assumption in twin.assumptions)
            continue
        output = twin.session(live.address).run("database cluster status").output
        shown = parse_cluster_status(output)
        expected = _view(live.status)
        if live.status.transitional:  # the twin lets it finish: only the state word matters
            assert shown.state == live.status.state
            continue
        assert _view(shown) == expected, output
        compared += 1
    assert compared > 0


def test_files_the_desired_bundle_holds_are_its_real_bytes_others_stand_in(
    tmp_path: Path,
) -> None:
    case = named("31-rolling-first-replica")
    twin = build_twin(case.desired, case.live, tmp_path)
    for live in case.live.nodes:
        desired = {file.sha256: file for file in case.desired.node(live.address).bundle.files()}
        session = twin.session(live.address)
        for name, file in live.files.items():
            data = session.read_file(name)
            assert data is not None
            if file.sha256 in desired:
                assert data == desired[file.sha256].upload_bytes
            else:
                assert b"-----BEGIN" in data  # a stand-in the device model can use
                assert any(name in a or live.name in a for a in twin.assumptions)


def test_the_master_marker_is_where_the_live_read_found_it(tmp_path: Path) -> None:
    case = named("21-half-all-disabled-with-marker")
    master = case.desired.master.address
    twin = build_twin(case.desired, case.live, tmp_path)
    marker = twin.session(master).read_file(MASTER_MARKER)
    assert marker is not None
    assert json.loads(marker) == case.live.node(master).master_marker


def test_an_unreachable_node_is_down_in_the_twin(tmp_path: Path) -> None:
    case = named("15-unreachable-node")
    down = [node for node in case.live.nodes if not node.reachable]
    assert down
    twin = build_twin(case.desired, case.live, tmp_path)
    for node in down:
        with pytest.raises(Exception, match="connection refused"):
            twin.session(node.address).run("database cluster status")
