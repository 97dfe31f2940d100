"""``database cluster certs ...``: the answer ``Certificates updated``.

``check_certs_updated`` is the strict reading (exactly that one line); apply uses
``read_certs_answer``, which fails only on a refusal and leaves success to the status read
back (issue 24: one unexpected line must not stop a rotation with the node out of the cluster).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reconciler.errors import StatusParseError
from reconciler.mmp.parsers.common import PROMPT_RE, output_lines, split_lines

_CERTS = "database cluster certs"


def check_certs_updated(text: str) -> None:
    """Return quietly only if the MMP answered exactly ``Certificates updated``.

    The echoed command is not checked: S1's published success transcript has a
    truncated echo (``cms2> .key dbclusterserver.cer ...``). Check
    ``find_rejection`` first to turn an ``ERROR:`` answer into ``CommandRejected``.

    Raises:
        StatusParseError: any other output.
    """
    lines = [line for line in output_lines(text, what=_CERTS) if not line.blank]
    for line in lines:
        if line.text.strip() != "Certificates updated":
            raise line.error(f"{_CERTS}: expected only 'Certificates updated'")
    if len(lines) != 1:
        raise lines[1].error(f"{_CERTS}: 'Certificates updated' printed more than once")


_REFUSAL_RE = re.compile(r"^\s*(?:ERROR|FAILURE|Usage)\b", re.IGNORECASE)
UPDATED = "Certificates updated"


@dataclass(frozen=True)
class CertsAnswer:
    """What ``database cluster certs`` printed, judged the tolerant way (issue 24).

    ``refusal``: the first line starting ``ERROR``, ``FAILURE`` or ``Usage`` and the lines
    after it (None: not refused); ``updated``: ``Certificates updated`` was printed;
    ``other``: every other non-blank line (CMS 3.x prints ``SUCCESS: ...`` lines for similar
    commands, TAC 217320), for the journal. Success is then proven by reading the status
    back, not by these words.
    """

    refusal: str | None
    updated: bool
    other: tuple[str, ...]


def read_certs_answer(text: str) -> CertsAnswer:
    """Sort the lines ``database cluster certs`` printed (never raises on their words)."""
    try:
        lines = [line.text.strip() for line in output_lines(text, what=_CERTS)]
    except StatusParseError:
        lines = [line.text.strip() for line in split_lines(text)]
    lines = [line for line in lines if line and not PROMPT_RE.match(line)]
    for index, line in enumerate(lines):
        if _REFUSAL_RE.match(line):
            return CertsAnswer(" / ".join(lines[index:]), UPDATED in lines, ())
    return CertsAnswer(None, UPDATED in lines, tuple(line for line in lines if line != UPDATED))
