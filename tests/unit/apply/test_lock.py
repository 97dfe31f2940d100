"""The apply lock: on every node, all or none, names its holder, released only by its id."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.apply.lock import REMOTE_LOCK, acquire, process_start, this_process, unlock
from reconciler.errors import LockFailed, LockHeld, ReconcileError, TransportError
from tests.support.fake_session import FakeSession

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def nodes(*addresses: str) -> dict[str, FakeSession]:
    return {address: FakeSession(node=address) for address in addresses}


def targets(sessions: dict[str, FakeSession]) -> list[tuple[str, FakeSession]]:
    return list(sessions.items())


class Unreachable(FakeSession):
    def create_file(self, name: str, data: bytes) -> bool:
        raise TransportError(self.node, "cannot connect: connection refused")


def test_acquire_locks_every_node_and_release_removes_every_file(tmp_path: Path) -> None:
    cluster = nodes("127.0.0.3", "127.0.0.1", "127.0.0.2")
    lock = acquire("lab", targets(cluster), tmp_path, commit="abc", now=NOW)
    for address, session in cluster.items():
        holder = json.loads(session.files[REMOTE_LOCK])
        assert holder["lock_id"] == lock.lock_id
        assert holder["node"] == address
        assert holder["commit"] == "abc"
        assert holder["expires"] == (NOW + timedelta(hours=2)).isoformat()
    assert [address for address, _ in lock.nodes] == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    assert lock.release() == []
    assert all(REMOTE_LOCK not in session.files for session in cluster.values())


def test_two_applies_naming_different_masters_contend_on_the_same_first_node(
    tmp_path: Path,
) -> None:
    """Defect 2: the lock no longer depends on which node a working copy calls master."""
    cluster = nodes("127.0.0.1", "127.0.0.2", "127.0.0.3")
    first = acquire("lab", targets(cluster), tmp_path / "a", commit="one", now=NOW)
    # The second apply lists the nodes in another order (its master first): same result.
    reordered = [(a, cluster[a]) for a in ("127.0.0.2", "127.0.0.1", "127.0.0.3")]
    with pytest.raises(LockHeld, match=rf"lock id {first.lock_id}"):
        acquire("lab", reordered, tmp_path / "b", commit="two", now=NOW)
    # All or none: the loser left no lock file of its own anywhere.
    assert {json.loads(s.files[REMOTE_LOCK])["lock_id"] for s in cluster.values()} == {
        first.lock_id
    }
    first.release()  # closes the local lock file too


def test_a_failed_acquisition_releases_what_it_took(tmp_path: Path) -> None:
    cluster = nodes("127.0.0.1", "127.0.0.2", "127.0.0.3")
    other = acquire("lab", [("127.0.0.3", cluster["127.0.0.3"])], tmp_path / "a", commit=None)
    with pytest.raises(LockHeld, match=r"on 127\.0\.0\.3"):
        acquire("lab", targets(cluster), tmp_path / "b", commit=None, now=NOW)
    assert REMOTE_LOCK not in cluster["127.0.0.1"].files
    assert REMOTE_LOCK not in cluster["127.0.0.2"].files
    assert json.loads(cluster["127.0.0.3"].files[REMOTE_LOCK])["lock_id"] == other.lock_id
    other.release()  # closes the local lock file too


def test_an_unreachable_node_fails_the_lock_and_releases_the_rest(tmp_path: Path) -> None:
    first = FakeSession(node="127.0.0.1")
    with pytest.raises(LockFailed, match=r"cannot take the apply lock on 127\.0\.0\.2"):
        acquire(
            "lab",
            [("127.0.0.1", first), ("127.0.0.2", Unreachable(node="127.0.0.2"))],
            tmp_path,
            commit=None,
        )
    assert REMOTE_LOCK not in first.files


def test_extend_locks_members_met_later_all_or_none(tmp_path: Path) -> None:
    cluster = nodes("127.0.0.1", "127.0.0.2")
    lock = acquire("lab", targets(cluster), tmp_path, commit=None, now=NOW)
    extra = FakeSession(node="127.0.0.9")
    lock.extend([("127.0.0.9", extra), ("127.0.0.1", cluster["127.0.0.1"])])
    assert json.loads(extra.files[REMOTE_LOCK])["lock_id"] == lock.lock_id
    held = FakeSession(node="127.0.0.8")
    held.files[REMOTE_LOCK] = json.dumps({"lock_id": "someone"}).encode()
    fresh = FakeSession(node="127.0.0.7")
    with pytest.raises(LockHeld, match="someone"):
        lock.extend([("127.0.0.8", held), ("127.0.0.7", fresh)])
    assert REMOTE_LOCK not in fresh.files
    lock.release()
    assert REMOTE_LOCK not in extra.files


def test_the_local_lock_stops_a_second_apply_on_this_machine(tmp_path: Path) -> None:
    first = acquire("lab", targets(nodes("127.0.0.1")), tmp_path, commit=None, now=NOW)
    with pytest.raises(LockHeld, match="on this machine") as raised:
        acquire("lab", targets(nodes("127.0.0.1")), tmp_path, commit=None, now=NOW)
    assert f"reconcile unlock --cluster lab --lock-id {first.lock_id}" in str(raised.value)
    first.release()


def test_the_local_lock_file_is_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        lock = acquire("lab", targets(nodes("127.0.0.1")), tmp_path / "locks", commit=None)
    finally:
        os.umask(old)
    assert (tmp_path / "locks").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "locks" / "lab.lock").stat().st_mode & 0o777 == 0o600
    lock.release()


def dead_pid() -> int:
    process = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(process.stdout)


def test_a_lock_left_by_a_dead_apply_says_so_and_gives_the_unlock_command(
    tmp_path: Path,
) -> None:
    """Defect 6: after kill -9 the next apply learns the holder is gone and how to unlock."""
    session = FakeSession(node="127.0.0.1")
    record = {
        **this_process(),
        "user": "ops",
        "host": socket.gethostname(),
        "lock_id": "deadbeef0001",
        "pid": dead_pid(),
        "time": NOW.isoformat(),
        "expires": (NOW + timedelta(hours=2)).isoformat(),
    }
    session.files[REMOTE_LOCK] = json.dumps(record).encode()
    local = tmp_path / "lab.lock"
    local.write_text(json.dumps(record))
    with pytest.raises(LockHeld) as raised:
        acquire("lab", [("127.0.0.1", session)], tmp_path, commit=None, now=NOW)
    message = str(raised.value)
    assert "no longer running" in message
    assert "reconcile unlock --cluster lab --lock-id deadbeef0001" in message
    # The failed attempt did not overwrite what the holder wrote on this machine.
    assert json.loads(local.read_text())["lock_id"] == "deadbeef0001"


def test_a_lock_held_by_a_live_process_says_it_is_running(tmp_path: Path) -> None:
    session = FakeSession(node="127.0.0.1")
    parent = os.getppid()
    session.files[REMOTE_LOCK] = json.dumps(
        {**this_process(), "lock_id": "live", "pid": parent, "pid_start": process_start(parent)}
    ).encode()
    with pytest.raises(LockHeld, match="still running on this machine") as raised:
        acquire("lab", [("127.0.0.1", session)], tmp_path, commit=None, now=NOW)
    assert "reconcile unlock --cluster lab --lock-id live" in str(raised.value)


def test_a_lock_from_another_host_says_liveness_is_unknown(tmp_path: Path) -> None:
    session = FakeSession(node="127.0.0.1")
    old = acquire(
        "lab", [("127.0.0.1", session)], tmp_path / "a", commit=None, now=NOW - timedelta(hours=5)
    )
    holder = json.loads(session.files[REMOTE_LOCK])
    # Same host name, another machine (two CI containers both called `runner`): unknown.
    session.files[REMOTE_LOCK] = json.dumps({**holder, "machine": "another-machine"}).encode()
    with pytest.raises(LockHeld) as raised:
        acquire("lab", [("127.0.0.1", session)], tmp_path / "b", commit=None, now=NOW)
    message = str(raised.value)
    assert "cannot be told from this machine" in message
    assert "has expired" in message
    assert f"reconcile unlock --cluster lab --lock-id {old.lock_id}" in message
    old.release()  # closes the local lock file too


def test_unlock_needs_the_right_id_and_clears_every_node(tmp_path: Path) -> None:
    cluster = nodes("127.0.0.1", "127.0.0.2")
    held = acquire("lab", targets(cluster), tmp_path, commit=None, now=NOW)
    with pytest.raises(ReconcileError, match="left alone"):
        unlock("lab", targets(cluster), "not-it")
    assert all(REMOTE_LOCK in session.files for session in cluster.values())
    assert "released" in unlock("lab", targets(cluster), held.lock_id)
    assert all(REMOTE_LOCK not in session.files for session in cluster.values())
    assert "not locked" in unlock("lab", targets(cluster), held.lock_id)
    held.release()  # closes the local lock file too


def test_unlock_reports_a_node_it_could_not_reach(tmp_path: Path) -> None:
    class Gone(FakeSession):
        def read_file(self, name: str) -> bytes | None:
            raise TransportError(self.node, "connection refused")

    reachable = FakeSession(node="127.0.0.1")
    reachable.files[REMOTE_LOCK] = json.dumps({"lock_id": "x1"}).encode()
    with pytest.raises(ReconcileError, match="could not check or release") as raised:
        unlock("lab", [("127.0.0.1", reachable), ("127.0.0.2", Gone(node="127.0.0.2"))], "x1")
    assert "released" in str(raised.value)
    assert REMOTE_LOCK not in reachable.files


def test_a_lock_file_that_reads_back_damaged_is_removed_and_reported(tmp_path: Path) -> None:
    class Damaging(FakeSession):
        def create_file(self, name: str, data: bytes) -> bool:
            return super().create_file(name, data.replace(b"lock_id", b"lock_iX"))

    session = Damaging(node="127.0.0.1")
    with pytest.raises(LockFailed, match="read back different"):
        acquire("lab", [("127.0.0.1", session)], tmp_path, commit=None, now=NOW)
    assert REMOTE_LOCK not in session.files


def test_release_retries_a_lost_connection_over_a_new_one(tmp_path: Path) -> None:
    class Lost(FakeSession):
        def read_file(self, name: str) -> bytes | None:
            raise TransportError(self.node, "the SSH connection was lost")

    files: dict[str, bytes] = {}
    first = FakeSession(node="127.0.0.1")
    first.files = files
    lock = acquire("lab", [("127.0.0.1", first)], tmp_path, commit=None, now=NOW)
    broken = Lost(node="127.0.0.1")
    lock.nodes = [("127.0.0.1", broken)]
    assert lock.release() != []  # without a way to reconnect, the problem is reported
    assert REMOTE_LOCK in files

    files.clear()
    lock = acquire("lab", [("127.0.0.1", first)], tmp_path, commit=None, now=NOW)
    lock.nodes = [("127.0.0.1", broken)]
    fresh = FakeSession(node="127.0.0.1")
    fresh.files = files
    assert lock.release(reopen=lambda address: fresh) == []
    assert REMOTE_LOCK not in files


def test_a_reused_pid_is_not_taken_for_the_holder(tmp_path: Path) -> None:
    """Review finding: a pid alone (or a host name) does not identify the holder."""
    session = FakeSession(node="127.0.0.1")
    parent = os.getppid()
    session.files[REMOTE_LOCK] = json.dumps(
        {**this_process(), "lock_id": "old", "pid": parent, "pid_start": "1"}
    ).encode()
    with pytest.raises(LockHeld, match="no longer running"):
        acquire("lab", [("127.0.0.1", session)], tmp_path, commit=None, now=NOW)


def test_another_applys_record_is_never_removed_even_after_a_create_that_succeeded(
    tmp_path: Path,
) -> None:
    """A node that ignored the exclusive create: what reads back is another apply's lock."""

    class NoExclusive(FakeSession):
        def create_file(self, name: str, data: bytes) -> bool:
            self.files[name] = self.files.get(name, data)  # keeps the other's file
            return True

    session = NoExclusive(node="127.0.0.1")
    other = json.dumps({"lock_id": "0123456789ab", "user": "b", "host": "h"}).encode()
    session.files[REMOTE_LOCK] = other
    with pytest.raises(LockHeld, match="0123456789ab"):
        acquire("lab", [("127.0.0.1", session)], tmp_path, commit=None, now=NOW)
    assert session.files[REMOTE_LOCK] == other


def test_every_lock_file_names_every_locked_node(tmp_path: Path) -> None:
    cluster = nodes("127.0.0.1", "127.0.0.2")
    lock = acquire("lab", targets(cluster), tmp_path, commit=None, now=NOW)
    extra = FakeSession(node="127.0.0.9")
    lock.extend([("127.0.0.9", extra)])
    for session in [*cluster.values(), extra]:
        assert json.loads(session.files[REMOTE_LOCK])["nodes"] == [
            "127.0.0.1",
            "127.0.0.2",
            "127.0.0.9",
        ]
    local = json.loads((tmp_path / "lab.lock").read_text())
    assert local["nodes"] == ["127.0.0.1", "127.0.0.2", "127.0.0.9"]
    lock.release()


def test_unlock_also_releases_nodes_the_lock_file_names(tmp_path: Path) -> None:
    """Review finding: a member dropped by the crashed apply kept its lock file."""
    cluster = nodes("127.0.0.1", "127.0.0.2")
    dropped = FakeSession(node="127.0.0.3")
    lock = acquire("lab", targets(cluster), tmp_path, commit=None, now=NOW)
    lock.extend([("127.0.0.3", dropped)])
    message = unlock("lab", targets(cluster), lock.lock_id, member=lambda address: dropped)
    assert "127.0.0.3" in message
    assert REMOTE_LOCK not in dropped.files
    lock.release()  # closes the local lock file too
