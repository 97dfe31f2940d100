"""How the MMP says no: ``ERROR:``/``FAILURE:`` lines and ``Usage:`` blocks, in any output.

The MMP's exit status is not available through an interactive shell, so
success is judged from the text (style guide: "trust no exit codes"). An
error may span lines (``ERROR: Cannot change certificates when clustering
enabled.`` / ``Disable clustering on this node first``); its continuation runs
to the next blank line or prompt. A ``Usage:`` block is what the MMP prints
for wrong arguments, so it is a rejection too.

``FAILURE:`` is the refusal of the SUCCESS/FAILURE convention (reference §2.3a: TAC 217320
shows ``streamer enable`` answering two ``FAILURE:`` lines; TAC 213821 states it for the
other components' ``enable``). Whether ``database cluster``, ``pki`` or ``backup`` ever answer
it is not known, so a ``FAILURE:`` (or ``FAILURE :``) line is treated exactly like an
``ERROR:`` line wherever it appears.

Only the text after the first echoed command line is examined: what precedes
it is earlier output (S1's ``backup snapshot`` transcript begins with the
``Usage:`` block of a previous command).

Note that ``database cluster status`` itself prints ``ERROR : ...`` as its
first line when the cluster is in the ``Error`` state; for that command use
``ClusterStatus.error`` from the status parser, not these helpers.
"""

from __future__ import annotations

import re

from reconciler.errors import StatusParseError
from reconciler.mmp.parsers.common import Line, prompt_command, split_lines

_ERROR_RE = re.compile(r"^\s*(?:ERROR|FAILURE)\s*:\s*(?P<text>.*)$", re.IGNORECASE)
_USAGE_RE = re.compile(r"^\s*Usage\s*:(?P<text>.*)$", re.IGNORECASE)


def _after_echo(text: str) -> list[Line]:
    lines = split_lines(text)
    for index, line in enumerate(lines):
        is_prompt, echoed = prompt_command(line)
        if is_prompt and echoed is not None:
            return lines[index + 1 :]
    return lines


def _ends_block(line: Line) -> bool:
    return line.blank or prompt_command(line)[0]


def _blocks(text: str, start: re.Pattern[str], *, keep_header: bool) -> list[str]:
    """Each block that begins with a ``start`` line, with its continuation lines."""
    blocks: list[str] = []
    current: list[str] | None = None
    for line in _after_echo(text):
        match = _ERROR_RE.match(line.text) or _USAGE_RE.match(line.text)
        if match is not None or _ends_block(line):
            if current is not None:
                blocks.append("\n".join(current).strip())
            current = None
            own = start.match(line.text)
            if own is not None:
                current = [line.text if keep_header else own.group("text").strip()]
        elif current is not None:
            current.append(line.text if keep_header else line.text.strip())
    if current is not None:
        blocks.append("\n".join(current).strip())
    return blocks


def find_error(text: str) -> str | None:
    """The text of every ``ERROR:`` / ``FAILURE:`` block, without that word, joined by newlines.

    Padding before the colon is allowed (``ERROR :``, ``FAILURE :``); continuation lines
    are kept. Returns None when the output holds no error line.
    """
    blocks = _blocks(text, _ERROR_RE, keep_header=False)
    return "\n".join(blocks) if blocks else None


def find_usage(text: str) -> str | None:
    """The ``Usage:`` block the MMP printed for wrong arguments, or None."""
    blocks = _blocks(text, _USAGE_RE, keep_header=True)
    return "\n".join(blocks) if blocks else None


def is_usage(text: str) -> bool:
    """Whether the MMP answered with a ``Usage:`` block (the command was not accepted)."""
    return find_usage(text) is not None


def find_rejection(text: str) -> str | None:
    """Why the MMP refused a command (its ``ERROR``/``FAILURE`` text, else ``Usage``), or None."""
    return find_error(text) or find_usage(text)


def raise_if_rejected(text: str, what: str) -> None:
    """Raise ``StatusParseError`` if the output is an ``ERROR``/``FAILURE``/``Usage`` answer.

    Tolerant parsers (``pki list``, ``backup list``) would otherwise turn a
    refusal into an empty listing.
    """
    reason = find_rejection(text)
    if reason is not None:
        raise StatusParseError(f"{what}: the MMP refused the command: {reason}")
