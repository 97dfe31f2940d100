"""What a read of the nodes cannot see, said where a verdict rests on it (issue 23, item 6).

``database cluster status`` names the files ``database cluster certs`` last loaded, never
their content, and the service runs what ``certs`` loaded (reference §1.2, §3.4). What can be
read is the files on the node's disk now. A file replaced under the same name since the last
``certs`` (an SFTP upload by hand) reads exactly like one that is loaded, so the verdicts that
rest on it, the plan's "No changes" and status's "healthy", carry this caveat: in their JSON
(``caveats``, a list of ``{kind, detail}``) and once in text. ``reconcile plan --recertify``
plans the way out: re-loading every node's certificates in a rotation's order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict

CaveatKind = Literal["loaded_certificates_unverified"]


class Caveat(BaseModel):
    """A limit of what a verdict could check: ``kind`` for programs, ``detail`` for people."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: CaveatKind
    detail: str


LOADED_CERTIFICATES = Caveat(
    kind="loaded_certificates_unverified",
    detail=(
        "certificates are judged from the files on each node: status shows only the names of "
        "the files `database cluster certs` loaded, not their content, so a file replaced "
        "under the same name since then goes unseen; `reconcile plan --recertify` plans "
        "re-loading them"
    ),
)
"""The caveat of a converged plan and of a healthy status."""


def caveat_notes(caveats: Iterable[Caveat]) -> list[str]:
    """Each distinct caveat once, as a line of text output: ``Note: certificates are ...``."""
    return [f"Note: {detail}." for detail in dict.fromkeys(c.detail for c in caveats)]
