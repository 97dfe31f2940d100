"""Line splitting, prompt/echo stripping and label matching."""

from __future__ import annotations

import pytest

from reconciler.errors import StatusParseError
from reconciler.mmp.parsers.common import (
    echoed_command,
    match_label,
    output_lines,
    prompt_command,
    split_lines,
)


def test_split_lines_numbers_every_ending() -> None:
    lines = split_lines("a\r\nb\rc\nd  ")
    assert [(line.number, line.text) for line in lines] == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cms2>", (True, None)),
        ("cms2> ", (True, None)),
        ("CMS> database cluster status", (True, "database cluster status")),
        ("cms-a.lab_1> pki list", (True, "pki list")),
        ("Status : Enabled", (False, None)),
        ("a>b", (False, None)),
        ("  cms2>", (False, None)),
    ],
)
def test_prompt_command(text: str, expected: tuple[bool, str | None]) -> None:
    assert prompt_command(split_lines(text)[0]) == expected


def test_output_lines_drops_prompts_and_earlier_output() -> None:
    text = "old\ncms1>\ncms1> pki list\nx.cer\ncms1>\ny.cer\ncms1> "
    assert [line.text for line in output_lines(text, command="pki list")] == ["x.cer", "y.cer"]
    assert [line.number for line in output_lines(text)] == [4, 6]
    assert echoed_command(text) == "pki list"


def test_output_lines_without_echo_keeps_everything_but_prompts() -> None:
    assert [line.text for line in output_lines("a\ncms1>\nb\n")] == ["a", "b", ""]


@pytest.mark.parametrize("text", ["", "  \r\n", "cms1> pki list\ncms1> "])
def test_output_lines_refuses_empty(text: str) -> None:
    with pytest.raises(StatusParseError, match="empty output"):
        output_lines(text)


def test_match_label_is_exact_but_padding_tolerant() -> None:
    labels = {"niu": "Node in use", "na": "Not After"}
    assert match_label("Node in use: x", labels) == ("niu", "x")
    assert match_label("  Node  in use      :   fd00::1", labels) == ("niu", "fd00::1")
    assert match_label("Not After : Mar  9 08:57:17 2017 GMT", labels) == (
        "na",
        "Mar  9 08:57:17 2017 GMT",
    )
    assert match_label("Node in useless : x", labels) is None
    assert match_label("node in use : x", labels) is None
