"""Waiting for asynchronous cluster operations to finish (SPEC §6.8).

``remove``, ``initialize`` and ``join`` return at once; the node then shows a transitional
status and finally ``Last command : '<command>' (Success|Failed)``. The device cannot tell
us when it is done, so we poll, and the interval is a fixed share of the time waited so far
(``poll_interval``): an operation that ends within ``QUICK_WINDOW`` seconds is noticed within
``QUICK_INTERVAL`` of the device showing it, and a slow one is polled at most every
``MAX_INTERVAL`` seconds, late by at most ``LATE_SHARE`` of its duration.

While an operation runs, the status is read tolerantly (issue 24): what a node prints during
``initialize`` or ``join`` is published nowhere, and stopping there leaves the cluster down.
A line the status parser does not know (a two-word status, a new member state, an unknown
``Last command`` result) means "not finished yet"; each is reported once through ``on_poll``
(``Waiting.unknown``) and quoted by the timeout's error. Planning reads stay strict.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from reconciler.addresses import same_address
from reconciler.errors import OperationFailed, OperationTimeout, StatusParseError
from reconciler.mmp.models import BRIDGE_STATES, ClusterStatus, LastCommand
from reconciler.mmp.parsers.recognise import parse_setting_aside
from reconciler.mmp.parsers.status import parse_cluster_status
from reconciler.mmp.session import MMPSession
from reconciler.plan.models import Expectation

FIRST_INTERVAL = 0.1
QUICK_INTERVAL = 0.2  # the longest gap between polls while the operation is young
LATE_SHARE = 0.05  # afterwards, a poll is late by at most 5% of the time waited so far
QUICK_WINDOW = QUICK_INTERVAL / LATE_SHARE  # 4 s
MAX_INTERVAL = 2.0
STALE_GRACE = 15.0  # seconds before an unchanged Last command line is taken as this run's


def poll_interval(waited: float) -> float:
    """Seconds until the next poll, ``waited`` seconds into a wait.

    A fixed share of the time waited, so lateness is proportional to the operation's own
    duration (a 1 s ``join`` is noticed within 0.1-0.2 s, a 10 min one within 2 s) and a slow
    node gets one status command every 2 s, not five a second for ten minutes (each poll is
    also a transcript entry in the journal).
    """
    if waited < QUICK_WINDOW:
        return min(QUICK_INTERVAL, max(FIRST_INTERVAL, waited * LATE_SHARE))
    return min(MAX_INTERVAL, waited * LATE_SHARE)


@dataclass(frozen=True)
class Clock:
    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


@dataclass(frozen=True)
class Waiting:
    """One poll of an operation that has not finished yet: what is awaited, for how long."""

    node: str
    command: str
    expect: Expectation
    elapsed: float  # seconds since the wait began
    timeout: float
    status_text: str | None  # the node's Status line at this poll
    unknown: tuple[str, ...] = ()
    """Lines of this poll's status that cms-reconciler does not know and had not seen yet in
    this wait (each is reported once)."""


OnPoll = Callable[[Waiting], None]
MAX_UNKNOWN_LINES = 20  # a status with more lines not understood is not read further


def read_status(session: MMPSession) -> ClusterStatus:
    result = session.run("database cluster status")
    try:
        return parse_cluster_status(result.output)
    except StatusParseError as error:
        raise StatusParseError(f"{session.node}: status not understood: {error}") from error


def read_status_tolerantly(text: str) -> tuple[ClusterStatus | None, tuple[str, ...]]:
    """The status and the lines of ``text`` not understood, for a wait (never raises): the
    parser's own reading with each refused line set aside, as ``reconcile probe`` reads. A
    status with unknown lines must not be taken as finished: the caller only uses it to
    describe the wait."""
    status, aside = parse_setting_aside(
        parse_cluster_status, "database cluster status", text, most=MAX_UNKNOWN_LINES
    )
    unknown = tuple(item.line.text.strip() if item.line else item.reason for item in aside)
    return status, unknown


def _shape(line: str) -> str:
    """A line with its numbers blanked: ``Started 3 seconds ago`` and ``Started 4 seconds
    ago`` are the same unknown line, reported once."""
    return re.sub(r"\d+", "N", line)


def expectation_met(status: ClusterStatus, expect: Expectation, master: str) -> bool:
    if status.transitional:
        return False
    if expect is Expectation.DISABLED:
        return status.state == "Disabled"
    if expect is Expectation.MASTER:
        return status.state == "Enabled" and status.role == "master"
    if expect is Expectation.USES_MASTER:
        return uses_master(status, master)
    return (
        status.state == "Enabled"
        and status.role == "replica"
        and status.in_sync is True
        and same_address(status.master_address, master)
    )


def wait_for_operation(
    session: MMPSession,
    command: str,
    expect: Expectation,
    *,
    master: str,
    timeout: float,
    clock: Clock | None = None,
    previous: LastCommand | None = None,
    on_poll: OnPoll | None = None,
) -> ClusterStatus:
    """Poll until ``command`` is reported finished and the node is in the expected state.

    ``previous`` is the ``Last command`` seen before sending: while the node still shows
    exactly that line, and no transitional status has been seen, it may be the result of an
    earlier run of the same command, so it is not believed until ``STALE_GRACE`` has passed.
    Raises ``OperationFailed`` when the node reports ``(Failed)`` and ``OperationTimeout``
    (with the last status seen) when the deadline passes. ``on_poll`` hears of every poll
    after which the wait goes on (to show progress; it must not block).
    """
    ticking = clock or Clock()
    started = ticking.now()
    deadline = started + timeout
    moved = previous is None
    seen_unknown: set[str] = set()  # the shapes of the unknown lines reported so far
    while True:
        status, unknown = read_status_tolerantly(session.run("database cluster status").output)
        fresh = tuple(line for line in dict.fromkeys(unknown) if _shape(line) not in seen_unknown)
        seen_unknown.update(_shape(line) for line in fresh)
        # The strict reading before the command understood every line: one it does not
        # know now is the node's doing since, as a transitional status would be.
        moved = moved or bool(unknown)
        # A status not read in full proves nothing: not finished yet (issue 24).
        if status is not None and not unknown:
            last = status.last_command
            moved = moved or status.transitional or last != previous
            believable = moved or ticking.now() - started >= min(STALE_GRACE, timeout / 2)
            finished = (
                believable
                and not status.transitional
                and last is not None
                and last.command == command
            )
            if finished and last is not None and last.result == "Failed":
                raise OperationFailed(
                    f"{session.node}: '{command}' ended (Failed); status: {status.status_text}"
                    + (f", error: {status.error}" if status.error else "")
                )
            if finished and expectation_met(status, expect, master):
                return status
        remaining = deadline - ticking.now()
        if remaining <= 0:
            raise OperationTimeout(
                f"{session.node}: '{command}' did not finish as expected ({expect.value}) "
                f"within {timeout:g} s; {_last_seen(status, unknown)}"
            )
        if on_poll is not None:
            on_poll(
                Waiting(
                    node=session.node,
                    command=command,
                    expect=expect,
                    elapsed=ticking.now() - started,
                    timeout=timeout,
                    status_text=status.status_text if status else None,
                    unknown=fresh,
                )
            )
        ticking.sleep(min(poll_interval(ticking.now() - started), remaining))


def uses_master(status: ClusterStatus, master: str) -> bool:
    """A connected call bridge that uses ``master``'s database (``Node in use``)."""
    return (
        not status.transitional
        and status.state in BRIDGE_STATES
        and not status.members
        and same_address(status.node_in_use, master)
    )


def wait_for_bridge(
    session: MMPSession,
    command: str,
    *,
    master: str,
    timeout: float,
    clock: Clock | None = None,
    on_poll: OnPoll | None = None,
) -> ClusterStatus:
    """Poll a call bridge after ``database cluster connect`` until it uses ``master``.

    Nothing says what ``connect`` prints or whether a ``Last command`` line follows it
    (reference §1.7), so only the post-condition counts: the status, read in full, shows
    ``master`` as its ``Node in use``. Lines not understood are "not yet", reported once.
    """
    ticking = clock or Clock()
    started = ticking.now()
    deadline = started + timeout
    seen_unknown: set[str] = set()
    while True:
        status, unknown = read_status_tolerantly(session.run("database cluster status").output)
        fresh = tuple(line for line in dict.fromkeys(unknown) if _shape(line) not in seen_unknown)
        seen_unknown.update(_shape(line) for line in fresh)
        if status is not None and not unknown and uses_master(status, master):
            return status
        remaining = deadline - ticking.now()
        if remaining <= 0:
            in_use = (status.node_in_use or "None") if status is not None else "not read"
            raise OperationTimeout(
                f"{session.node}: after '{command}' the call bridge did not use {master} within "
                f"{timeout:g} s (Node in use: {in_use}); {_last_seen(status, unknown)}"
            )
        if on_poll is not None:
            on_poll(
                Waiting(
                    node=session.node,
                    command=command,
                    expect=Expectation.USES_MASTER,
                    elapsed=ticking.now() - started,
                    timeout=timeout,
                    status_text=status.status_text if status else None,
                    unknown=fresh,
                )
            )
        ticking.sleep(min(poll_interval(ticking.now() - started), remaining))


def _last_seen(status: ClusterStatus | None, unknown: list[str] | tuple[str, ...]) -> str:
    """What a timeout quotes: the last status and command, or the lines not understood."""
    if unknown or status is None:
        seen = (status.status_text if status else None) or "not understood"
        said = ", ".join(f"'{line}'" for line in dict.fromkeys(unknown))
        return f"last status: {seen}" + (
            f"; the node says {said}, which cms-reconciler does not know" if said else ""
        )
    last = status.last_command
    last_text = f"'{last.command}' ({last.result})" if last else "none"
    return f"last status: {status.status_text or 'no status line'}, last command: {last_text}"
