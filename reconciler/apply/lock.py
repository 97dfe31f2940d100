"""Two applies never run on one cluster at once, whatever master each of them names.

A local file lock per cluster stops two applies from this machine; a lock file on every
node the apply may touch, each created with an exclusive SFTP open, stops two applies from
different machines or working copies (CI and a laptop, or two commits naming different
masters). Nodes are locked in one fixed order (by address) and all or none: the first apply
to reach the lowest address wins and the other stops before any command. A lock that is
held names its holder, says whether it is still running when that can be known, and gives
the exact ``reconcile unlock`` command; a stale lock is never silently taken over.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from reconciler.addresses import canonical_address
from reconciler.apply.journal import operator
from reconciler.errors import ReconcileError
from reconciler.mmp.session import MMPSession
from reconciler.workdir import PRIVATE_FILE_MODE, private_dir

REMOTE_LOCK = "reconcile-apply.lock"
DEFAULT_TTL = timedelta(hours=2)

LockTarget = tuple[str, MMPSession]
"""A node to lock: its address and the session to it."""
Reopen = Callable[[str], MMPSession]
"""A new session to the node at this address (the old connection was lost)."""


class LockHeld(ReconcileError):
    """Another apply holds the cluster's lock."""


class LockFailed(ReconcileError):
    """The lock could not be taken for another reason (a node unreachable, a bad write)."""


def unlock_command(cluster: str, lock_id: object) -> str:
    return f"reconcile unlock --cluster {cluster} --lock-id {lock_id}"


def _describe(holder: dict[str, Any]) -> str:
    return (
        f"held by {holder.get('user', '?')}@{holder.get('host', '?')} since "
        f"{holder.get('time', '?')} (commit {holder.get('commit') or '?'}, expires "
        f"{holder.get('expires', '?')}, lock id {holder.get('lock_id', '?')})"
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def holder_liveness(holder: dict[str, Any]) -> str:
    """Whether the holder still runs, when this machine can tell (same host: its pid)."""
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int):
        return "Whether that apply is still running cannot be told from this machine."
    if _pid_alive(pid):
        return f"That apply is still running on this machine (pid {pid}): wait for it to end."
    return (
        f"That apply (pid {pid} on this machine) is no longer running: it crashed or was "
        "killed, and left the lock behind."
    )


def _held_message(cluster: str, node: str, holder: dict[str, Any], now: datetime) -> str:
    lock_id = holder.get("lock_id", "?")
    expired = str(holder.get("expires", "")) < now.isoformat()
    return (
        f"cluster {cluster} is locked by another apply (lock file {REMOTE_LOCK} on {node}): "
        f"{_describe(holder)}.{' The lock has expired.' if expired else ''} "
        f"{holder_liveness(holder)} If no apply is running on this cluster, release the lock "
        f"with `{unlock_command(cluster, lock_id)}` and run `reconcile plan` to see where the "
        "cluster was left."
    )


def _read_remote(session: MMPSession) -> dict[str, Any] | None:
    data = session.read_file(REMOTE_LOCK)
    if data is None:
        return None
    try:
        holder = json.loads(data)
    except ValueError:
        holder = None
    if not isinstance(holder, dict):
        return {"lock_id": "?", "unreadable": data[:200].decode(errors="replace")}
    return holder


def _ordered(targets: Sequence[LockTarget]) -> list[LockTarget]:
    """One order for every apply, so two of them always contend on the same first node."""
    unique = {canonical_address(address): (address, session) for address, session in targets}
    return [unique[key] for key in sorted(unique)]


@dataclass
class ClusterLock:
    """The cluster's lock, held on this machine and on every node in ``nodes``."""

    cluster: str
    lock_id: str
    record: dict[str, Any]
    _local: IO[str]
    _local_path: Path
    nodes: list[LockTarget] = field(default_factory=list)

    def extend(self, targets: Sequence[LockTarget], now: datetime | None = None) -> None:
        """Also lock these nodes (members met only in the live state); all or none."""
        held = {canonical_address(address) for address, _ in self.nodes}
        fresh = [target for target in _ordered(targets) if canonical_address(target[0]) not in held]
        taken: list[LockTarget] = []
        try:
            for target in fresh:
                taken.append(target)
                self._take(*target, now or datetime.now(UTC))
        except BaseException:
            for _, session in reversed(taken):
                with suppress(ReconcileError):
                    _remove_if_ours(session, self.lock_id)
            raise
        self.nodes.extend(taken)

    def _take(self, address: str, session: MMPSession, now: datetime) -> None:
        payload = json.dumps({**self.record, "node": address}, indent=2).encode()
        try:
            created = session.create_file(REMOTE_LOCK, payload)
            holder = _read_remote(session)
        except ReconcileError as error:
            raise LockFailed(
                f"cluster {self.cluster}: cannot take the apply lock on {address}: {error}. "
                "Apply locks every node it may change, so every node must be reachable"
            ) from error
        if holder is not None and holder.get("lock_id") == self.lock_id:
            return
        if created:  # ours (exclusive create), but it did not read back as written
            with suppress(ReconcileError):
                session.remove_file(REMOTE_LOCK)
            raise LockFailed(
                f"cluster {self.cluster}: the apply lock file written on {address} read back "
                "different from what was written; the node's file area is not storing files "
                "faithfully, so nothing was changed"
            )
        raise LockHeld(_held_message(self.cluster, address, holder or {}, now))

    def release(self, reopen: Reopen | None = None) -> list[str]:
        """Remove this lock's files (only where they still carry its id); the problems.

        A node whose connection was lost (the failure that stopped the apply, often) is
        tried once more over a new connection when ``reopen`` can make one."""
        problems = []
        try:
            for address, session in reversed(self.nodes):
                try:
                    _remove_if_ours(session, self.lock_id)
                except ReconcileError as error:
                    problem = str(error)
                    if reopen is not None:
                        try:
                            _remove_if_ours(reopen(address), self.lock_id)
                            continue
                        except ReconcileError as again:
                            problem = str(again)
                    problems.append(f"{address}: {problem}")
            self.nodes.clear()
        finally:
            self._local.seek(0)
            self._local.truncate()
            self._local.flush()
            fcntl.flock(self._local.fileno(), fcntl.LOCK_UN)
            self._local.close()
        return problems


def _remove_if_ours(session: MMPSession, lock_id: str) -> None:
    current = _read_remote(session)
    if current is not None and current.get("lock_id") == lock_id:
        session.remove_file(REMOTE_LOCK)


def _open_local(cluster: str, local_dir: Path) -> tuple[IO[str], Path]:
    """The cluster's local lock file, opened without truncating it: while another process
    holds it, what it wrote there must survive for the next message."""
    private_dir(local_dir)
    path = local_dir / f"{cluster}.lock"
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    os.fchmod(descriptor, PRIVATE_FILE_MODE)
    return os.fdopen(descriptor, "r+", encoding="utf-8"), path


def _local_holder_message(cluster: str, text: str) -> str:
    try:
        holder = json.loads(text)
    except ValueError:
        holder = None
    if not isinstance(holder, dict):
        return (
            f"cluster {cluster}: another apply on this machine is taking the lock; wait for "
            "it to end"
        )
    return (
        f"cluster {cluster}: another apply is running on this machine: {_describe(holder)}. "
        f"{holder_liveness(holder)} When it has ended, and only then, a lock it left on the "
        f"nodes is released with `{unlock_command(cluster, holder.get('lock_id', '?'))}`"
    )


def acquire(
    cluster: str,
    targets: Sequence[LockTarget],
    local_dir: Path,
    *,
    commit: str | None,
    now: datetime | None = None,
    ttl: timedelta = DEFAULT_TTL,
) -> ClusterLock:
    """Take the local lock, then the lock file on every node in address order; or say who
    holds it. On any failure nothing stays locked by this call."""
    moment = now or datetime.now(UTC)
    local, local_path = _open_local(cluster, local_dir)
    try:
        fcntl.flock(local.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        text = local.read().strip()
        local.close()
        raise LockHeld(_local_holder_message(cluster, text)) from None
    lock_id = uuid.uuid4().hex[:12]
    record: dict[str, Any] = {
        **operator(),
        "cluster": cluster,
        "commit": commit,
        "time": moment.isoformat(),
        "expires": (moment + ttl).isoformat(),
        "lock_id": lock_id,
        "pid": os.getpid(),
    }
    lock = ClusterLock(cluster, lock_id, record, local, local_path)
    try:
        lock.extend(targets, moment)
    except BaseException:
        fcntl.flock(local.fileno(), fcntl.LOCK_UN)
        local.close()
        raise
    # Only now is this apply the holder: a failed attempt leaves the file as it found it.
    local.seek(0)
    local.truncate()
    local.write(json.dumps(record))
    local.flush()
    return lock


def unlock(cluster: str, targets: Sequence[LockTarget], lock_id: str) -> str:
    """Release a stale lock on every node that carries it; only the lock with this id (so
    a live apply is not broken). Nodes that cannot be reached are reported, not skipped."""
    released: list[str] = []
    refused: list[str] = []
    unreachable: list[str] = []
    holders: list[dict[str, Any]] = []
    for address, session in _ordered(targets):
        try:
            holder = _read_remote(session)
            if holder is None:
                continue
            if holder.get("lock_id") != lock_id:
                refused.append(f"{address}: the lock there is {_describe(holder)}")
                continue
            session.remove_file(REMOTE_LOCK)
        except ReconcileError as error:
            unreachable.append(f"{address}: {error}")
            continue
        released.append(address)
        holders.append(holder)
    lines = []
    if released:
        lines.append(
            f"cluster {cluster}: released the lock {_describe(holders[0])} on "
            + ", ".join(released)
        )
    if refused:
        lines.append(
            f"cluster {cluster}: left alone (not lock id {lock_id}):\n  " + "\n  ".join(refused)
        )
    if unreachable:
        lines.append(
            f"cluster {cluster}: could not check or release (run unlock again when they are "
            "reachable):\n  " + "\n  ".join(unreachable)
        )
    if refused or unreachable:
        raise ReconcileError("\n".join(lines))
    return "\n".join(lines) if lines else f"cluster {cluster} is not locked"
