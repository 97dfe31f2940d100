"""Two applies never run on one cluster at once.

A local file lock stops two applies from this machine; a lock file on the desired master,
created with an exclusive SFTP open, stops two applies from different machines (CI and a
laptop). A lock that is held names its holder; a stale one is released with
``reconcile unlock --cluster NAME --lock-id ID``, never silently taken over.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from reconciler.apply.journal import operator
from reconciler.errors import ReconcileError
from reconciler.mmp.session import MMPSession

REMOTE_LOCK = "reconcile-apply.lock"
DEFAULT_TTL = timedelta(hours=2)


class LockHeld(ReconcileError):
    """Another apply holds the cluster's lock."""


@dataclass
class ApplyLock:
    cluster: str
    lock_id: str
    session: MMPSession
    _local: IO[str]

    def release(self) -> None:
        try:
            current = _read_remote(self.session)
            if current is not None and current.get("lock_id") == self.lock_id:
                self.session.remove_file(REMOTE_LOCK)
        finally:
            fcntl.flock(self._local.fileno(), fcntl.LOCK_UN)
            self._local.close()


def _describe(holder: dict[str, Any]) -> str:
    return (
        f"held by {holder.get('user', '?')}@{holder.get('host', '?')} since "
        f"{holder.get('time', '?')} (commit {holder.get('commit') or '?'}, expires "
        f"{holder.get('expires', '?')}, lock id {holder.get('lock_id', '?')})"
    )


def _read_remote(session: MMPSession) -> dict[str, Any] | None:
    data = session.read_file(REMOTE_LOCK)
    if data is None:
        return None
    try:
        holder: dict[str, Any] = json.loads(data)
    except ValueError:
        return {"lock_id": "?", "unreadable": data[:200].decode(errors="replace")}
    return holder


def acquire(
    cluster: str,
    session: MMPSession,
    local_dir: Path,
    *,
    commit: str | None,
    now: datetime | None = None,
    ttl: timedelta = DEFAULT_TTL,
) -> ApplyLock:
    """Take the local lock, then the lock file on the desired master; or say who holds it."""
    moment = now or datetime.now(UTC)
    local_dir.mkdir(parents=True, exist_ok=True)
    local_path = local_dir / f"{cluster}.lock"
    local = local_path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(local.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        local.seek(0)
        running = local.read().strip() or "another process"
        local.close()
        raise LockHeld(
            f"cluster {cluster}: another apply is running on this machine ({running})"
        ) from None
    lock_id = uuid.uuid4().hex[:12]
    record = {
        **operator(),
        "cluster": cluster,
        "commit": commit,
        "time": moment.isoformat(),
        "expires": (moment + ttl).isoformat(),
        "lock_id": lock_id,
        "pid": os.getpid(),
    }
    local.seek(0)
    local.truncate()
    local.write(json.dumps(record))
    local.flush()
    try:
        created = session.create_file(REMOTE_LOCK, json.dumps(record, indent=2).encode())
        holder = _read_remote(session)
        if not created or holder is None or holder.get("lock_id") != lock_id:
            stale = ""
            if holder is not None and str(holder.get("expires", "")) < moment.isoformat():
                stale = " It has expired: if no apply is running, release it with "
                stale += (
                    f"`reconcile unlock --cluster {cluster} --lock-id {holder.get('lock_id')}`."
                )
            raise LockHeld(
                f"cluster {cluster} is locked by another apply: {_describe(holder or {})}.{stale}"
            )
    except BaseException:
        fcntl.flock(local.fileno(), fcntl.LOCK_UN)
        local.close()
        raise
    return ApplyLock(cluster, lock_id, session, local)


def unlock(cluster: str, session: MMPSession, lock_id: str) -> str:
    """Release a stale lock; only the lock with this id (so a live apply is not broken)."""
    holder = _read_remote(session)
    if holder is None:
        return f"cluster {cluster} is not locked"
    if holder.get("lock_id") != lock_id:
        raise ReconcileError(
            f"cluster {cluster}: the lock is {_describe(holder)}; it does not have the id "
            f"{lock_id}, so it was left alone"
        )
    session.remove_file(REMOTE_LOCK)
    return f"cluster {cluster}: released the lock {_describe(holder)}"
