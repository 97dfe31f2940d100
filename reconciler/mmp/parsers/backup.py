"""``backup snapshot`` and ``backup list``.

A snapshot is the safety net taken before any node is torn down, so its
answer is read strictly: exactly one line, ``NAME.bak ready for download``.
``backup list`` output was never published; its parser only collects tokens
ending in ``.bak`` and refuses outputs that are errors.
"""

from __future__ import annotations

import re

from reconciler.errors import StatusParseError
from reconciler.mmp.models import BackupList, BackupSnapshot
from reconciler.mmp.parsers.common import Line, echoed_command, output_lines
from reconciler.mmp.parsers.errors import raise_if_rejected

_SNAPSHOT = "backup snapshot"
_READY_RE = re.compile(r"^(?P<name>\S+)\.bak ready for download$")
_TOKEN_PUNCTUATION = "'\",;()[]<>"


def parse_backup_snapshot(text: str, name: str | None = None) -> BackupSnapshot:
    """Parse ``backup snapshot NAME``; ``name`` (or the echoed command's) must match.

    Raises:
        StatusParseError: anything but the single ``ready for download`` line, or
            a snapshot of another name than the one requested.
    """
    answer: tuple[Line, str] | None = None
    for line in output_lines(text, command=_SNAPSHOT, what=_SNAPSHOT):
        if line.blank:
            continue
        if answer is not None:
            raise line.error(f"{_SNAPSHOT}: unexpected line after the snapshot answer")
        ready = _READY_RE.match(line.text.strip())
        if ready is None:
            raise line.error(f"{_SNAPSHOT}: expected '<name>.bak ready for download'")
        answer = (line, ready.group("name"))
    if answer is None:  # output_lines already refuses an all-blank output
        raise StatusParseError(f"{_SNAPSHOT}: empty output")
    line, snapshot = answer
    echoed = (echoed_command(text) or "").split()
    for requested in (name, " ".join(echoed[2:]) or None):
        if requested is not None and requested != snapshot:
            raise line.error(f"{_SNAPSHOT}: snapshot is not named {requested!r}")
    return BackupSnapshot(name=snapshot, file=f"{snapshot}.bak")


def parse_backup_list(text: str) -> BackupList:
    """``.bak`` file names found anywhere in ``backup list`` output, in order, once each."""
    raise_if_rejected(text, "backup list")
    files: dict[str, None] = {}
    for line in output_lines(text, command="backup list", what="backup list"):
        for raw in line.text.split():
            token = raw.strip(_TOKEN_PUNCTUATION)
            if token.endswith(".bak") and len(token) > len(".bak"):
                files.setdefault(token)
    return BackupList(files=tuple(files))
