"""Line handling shared by every MMP output parser.

The MMP's text arrives with CRLF or LF endings, may carry the echoed command
line and prompt lines (``cms2>``), and may be preceded by whatever the session
printed before the command (an earlier command's output). These helpers reduce
all of that to numbered lines of the command's own output, so that a parser's
error can still quote the line number of the text it was given.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import cache

from reconciler.errors import StatusParseError

PROMPT_RE = re.compile(r"^(?P<host>[A-Za-z0-9_.-]+)>(?: (?P<command>.*))?$")
"""An MMP prompt line, bare (``cms2>``) or followed by the echoed command."""


@dataclass(frozen=True, slots=True)
class Line:
    """One line of MMP output with its 1-based number in the original text."""

    number: int
    text: str

    @property
    def blank(self) -> bool:
        return not self.text.strip()

    def error(self, message: str) -> StatusParseError:
        """A parse error that quotes this line (its start, if long: the error is one line)."""
        quoted = (
            self.text if len(self.text) <= 200 else f"{self.text[:200]}... ({len(self.text)} chars)"
        )
        return StatusParseError(message, line=quoted, line_number=self.number)


def split_lines(text: str) -> list[Line]:
    """Split on CRLF, CR or LF; right-strip each line (trailing padding carries no meaning)."""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    return [Line(i, raw.rstrip()) for i, raw in enumerate(normalised.split("\n"), start=1)]


def prompt_command(line: Line) -> tuple[bool, str | None]:
    """Whether ``line`` is a prompt line, and the echoed command on it (None when bare)."""
    match = PROMPT_RE.match(line.text)
    if match is None:
        return False, None
    command = (match.group("command") or "").strip()
    return True, (command or None)


def output_lines(text: str, *, command: str | None = None, what: str = "output") -> list[Line]:
    """The lines a command printed, without prompt lines and without what preceded its echo.

    Everything before the echoed command line belongs to earlier output (S1's
    ``backup snapshot`` transcript starts with the ``Usage:`` block of a previous
    command), so it is dropped. More than one echoed command is refused: we could
    not tell which output is which. When ``command`` is given, an echoed command
    must start with its words, so the output of another command is never parsed
    as this one's.

    Raises:
        StatusParseError: empty output, several echoed commands, or the wrong command.
    """
    echo: Line | None = None
    echoed_words: list[str] = []
    kept: list[Line] = []
    for line in split_lines(text):
        is_prompt, echoed = prompt_command(line)
        if not is_prompt:
            kept.append(line)
        elif echoed is not None:
            if echo is not None:
                raise line.error(f"{what}: more than one echoed command in one output")
            echo, echoed_words = line, echoed.split()
    if echo is not None:
        expected = (command or "").split()
        if echoed_words[: len(expected)] != expected:
            raise echo.error(f"{what}: expected the output of {command!r}")
        kept = [line for line in kept if line.number > echo.number]
    if all(line.blank for line in kept):
        raise StatusParseError(f"{what}: empty output")
    return kept


def echoed_command(text: str) -> str | None:
    """The first echoed command in ``text`` (whitespace-normalised), if any."""
    for line in split_lines(text):
        is_prompt, echoed = prompt_command(line)
        if is_prompt and echoed is not None:
            return " ".join(echoed.split())
    return None


@cache
def label_regex(label: str) -> re.Pattern[str]:
    """``<indent><label><padding>:<space><value>`` for a fixed label, any padding (even none).

    Matching a *known* label (rather than splitting on the first colon) keeps
    IPv6 addresses and ``Not After :`` intact.
    """
    words = r"\s+".join(re.escape(word) for word in label.split())
    return re.compile(rf"^\s*{words}\s*:\s*(?P<value>.*)$")


def match_label(text: str, labels: dict[str, str]) -> tuple[str, str] | None:
    """The (key, value) of the first of ``labels`` (key -> printed label) that ``text`` is."""
    for key, label in labels.items():
        match = label_regex(label).match(text)
        if match is not None:
            return key, match.group("value").strip()
    return None


def is_ip_address(text: str) -> bool:
    """An IPv4 or IPv6 literal as printed (zone ids allowed); nothing is resolved."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
