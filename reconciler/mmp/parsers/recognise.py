"""Which lines of an output did the parsers not recognise? (``reconcile probe``)

The parsers refuse the first line they do not understand; a first contact with a real node
wants every such line, so that one report (and one bug report) names them all. This asks the
parser itself, not a second grammar: it parses, and when the parser refuses a numbered line,
that line is recorded, blanked (blank lines carry no meaning to any parser, and the numbering
of the others is kept) and the output parsed again, until the parser accepts what is left or
refuses without naming a line (a missing field: recorded as a problem of the whole output).

``backup list`` has no published format and a tolerant parser (it collects ``.bak`` names),
so its known shapes are the lines that name a backup and, when no line does, one line of any
words (the "no backups" answer, whose wording nobody has published).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from reconciler.errors import StatusParseError
from reconciler.mmp.parsers.backup import parse_backup_list
from reconciler.mmp.parsers.common import Line, split_lines
from reconciler.mmp.parsers.errors import find_rejection
from reconciler.mmp.parsers.pki import parse_pki_inspect
from reconciler.mmp.parsers.status import parse_cluster_status

STATUS = "database cluster status"
PKI_INSPECT = "pki inspect"
BACKUP_LIST = "backup list"
KNOWN_COMMANDS = (STATUS, PKI_INSPECT, BACKUP_LIST)
"""The read-only commands whose output shapes the parsers know."""
T = TypeVar("T")
_ABSENT = re.compile(r"\b(?:lacks|missing|no '|neither a Status line|empty output)")
"""A parser message about something absent rather than a line it does not know."""


@dataclass(frozen=True, slots=True)
class Unrecognised:
    """One line (or, with ``line`` None, the whole output) a parser did not accept."""

    command: str
    reason: str
    line: Line | None = None

    def describe(self) -> str:
        if self.line is None:
            return f"{self.command}: {self.reason}"
        return f"{self.command}: line {self.line.number} {self.line.text!r}: {self.reason}"


def _parser(command: str) -> Callable[[str], object]:
    words = command.split()
    if words == STATUS.split():
        return parse_cluster_status
    if words[:2] == PKI_INSPECT.split():
        return parse_pki_inspect
    if words == BACKUP_LIST.split():
        return parse_backup_list
    raise ValueError(f"no parser knows the output of {command!r}")


def unrecognised_lines(command: str, output: str) -> list[Unrecognised]:
    """Every line of ``output`` (the clean output of ``command``: no echo, no prompt) that the
    command's parser does not recognise, in order; empty when the parser accepts it all.

    Raises:
        ValueError: ``command`` is not one of ``KNOWN_COMMANDS``.
    """
    parse = _parser(command)
    if command.split() == BACKUP_LIST.split():
        return _backup_list(command, output)
    _, found = parse_setting_aside(parse, command, output)
    last = len(split_lines(output)) + 1
    return sorted(found, key=lambda item: item.line.number if item.line else last)


def parse_setting_aside(
    parse: Callable[[str], T], command: str, output: str, *, most: int | None = None
) -> tuple[T | None, list[Unrecognised]]:
    """``parse(output)`` with each line the parser refuses set aside (blanked) and the rest
    parsed again: the result (None when what is left still cannot be read) and what was set
    aside. Also what a wait reads a status with (apply/waits.py): ``most`` bounds the lines
    set aside before giving up."""
    lines = split_lines(output)
    texts = [line.text for line in lines]
    found: list[Unrecognised] = []
    for _ in range(len(lines) + 1 if most is None else most + 1):
        try:
            return parse("\n".join(texts)), found
        except StatusParseError as error:
            number = error.line_number
            if number is None or not 1 <= number <= len(lines) or not texts[number - 1].strip():
                found.append(Unrecognised(command, _reason(error)))
                break
            if _ABSENT.search(_reason(error)):
                # Something is missing: the quoted line is where the parser noticed, not
                # what is wrong, and blanking it would only blame the lines around it.
                found.append(Unrecognised(command, f"{_reason(error)} (noticed at line {number})"))
                break
            found.append(Unrecognised(command, _reason(error), lines[number - 1]))
            texts[number - 1] = ""
    return None, found


def _reason(error: StatusParseError) -> str:
    """The parser's message without the line it quotes (the finding carries the line)."""
    text = str(error)
    if error.line is not None:
        text = text.removesuffix(f" (line {error.line_number}: {error.line!r})")
    return text


def _backup_list(command: str, output: str) -> list[Unrecognised]:
    rejection = find_rejection(output)
    if rejection is not None:
        return [Unrecognised(command, f"the MMP refused the command: {rejection}")]
    lines = [line for line in split_lines(output) if not line.blank]
    naming = [line for line in lines if _names_a_backup(line)]
    if not naming and len(lines) <= 1:
        return []  # an empty listing, in whatever words (unpublished)
    return [
        Unrecognised(command, "names no backup (.bak) file", line)
        for line in lines
        if not _names_a_backup(line)
    ]


def _names_a_backup(line: Line) -> bool:
    try:
        return bool(parse_backup_list(line.text).files)
    except StatusParseError:
        return False
