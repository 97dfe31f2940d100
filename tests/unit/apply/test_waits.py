"""Waiting for asynchronous operations: quick to notice, backs off, fails precisely."""

from __future__ import annotations

import pytest

from reconciler.apply.waits import (
    FIRST_INTERVAL,
    LATE_SHARE,
    MAX_INTERVAL,
    QUICK_INTERVAL,
    STALE_GRACE,
    Clock,
    Waiting,
    read_status_tolerantly,
    uses_master,
    wait_for_bridge,
    wait_for_operation,
)
from reconciler.errors import OperationFailed, OperationTimeout
from reconciler.mmp.models import BRIDGE_STATES, ClusterStatus, LastCommand
from reconciler.mmp.session import CommandResult
from reconciler.plan.models import Expectation
from tests.support.fake_session import FakeSession

DISABLING = "Status : Disabling (Started 3 seconds ago)\n\nNodes:\nNode in use : None\n"
DISABLED = (
    "Status : Disabled\nNode in use : None\n\nInterface : a\n\nCertificates\n\n"
    "Last command : 'database cluster remove' (Success)\n"
)
FAILED = DISABLED.replace("Disabled\n", "Enabled\n", 1).replace("(Success)", "(Failed)")
OLD_JOIN = DISABLED.replace("database cluster remove", "database cluster join 10.0.0.1")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> Clock:
        return Clock(now=lambda: self.now, sleep=self._sleep)

    def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def wait(
    session: FakeSession,
    clock: FakeClock,
    timeout: float = 60,
    previous: LastCommand | None = None,
) -> ClusterStatus:
    return wait_for_operation(
        session,
        "database cluster remove",
        Expectation.DISABLED,
        master="10.0.0.1",
        timeout=timeout,
        clock=clock.clock(),
        previous=previous,
    )


def test_success_is_noticed_at_the_first_poll_after_it_happens() -> None:
    session = FakeSession(statuses=[DISABLING, DISABLING, DISABLED])
    clock = FakeClock()
    status = wait(session, clock, timeout=60)
    assert status.state == "Disabled"
    assert clock.sleeps[0] == FIRST_INTERVAL
    assert session.commands == ["database cluster status"] * 3


def test_backoff_is_capped() -> None:
    session = FakeSession(statuses=[DISABLING])
    clock = FakeClock()
    with pytest.raises(OperationTimeout):
        wait(session, clock, timeout=120)
    assert max(clock.sleeps) == MAX_INTERVAL
    # A slow node is not hammered: after the first minute, one poll every 2 s.
    assert len(session.commands) < 120 / MAX_INTERVAL + 60 / QUICK_INTERVAL


class EndsAt:
    """A node whose operation ends ``after`` seconds into the fake clock."""

    def __init__(self, clock: FakeClock, after: float) -> None:
        self.clock = clock
        self.after = after
        self.node = "cms2"
        self.commands: list[str] = []

    def run(self, command: str, timeout: float | None = None) -> CommandResult:
        self.commands.append(command)
        output = DISABLED if self.clock.now >= self.after else DISABLING
        return CommandResult(self.node, command, output, False, 0.0)


@pytest.mark.parametrize("after", [0.05, 0.35, 1.0, 2.9, 3.99, 7.5, 33.0, 250.0, 599.0])
def test_the_end_is_noticed_soon_after_the_device_shows_it(after: float) -> None:
    clock = FakeClock()
    node = EndsAt(clock, after)
    wait_for_operation(
        node,  # type: ignore[arg-type]  # only `run` and `node` are used
        "database cluster remove",
        Expectation.DISABLED,
        master="10.0.0.1",
        timeout=900,
        clock=clock.clock(),
    )
    late = clock.now - after
    assert late <= max(QUICK_INTERVAL, min(MAX_INTERVAL, LATE_SHARE * after)) + 1e-9
    if after < 4:
        assert late <= QUICK_INTERVAL + 1e-9


def test_failed_raises_with_the_node_and_command() -> None:
    session = FakeSession(statuses=[DISABLING, FAILED])
    with pytest.raises(OperationFailed, match=r"cms2: 'database cluster remove' ended \(Failed\)"):
        wait(session, FakeClock(), timeout=60)


def test_timeout_names_what_was_last_seen() -> None:
    session = FakeSession(statuses=[OLD_JOIN])
    with pytest.raises(OperationTimeout) as caught:
        wait(session, FakeClock(), timeout=5)
    message = str(caught.value)
    assert "within 5 s" in message
    assert "'database cluster join 10.0.0.1' (Success)" in message


def test_another_commands_success_is_not_taken_for_this_one() -> None:
    session = FakeSession(statuses=[OLD_JOIN, OLD_JOIN, DISABLED])
    status = wait(session, FakeClock(), timeout=60)
    assert status.last_command is not None
    assert status.last_command.command == "database cluster remove"
    assert len(session.commands) == 3


EARLIER = LastCommand(command="database cluster remove", result="Success")


def test_an_unchanged_last_command_from_an_earlier_run_is_not_believed_at_once() -> None:
    session = FakeSession(statuses=[DISABLED])
    clock = FakeClock()
    wait(session, clock, timeout=120, previous=EARLIER)
    assert clock.now >= STALE_GRACE


def test_a_transitional_status_makes_the_same_line_believable() -> None:
    session = FakeSession(statuses=[DISABLING, DISABLED])
    clock = FakeClock()
    wait(session, clock, timeout=120, previous=EARLIER)
    assert clock.now < 1


BRIDGE = (
    "Status                : Connected\nNode in use           : {in_use}\n\nCertificates\n"
    "  Client Key           : c.key\n  Client Certificate   : c.cer\n"
    "  CA Certificate       : ca.cer\n"
)


def wait_bridge(session: FakeSession, clock: FakeClock, seen: list[Waiting]) -> ClusterStatus:
    return wait_for_bridge(
        session,
        "database cluster connect 10.0.0.1",
        master="10.0.0.1",
        timeout=60,
        clock=clock.clock(),
        on_poll=seen.append,
    )


@pytest.mark.parametrize("word", sorted(BRIDGE_STATES))
def test_a_bridge_is_done_when_it_uses_the_master(word: str) -> None:
    not_yet = BRIDGE.format(in_use="None").replace("Connected", word)
    done = BRIDGE.format(in_use="10.0.0.1").replace("Connected", word)
    session = FakeSession("cb1", statuses=[not_yet, not_yet, done])
    seen: list[Waiting] = []
    status = wait_bridge(session, FakeClock(), seen)
    assert status.node_in_use == "10.0.0.1"
    assert [wait.expect for wait in seen] == [Expectation.USES_MASTER] * 2


def test_a_bridge_using_a_replica_or_saying_an_unknown_line_is_not_done() -> None:
    replica = BRIDGE.format(in_use="10.0.0.2")
    unknown = BRIDGE.format(in_use="10.0.0.1") + "Connecting to 10.0.0.1 ...\n"
    session = FakeSession("cb1", statuses=[replica, unknown, unknown])
    seen: list[Waiting] = []
    with pytest.raises(OperationTimeout) as raised:
        wait_bridge(session, FakeClock(), seen)
    message = str(raised.value)
    assert "did not use 10.0.0.1 within 60 s" in message
    assert "'Connecting to 10.0.0.1 ...', which cms-reconciler does not know" in message
    # The unknown line is reported once, at the first poll that showed it.
    assert [wait.unknown for wait in seen if wait.unknown] == [("Connecting to 10.0.0.1 ...",)]


def test_a_member_listing_nodes_is_not_a_bridge_using_the_master() -> None:
    member = (
        "Status : Enabled\nNodes:\n 10.0.0.1 : Connected Master\n"
        " 10.0.0.21 (me) : Connected Slave ( In Sync )\nNode in use : 10.0.0.1\n"
    )
    status, unknown = read_status_tolerantly(member)
    assert status is not None
    assert not unknown
    assert status.node_in_use == "10.0.0.1"
    assert not uses_master(status, "10.0.0.1")
