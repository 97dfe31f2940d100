"""Hostile device output fails closed: a clear error, and nothing parsed from it is used.

A node's shell may print what no MMP prints: ANSI colour, a NUL, a line of a megabyte, or
(after a compromise or a misrouted port) a Unix shell's or another host's prompt. Each is
refused as ``UnreadableOutput`` at once (not after the command timeout), with a one-line
message; no answer is sent to a question that follows it, and the live reader turns it
into the node's error, so the planner has no status to act on.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import NotAnMMP, StatusParseError, UnreadableOutput
from reconciler.live.reader import NodeTarget, read_node
from reconciler.mmp.parsers import parse_cluster_status
from reconciler.mmp.session import MAX_LINE, MMPShell, SSHSession
from tests.unit.mmp.test_session import REMOVE_BLOCK, FakeClock, ScriptedChannel

STATUS = "database cluster status"
GOOD_STATUS = "Status                   : Disabled\r\n\r\nNodes:\r\n"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def hostile(section: str = "hostile-input", *, case: str) -> pytest.MarkDecorator:
    return pytest.mark.reliability(section=section, case=case)


def shell_for(channel: ScriptedChannel, clock: FakeClock) -> MMPShell:
    return MMPShell(channel, "cms2", clock=clock, command_timeout=30)


def reply(clock: FakeClock, *chunks: str, command: str = STATUS) -> ScriptedChannel:
    channel = ScriptedChannel(clock)
    channel.replies[command + "\r"] = [command + "\r\n", *chunks]
    return channel


def refused(channel: ScriptedChannel, clock: FakeClock, command: str = STATUS) -> str:
    with pytest.raises(UnreadableOutput) as caught:
        shell_for(channel, clock).run(command)
    message = str(caught.value)
    assert "\n" not in message
    assert len(message) < 600
    assert "Traceback" not in message
    # At once: a hostile answer is not waited out until the command timeout (30 s).
    assert clock.now < 2
    return message


@hostile(case="device output with ANSI escape sequences fails closed")
@pytest.mark.parametrize(
    "chunk",
    [
        "Status                   : \x1b[32mEnabled\x1b[0m\r\ncms2> ",
        "\x1b[2J\x1b[H" + GOOD_STATUS + "cms2> ",
        GOOD_STATUS + "\x1b[1mcms2\x1b[0m> ",  # a coloured prompt
        "Status : Enabled\x9b31m\r\ncms2> ",  # the one-byte CSI
    ],
    ids=["colour", "clear-screen", "coloured-prompt", "c1-csi"],
)
def test_ansi_escapes_are_refused(clock: FakeClock, chunk: str) -> None:
    message = refused(reply(clock, chunk), clock)
    assert "control character" in message
    assert "cms2" in message


@hostile(case="device output with NUL bytes fails closed")
def test_nul_bytes_are_refused(clock: FakeClock) -> None:
    message = refused(reply(clock, "Status : Ena\x00bled\r\ncms2> "), clock)
    assert "'\\x00'" in message


@hostile(case="a 1 MB device line without newline fails closed")
def test_a_megabyte_line_is_refused(clock: FakeClock) -> None:
    line = "A" * 1_000_000
    chunks = [line[at : at + 65536] for at in range(0, len(line), 65536)]
    message = refused(reply(clock, *chunks, "\r\ncms2> "), clock)
    assert f"more than {MAX_LINE} characters" in message


@hostile(case="endless device output without a prompt fails closed")
def test_endless_output_is_refused(clock: FakeClock) -> None:
    chunks = [("x" * 99 + "\r\n") * 600] * 20  # 1.2 MB of ordinary-looking lines
    message = refused(reply(clock, *chunks), clock)
    assert "without a prompt" in message


@hostile(case="an unexpected prompt (Unix shell, other host) mid-session fails closed")
@pytest.mark.parametrize(
    "prompt",
    ["admin@cms2:~$ ", "root@cms2:/# ", "bash-5.1$ ", "$ ", "cms3> ", "other.host> "],
)
def test_a_foreign_prompt_is_refused(clock: FakeClock, prompt: str) -> None:
    message = refused(reply(clock, "Status : Enabled\r\n" + prompt), clock)
    assert "something other than this node's MMP" in message
    assert repr(prompt.strip())[1:-1] in message


@hostile(case="an unexpected prompt instead of a (Y/n) question is never answered")
def test_no_answer_is_sent_to_a_foreign_prompt(clock: FakeClock) -> None:
    channel = reply(clock, "Sure\r\nroot@cms2:/# ", command="database cluster remove")
    with pytest.raises(UnreadableOutput):
        shell_for(channel, clock).run_confirmed("database cluster remove")
    assert channel.sent == ["database cluster remove\r"]


def test_a_question_with_hostile_bytes_is_never_answered(clock: FakeClock) -> None:
    block = REMOVE_BLOCK.replace("WARNING", "\x1b[5mWARNING\x1b[0m")
    channel = reply(clock, block, command="database cluster remove")
    with pytest.raises(UnreadableOutput):
        shell_for(channel, clock).run_confirmed("database cluster remove")
    assert "Y\r" not in channel.sent


def test_percent_text_that_pauses_is_not_a_shell(clock: FakeClock) -> None:
    """The mid-session shell check must not refuse MMP text that merely ends in '% '."""
    channel = reply(clock, "Progress: 50% ", "", "", "\r\ndone\r\ncms2> ")
    assert shell_for(channel, clock).run(STATUS).output == "Progress: 50% \ndone\n"


def test_refused_output_is_kept_escaped_in_the_transcript(clock: FakeClock) -> None:
    channel = reply(clock, "Status : \x1b[31mEnabled\r\ncms2> ")
    session = shell_for(channel, clock)
    with pytest.raises(UnreadableOutput):
        session.run(STATUS)
    text = "".join(entry.text for entry in session.transcript)
    assert "\x1b" not in text
    assert "\\x1b[31m" in text


class _NoFiles:
    """The file half of a transport; hostile status must stop the read before it."""

    node = "cms2"

    def __init__(self, channel: ScriptedChannel) -> None:
        self.channel = channel

    def write(self, data: str) -> None:
        self.channel.write(data)

    def read(self, timeout: float) -> str | None:
        return self.channel.read(timeout)

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"{name} must not be called after hostile output")


@hostile(case="hostile status output leaves the node unread: no status to plan from")
@pytest.mark.parametrize(
    "chunk",
    ["Status : \x1b[32mEnabled\r\ncms2> ", "Status : Enabled\r\nadmin@cms2:~$ "],
    ids=["ansi", "shell-prompt"],
)
def test_the_reader_turns_hostile_output_into_a_node_error(
    clock: FakeClock, chunk: str, tmp_path: Path
) -> None:
    channel = reply(clock, chunk)
    session = SSHSession(_NoFiles(channel), shell_for(channel, clock))  # type: ignore[arg-type]
    node = read_node(NodeTarget(cluster="lab", name="cms2", address="10.0.0.2", session=session))
    assert node.status is None
    assert not node.readable
    assert node.error is not None
    assert "MMP" in node.error or "control character" in node.error


@hostile(case="a long line that reaches a parser is quoted short, on one line")
def test_a_long_line_reaching_a_parser_is_quoted_short() -> None:
    with pytest.raises(StatusParseError) as caught:
        parse_cluster_status("Status : Enabled\nNodes:\n  10.0.0.1 (me) : " + "x" * 10_000 + "\n")
    message = str(caught.value)
    assert len(message) < 500
    assert "chars)" in message
    assert "\n" not in message


@hostile(case="an ANSI-decorated shell prompt at login is named 'not an MMP', nothing sent")
def test_escapes_before_the_first_prompt_mean_not_an_mmp(clock: FakeClock) -> None:
    channel = ScriptedChannel(clock, greeting="\x1b[?2004hroot@vm:~# ")
    with pytest.raises(NotAnMMP, match="SSH works, but this is not an MMP") as caught:
        shell_for(channel, clock).run(STATUS)
    assert "\n" not in str(caught.value)
    assert channel.sent == []
