"""Pure functions from MMP output text to the models in ``reconciler.mmp.models``.

Every parser refuses what it does not understand with ``StatusParseError``,
quoting the line and its number: a guessed reading can plan the destruction
of the master's database.
"""

from __future__ import annotations

from reconciler.mmp.parsers.backup import parse_backup_list, parse_backup_snapshot
from reconciler.mmp.parsers.certs import check_certs_updated
from reconciler.mmp.parsers.errors import (
    find_error,
    find_rejection,
    find_usage,
    is_usage,
    raise_if_rejected,
)
from reconciler.mmp.parsers.pki import parse_pki_inspect, parse_pki_list
from reconciler.mmp.parsers.status import parse_cluster_status

__all__ = [
    "check_certs_updated",
    "find_error",
    "find_rejection",
    "find_usage",
    "is_usage",
    "parse_backup_list",
    "parse_backup_snapshot",
    "parse_cluster_status",
    "parse_pki_inspect",
    "parse_pki_list",
    "raise_if_rejected",
]
