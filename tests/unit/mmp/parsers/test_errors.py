"""``find_error`` / ``find_usage``: how the MMP says no."""

from __future__ import annotations

import pytest

from reconciler.errors import StatusParseError
from reconciler.mmp.parsers import (
    find_error,
    find_rejection,
    find_usage,
    is_usage,
    raise_if_rejected,
)

TWO_LINE = (
    "ERROR: Cannot change certificates when clustering enabled.\n"
    "Disable clustering on this node first"
)


@pytest.mark.parametrize(
    "line",
    [
        "ERROR: Cannot change",
        "ERROR : Cannot change",
        "ERROR                    : Cannot change",
        "  ERROR:Cannot change",
        "Error: Cannot change",
    ],
)
def test_error_line_padding(line: str) -> None:
    assert find_error(f"cms1> database cluster certs a b c\n{line}\ncms1> ") == "Cannot change"


def test_continuation_runs_to_a_prompt() -> None:
    text = f"cms2> database cluster certs a b c d e\n{TWO_LINE}\ncms2>\ncms2>\n"
    assert find_error(text) == (
        "Cannot change certificates when clustering enabled.\nDisable clustering on this node first"
    )


def test_continuation_runs_to_a_blank_line() -> None:
    assert find_error(f"{TWO_LINE}\n\nsomething else\n") == (
        "Cannot change certificates when clustering enabled.\nDisable clustering on this node first"
    )


def test_continuation_runs_to_a_trailing_prompt_without_newline() -> None:
    crlf = TWO_LINE.replace("\n", "\r\n")
    text = f"cms2> database cluster certs a b c d e\r\n{crlf}\r\ncms2> "
    assert find_error(text) is not None
    assert find_error(text) == find_error(TWO_LINE)


def test_several_errors_are_all_reported() -> None:
    assert find_error("ERROR: one\nERROR: two\nmore\n") == "one\ntwo\nmore"


@pytest.mark.parametrize(
    "text",
    [
        "Certificates updated\n",
        "cms2> database cluster remove\nWARNING!!!\nAre you sure? (Y/n)\n",
        "Status : Error\n",
        "NOTE: This node is already in a cluster.\n",
        "the ERROR: is not at the start\n",
    ],
)
def test_no_error(text: str) -> None:
    assert find_error(text) is None
    assert find_rejection(text) is None


def test_error_before_the_echo_belongs_to_an_earlier_command() -> None:
    assert find_error("ERROR: old\ncms1> backup list\nx.bak\n") is None


def test_usage_block() -> None:
    text = (
        "cms1> backup\nUsage:\n  backup snapshot <name>\n  backup rollback <name>\n"
        "  backup list\ncms1> "
    )
    assert is_usage(text)
    assert find_usage(text) == (
        "Usage:\n  backup snapshot <name>\n  backup rollback <name>\n  backup list"
    )
    assert find_rejection(text) == find_usage(text)
    assert find_error(text) is None


def test_usage_before_the_echo_is_not_this_commands() -> None:
    text = "Usage:\n  backup list\ncms2> backup snapshot x\nx.bak ready for download\n"
    assert not is_usage(text)


def test_error_wins_over_usage_in_rejection() -> None:
    assert find_rejection("ERROR: bad file\nUsage:\n  pki inspect <file>\n") == "bad file"


def test_raise_if_rejected() -> None:
    raise_if_rejected("cms1> backup list\nx.bak\n", "backup list")
    with pytest.raises(StatusParseError, match="refused the command: nope"):
        raise_if_rejected("ERROR: nope\n", "backup list")


# Reference §2.3a (TAC 217320), verbatim: a component enable refused with FAILURE lines.
PUBLISHED_FAILURE = (
    "streamer> streamer enable\n"
    "FAILURE: TLS port set but no certificates configured\n"
    "FAILURE: Streamer configuration not complete\n"
)


@pytest.mark.parametrize(
    "line",
    [
        "FAILURE: Cannot change",
        "FAILURE : Cannot change",
        "FAILURE                  : Cannot change",
        "  FAILURE:Cannot change",
        "Failure: Cannot change",
    ],
)
def test_failure_line_is_an_error_line(line: str) -> None:
    text = f"cms1> database cluster certs a b c\n{line}\ncms1> "
    assert find_error(text) == "Cannot change"
    assert find_rejection(text) == "Cannot change"


def test_published_failure_answer_is_a_rejection() -> None:
    expected = "TLS port set but no certificates configured\nStreamer configuration not complete"
    assert find_error(PUBLISHED_FAILURE) == expected
    assert find_rejection(PUBLISHED_FAILURE) == expected
    with pytest.raises(StatusParseError, match="refused the command: TLS port set"):
        raise_if_rejected(PUBLISHED_FAILURE, "streamer enable")


def test_failure_continuation_and_mixed_with_error() -> None:
    text = "cms1> database cluster join 10.0.0.1\nFAILURE: one\nmore\nERROR: two\n\nlater\n"
    assert find_error(text) == "one\nmore\ntwo"


@pytest.mark.parametrize(
    "text",
    [
        "cms1> webadmin enable\nSUCCESS\ncms1> ",
        "the FAILURE: is not at the start\n",
        "FAILURES seen: 0\n",
    ],
)
def test_no_failure(text: str) -> None:
    assert find_rejection(text) is None
