"""The MMP conversation over a scripted channel: prompts, echo, confirmations, redaction."""

from __future__ import annotations

from collections import deque

import pytest

from reconciler.errors import PromptTimeout, TransportError
from reconciler.mmp.session import MMPShell, Redactor

REMOVE_BLOCK = (
    "WARNING!!!\r\n"
    "Are you sure you wish to remove this node from the current cluster? (Y/n)\r\n"
    "The current contents of this node's database will become the running local database.\r\n"
    "This node will lose all knowledge of the rest of the cluster.\r\n"
    "The callbridge and web administration will restart at the end of this procedure.\r\n"
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class ScriptedChannel:
    """Replies to each write with scripted chunks; time passes only while reading."""

    node = "cms2"

    def __init__(self, clock: FakeClock, greeting: str = "Welcome\r\ncms2> ") -> None:
        self.clock = clock
        self.pending: deque[str] = deque([greeting])
        self.replies: dict[str, list[str]] = {}
        self.sent: list[str] = []
        self.unread_at_write: list[int] = []

    def write(self, data: str) -> None:
        self.sent.append(data)
        self.unread_at_write.append(len(self.pending))
        self.pending.extend(self.replies.pop(data, []))

    def read(self, timeout: float) -> str | None:
        if self.pending:
            chunk = self.pending.popleft()
            if chunk == "<EOF>":
                return None
            return chunk
        self.clock.now += timeout
        return ""


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def shell(channel: ScriptedChannel, clock: FakeClock, **kwargs: object) -> MMPShell:
    return MMPShell(channel, "cms2", clock=clock, command_timeout=30, **kwargs)  # type: ignore[arg-type]


def test_output_is_clean_of_echo_and_prompt(clock: FakeClock) -> None:
    channel = ScriptedChannel(clock)
    channel.replies["backup snapshot b1\r"] = [
        "backup snapshot b1\r\n",
        "b1.bak ready for download\r\ncms2> ",
    ]
    result = shell(channel, clock).run("backup snapshot b1")
    assert result.output == "b1.bak ready for download\n"
    assert result.rejection is None
    assert not result.confirmed


def test_rejection_is_judged_from_output(clock: FakeClock) -> None:
    channel = ScriptedChannel(clock)
    channel.replies["database cluster certs a b c d e\r"] = [
        "database cluster certs a b c d e\r\nERROR: Cannot change certificates when clustering "
        "enabled.\r\nDisable clustering on this node first\r\ncms2> "
    ]
    result = shell(channel, clock).run("database cluster certs a b c d e")
    assert result.rejection is not None
    assert "Cannot change certificates" in result.rejection


def test_failure_line_is_a_rejection(clock: FakeClock) -> None:
    """Reference §2.3a: FAILURE: is published for enable commands; treated like ERROR:."""
    channel = ScriptedChannel(clock)
    channel.replies["database cluster certs a b c d e\r"] = [
        "database cluster certs a b c d e\r\nFAILURE: TLS port set but no certificates "
        "configured\r\nFAILURE: Streamer configuration not complete\r\ncms2> "
    ]
    result = shell(channel, clock).run("database cluster certs a b c d e")
    assert result.rejection == (
        "TLS port set but no certificates configured\nStreamer configuration not complete"
    )


def test_failure_after_a_confirmation_is_a_rejection(clock: FakeClock) -> None:
    channel = ScriptedChannel(clock)
    channel.replies["database cluster remove\r"] = ["database cluster remove\r\n" + REMOVE_BLOCK]
    channel.replies["Y\r"] = ["Y\r\nFAILURE : Remove not possible\r\ncms2> "]
    result = shell(channel, clock).run_confirmed("database cluster remove")
    assert result.confirmed
    assert result.rejection == "Remove not possible"


def test_confirmation_is_answered_only_after_the_whole_block(clock: FakeClock) -> None:
    channel = ScriptedChannel(clock)
    # The block arrives in pieces: the question line comes before the explanation.
    channel.replies["database cluster remove\r"] = [
        "database cluster remove\r\n" + REMOVE_BLOCK[:90],
        REMOVE_BLOCK[90:200],
        REMOVE_BLOCK[200:],
    ]
    channel.replies["Y\r"] = ["Y\r\nPlease wait...\r\nRemove started...\r\ncms2> "]
    session = shell(channel, clock)
    result = session.run_confirmed("database cluster remove")
    assert channel.sent == ["database cluster remove\r", "Y\r"]
    assert channel.unread_at_write[-1] == 0, "answered before the block was printed"
    assert result.confirmed
    assert result.output.endswith("Please wait...\nRemove started...\n")
    assert "WARNING!!!" in result.output


def test_join_note_lines_are_waited_for(clock: FakeClock) -> None:
    channel = ScriptedChannel(clock)
    block = (
        "WARNING!!!\r\nAre you sure you wish to join this node to an existing database cluster?"
        " (Y/n)\r\nThe contents of this node's database will be destroyed!\r\n"
        "The callbridge and web administration will restart at the end of this procedure.\r\n"
    )
    note = "NOTE: This node is already in a cluster.\r\nKnowledge of all nodes in the old cluster"
    channel.replies["database cluster join 10.0.0.1\r"] = [
        "database cluster join 10.0.0.1\r\n" + block,
        "",
        note,
        " will be removed\r\n",
    ]
    channel.replies["Y\r"] = ["Y\r\nPlease wait...\r\ncms2> "]
    result = shell(channel, clock).run_confirmed("database cluster join 10.0.0.1")
    assert channel.unread_at_write[-1] == 0, "answered before the NOTE lines were printed"
    assert result.confirmed
    assert "Knowledge of all nodes in the old cluster will be removed" in result.output


def test_no_question_means_no_answer(clock: FakeClock) -> None:
    channel = ScriptedChannel(clock)
    channel.replies["database cluster join x\r"] = [
        "database cluster join x\r\nUsage:\r\n  database cluster join <ip>\r\ncms2> "
    ]
    result = shell(channel, clock).run_confirmed("database cluster join x")
    assert not result.confirmed
    assert channel.sent == ["database cluster join x\r"]
    assert result.rejection is not None


def test_prompt_timeout_carries_the_tail(clock: FakeClock) -> None:
    channel = ScriptedChannel(clock)
    channel.replies["database cluster status\r"] = ["database cluster status\r\nStatus : Ena"]
    with pytest.raises(PromptTimeout) as caught:
        shell(channel, clock).run("database cluster status", timeout=5)
    assert "Status : Ena" in str(caught.value)
    assert clock.now >= 5


def test_wrong_hostname_is_refused(clock: FakeClock) -> None:
    channel = ScriptedChannel(clock, greeting="cms3> ")
    with pytest.raises(TransportError, match="prompt is 'cms3>'"):
        shell(channel, clock).run("database cluster status")
    assert channel.sent == []


def test_closed_connection_is_a_transport_error(clock: FakeClock) -> None:
    channel = ScriptedChannel(clock)
    channel.replies["database cluster remove\r"] = ["database cluster remove\r\n", "<EOF>"]
    with pytest.raises(TransportError, match="connection closed"):
        shell(channel, clock).run_confirmed("database cluster remove")


def test_transcript_is_redacted(clock: FakeClock) -> None:
    channel = ScriptedChannel(clock)
    channel.replies["echo s3cret\r"] = [
        "echo s3cret\r\n-----BEGIN PRIVATE KEY-----\r\nMIIB\r\n-----END PRIVATE KEY-----\r\ncms2> "
    ]
    session = shell(channel, clock, redactor=Redactor(["s3cret"]))
    session.run("echo s3cret")
    text = "".join(entry.text for entry in session.transcript)
    assert "s3cret" not in text
    assert "MIIB" not in text
    assert "****" in text


class TimedChannel(ScriptedChannel):
    """Records when each write happened; a read with nothing to read waits its whole timeout."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.written_at: list[float] = []

    def write(self, data: str) -> None:
        self.written_at.append(self.clock.now)
        super().write(data)


def test_a_whole_block_is_answered_after_a_short_settle(clock: FakeClock) -> None:
    channel = TimedChannel(clock)
    channel.replies["database cluster remove\r"] = ["database cluster remove\r\n" + REMOVE_BLOCK]
    channel.replies["Y\r"] = ["Y\r\nPlease wait...\r\nRemove started...\r\ncms2> "]
    session = shell(channel, clock, quiet_period=0.25)
    session.run_confirmed("database cluster remove")
    answered_after = channel.written_at[-1] - channel.written_at[-2]
    assert 0.05 <= answered_after < 0.1


def test_join_waits_the_quiet_period_for_note_lines_that_may_follow(clock: FakeClock) -> None:
    channel = TimedChannel(clock)
    block = (
        "WARNING!!!\r\nAre you sure you wish to join this node to an existing database cluster?"
        " (Y/n)\r\nThe contents of this node's database will be destroyed!\r\n"
        "The callbridge and web administration will restart at the end of this procedure.\r\n"
    )
    channel.replies["database cluster join 10.0.0.1\r"] = [
        "database cluster join 10.0.0.1\r\n" + block
    ]
    channel.replies["Y\r"] = ["Y\r\nPlease wait...\r\ncms2> "]
    session = shell(channel, clock, quiet_period=0.25)
    session.run_confirmed("database cluster join 10.0.0.1")
    assert channel.written_at[-1] - channel.written_at[-2] >= 0.25
