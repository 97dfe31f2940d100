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
import hashlib
import json
import os
import uuid
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from reconciler.addresses import canonical_address
from reconciler.apply.journal import operator
from reconciler.errors import LockFailed, LockHeld, ReconcileError
from reconciler.mmp.session import MMPSession
from reconciler.workdir import PRIVATE_FILE_MODE, private_dir

REMOTE_LOCK = "reconcile-apply.lock"
DEFAULT_TTL = timedelta(hours=2)

LockTarget = tuple[str, MMPSession]
"""A node to lock: its address and the session to it."""
Reopen = Callable[[str], MMPSession]
"""A new session to the node at this address (the old connection was lost)."""


def unlock_command(cluster: str, lock_id: object) -> str:
    return f"reconcile unlock --cluster {cluster} --lock-id {lock_id}"


def _describe(holder: dict[str, Any]) -> str:
    return (
        f"held by {holder.get('user', '?')}@{holder.get('host', '?')} since "
        f"{holder.get('time', '?')} (commit {holder.get('commit') or '?'}, expires "
        f"{holder.get('expires', '?')}, lock id {holder.get('lock_id', '?')})"
    )


def _read_text(path: str) -> str | None:
    try:
        return Path(path).read_text().strip() or None
    except OSError:
        return None


def process_start(pid: int) -> str | None:
    """The process's start time (clock ticks since boot), so a reused pid is not mistaken
    for the holder."""
    stat = _read_text(f"/proc/{pid}/stat")
    if stat is None:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None  # field 22 of proc(5)


def this_process() -> dict[str, Any]:
    """What identifies this process across machines: a host name alone does not (two CI
    containers are both `runner`), the machine id and boot id do, with the pid's start."""
    machine = _read_text("/etc/machine-id")
    pid = os.getpid()
    return {
        "pid": pid,
        "machine": hashlib.sha256(machine.encode()).hexdigest()[:16] if machine else None,
        "boot": _read_text("/proc/sys/kernel/random/boot_id"),
        "pid_start": process_start(pid),
    }


def holder_liveness(holder: dict[str, Any]) -> str:
    """Whether the holder still runs, when this machine can tell: the same machine and boot
    (not merely the same host name) and the pid's start time."""
    pid = holder.get("pid")
    me = this_process()
    same_machine = (
        me["machine"] is not None
        and me["boot"] is not None
        and holder.get("machine") == me["machine"]
        and holder.get("boot") == me["boot"]
    )
    if not same_machine or not isinstance(pid, int):
        return "Whether that apply is still running cannot be told from this machine."
    start = process_start(pid)
    if start is not None and start == holder.get("pid_start"):
        return f"That apply is still running on this machine (pid {pid}): wait for it to end."
    return (
        f"That apply (pid {pid} on this machine) is no longer running: it crashed, was "
        "killed, or could not reach this node to release it, and left the lock behind."
    )


def _held_message(cluster: str, node: str, holder: dict[str, Any], now: datetime) -> str:
    lock_id = holder.get("lock_id", "?")
    expires = holder.get("expires")
    expired = isinstance(expires, str) and expires < now.isoformat()
    return (
        f"cluster {cluster} is locked by another apply (lock file {REMOTE_LOCK} on {node}): "
        f"{_describe(holder)}.{' The lock has expired.' if expired else ''} "
        f"{holder_liveness(holder)} If no apply is running on this cluster, release the lock "
        f"with `{unlock_command(cluster, lock_id)}` and run `reconcile plan` to see where the "
        "cluster was left."
    )


def _read_remote(session: MMPSession) -> dict[str, Any] | None:
    return _parse_holder(session.read_file(REMOTE_LOCK))


def _damaged(data: bytes | None, written: bytes) -> bool:
    """Our own file with a few bytes changed (or lost), as opposed to another apply's
    record, which differs in its id, time and pid throughout."""
    if data is None or len(data) != len(written):
        return data is None
    return 0 < sum(a != b for a, b in zip(data, written, strict=True)) <= 8


def _parse_holder(data: bytes | None) -> dict[str, Any] | None:
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
            self.nodes.extend(taken)
            self.publish()
        except BaseException:
            for _, session in reversed(taken):
                with suppress(ReconcileError):
                    _remove_if_ours(session, self.lock_id)
            self.nodes = [node for node in self.nodes if node not in taken]
            raise

    def _take(self, address: str, session: MMPSession, now: datetime) -> None:
        payload = self._payload(address)
        try:
            created = session.create_file(REMOTE_LOCK, payload)
            data = session.read_file(REMOTE_LOCK)
            if not created and data is None:  # released between the two calls: once more
                created = session.create_file(REMOTE_LOCK, payload)
                data = session.read_file(REMOTE_LOCK)
        except ReconcileError as error:
            reason = str(error)
            stop = "" if reason.endswith((".", "?", "!")) else "."
            raise LockFailed(
                f"cluster {self.cluster}: cannot take the apply lock on {address}: {reason}{stop} "
                "Apply locks every node it may change before it reads the plan, so nothing "
                "was changed; fix this and run apply again"
            ) from error
        holder = _parse_holder(data)
        if holder is not None and holder.get("lock_id") == self.lock_id and data == payload:
            return
        if created and _damaged(data, payload):
            # Ours (exclusive create), but it did not read back as written.
            with suppress(ReconcileError):
                session.remove_file(REMOTE_LOCK)
            raise LockFailed(
                f"cluster {self.cluster}: the apply lock file written on {address} read back "
                "different from what was written; the node's file area is not storing files "
                "faithfully, so nothing was changed"
            )
        # Held by another apply (had the node ignored the exclusive create, its record is
        # what reads back): never removed here.
        raise LockHeld(_held_message(self.cluster, address, holder or {}, now))

    def _payload(self, address: str) -> bytes:
        nodes = [held for held, _ in self.nodes]
        if address not in nodes:
            nodes.append(address)
        return json.dumps({**self.record, "node": address, "nodes": nodes}, indent=2).encode()

    def publish(self) -> None:
        """Every lock file (and the local record) names every node this lock holds, so that
        `reconcile unlock` finds them all, members since dropped included. Each file must
        still carry this lock before it is rewritten (a node that ignored the exclusive
        create would show another apply's record here)."""
        for address, session in self.nodes:
            holder = _read_remote(session)
            if holder is None or holder.get("lock_id") != self.lock_id:
                raise LockHeld(
                    _held_message(self.cluster, address, holder or {}, datetime.now(UTC))
                )
            session.write_file(REMOTE_LOCK, self._payload(address))
        self._local.seek(0)
        self._local.truncate()
        self._local.write(
            json.dumps({**self.record, "nodes": [address for address, _ in self.nodes]})
        )
        self._local.flush()

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
        **this_process(),
    }
    lock = ClusterLock(cluster, lock_id, record, local, local_path)
    try:
        lock.extend(targets, moment)
    except BaseException:
        fcntl.flock(local.fileno(), fcntl.LOCK_UN)
        local.close()
        raise
    # extend() wrote the local record only once every node was locked: a failed attempt
    # leaves the file as it found it.
    return lock


def unlock(
    cluster: str,
    targets: Sequence[LockTarget],
    lock_id: str,
    member: Reopen | None = None,
) -> str:
    """Release a stale lock on every node that carries it; only the lock with this id (so
    a live apply is not broken). Besides the given nodes, the nodes the lock files name
    (members the crashed apply was dropping) are visited through ``member``. Nodes that
    cannot be reached are reported, not skipped."""
    release = _Release(lock_id)
    pending = _ordered(targets)
    visited: set[str] = set()
    while pending:
        address, session = pending.pop(0)
        visited.add(canonical_address(address))
        holder = release.visit(address, session)
        if holder is None or member is None:
            continue
        queued = visited | {canonical_address(queued) for queued, _ in pending}
        for other in _named_nodes(holder):
            if canonical_address(other) not in queued:
                queued.add(canonical_address(other))
                pending.append((other, member(other)))
    return release.report(cluster)


@dataclass
class _Release:
    """What ``unlock`` did on each node it visited."""

    lock_id: str
    released: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    holders: list[dict[str, Any]] = field(default_factory=list)

    def visit(self, address: str, session: MMPSession) -> dict[str, Any] | None:
        """Remove the node's lock file if it is ours to remove; its holder when removed."""
        try:
            holder = _read_remote(session)
            if holder is None:
                return None
            if holder.get("lock_id") != self.lock_id:
                self.refused.append(f"{address}: the lock there is {_describe(holder)}")
                return None
            session.remove_file(REMOTE_LOCK)
        except ReconcileError as error:
            self.unreachable.append(f"{address}: {error}")
            return None
        self.released.append(address)
        self.holders.append(holder)
        return holder

    def report(self, cluster: str) -> str:
        """What was released; raises when a node was left locked or could not be checked."""
        lines = []
        if self.released:
            lines.append(
                f"cluster {cluster}: released the lock {_describe(self.holders[0])} on "
                + ", ".join(self.released)
            )
        if self.refused:
            lines.append(
                f"cluster {cluster}: left alone (not lock id {self.lock_id}):\n  "
                + "\n  ".join(self.refused)
            )
        if self.unreachable:
            lines.append(
                f"cluster {cluster}: could not check or release (run unlock again when they "
                "are reachable):\n  " + "\n  ".join(self.unreachable)
            )
        if self.refused or self.unreachable:
            raise ReconcileError("\n".join(lines))
        return "\n".join(lines) if lines else f"cluster {cluster} is not locked"


def _named_nodes(holder: dict[str, Any]) -> list[str]:
    """The nodes a lock file says its apply locked (it may name members the file dropped)."""
    named = holder.get("nodes")
    return list(map(str, named)) if isinstance(named, list) else []
