"""The apply lock: exclusive, names its holder, released only by its own id."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.apply.lock import REMOTE_LOCK, LockHeld, acquire, unlock
from reconciler.errors import ReconcileError
from tests.support.fake_session import FakeSession

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def test_acquire_writes_the_holder_and_release_removes_it(tmp_path: Path) -> None:
    session = FakeSession()
    lock = acquire("lab", session, tmp_path, commit="abc", now=NOW)
    holder = json.loads(session.files[REMOTE_LOCK])
    assert holder["lock_id"] == lock.lock_id
    assert holder["commit"] == "abc"
    assert holder["expires"] == (NOW + timedelta(hours=2)).isoformat()
    lock.release()
    assert REMOTE_LOCK not in session.files


def test_a_second_acquire_names_the_holder(tmp_path: Path) -> None:
    session = FakeSession()
    first = acquire("lab", session, tmp_path / "a", commit="abc", now=NOW)
    with pytest.raises(LockHeld, match=rf"lock id {first.lock_id}"):
        acquire("lab", session, tmp_path / "b", commit="def", now=NOW)
    first.release()
    acquire("lab", session, tmp_path / "b", commit="def", now=NOW).release()


def test_the_local_lock_stops_a_second_apply_on_this_machine(tmp_path: Path) -> None:
    first = acquire("lab", FakeSession(), tmp_path, commit=None, now=NOW)
    with pytest.raises(LockHeld, match="on this machine"):
        acquire("lab", FakeSession(), tmp_path, commit=None, now=NOW)
    first.release()


def test_an_expired_lock_is_not_taken_over_but_explained(tmp_path: Path) -> None:
    session = FakeSession()
    old = acquire("lab", session, tmp_path / "a", commit=None, now=NOW - timedelta(hours=5))
    with pytest.raises(LockHeld, match=f"reconcile unlock --cluster lab --lock-id {old.lock_id}"):
        acquire("lab", session, tmp_path / "b", commit=None, now=NOW)


def test_unlock_needs_the_right_id(tmp_path: Path) -> None:
    session = FakeSession()
    held = acquire("lab", session, tmp_path, commit=None, now=NOW)
    with pytest.raises(ReconcileError, match="left alone"):
        unlock("lab", session, "not-it")
    assert REMOTE_LOCK in session.files
    assert "released" in unlock("lab", session, held.lock_id)
    assert REMOTE_LOCK not in session.files
