"""``database cluster certs ...``: success is the single line ``Certificates updated``."""

from __future__ import annotations

from reconciler.mmp.parsers.common import output_lines

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
