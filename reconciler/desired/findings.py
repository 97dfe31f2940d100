"""Findings: what validation reports instead of raising.

Every problem with desired state is a ``SpecFinding`` naming the cluster file, the key path
inside it (``nodes[1].address``) and, where it concerns one node only, that node's address.
Checks return findings so that one run reports every mistake in a pull request, not just the
first. (A plan's ``plan.models.Finding`` is another thing: a difference between desired and
live.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Severity(StrEnum):
    """``error`` blocks plan and apply; ``warning`` is reported and does not."""

    ERROR = "error"
    WARNING = "warning"


class SpecFinding(BaseModel):
    """One problem in a cluster file (or the files it names), phrased so that the reader
    knows what to fix."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    severity: Severity
    file: str
    """Repo-relative path of the cluster file (the key path is relative to it)."""
    key: str
    """Key path inside the file, e.g. ``nodes[1].ssh_port``; empty for the whole file."""
    node: str | None = None
    """Address of the node the finding is about, when it concerns one node only."""
    message: str
    line: int | None = None
    """1-based line of the key in the file, when known."""
    column: int | None = None
    """1-based column of the key on that line, when known."""

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def describe(self) -> str:
        """``file: key: message`` (the key left out when the finding is about the file)."""
        return (
            f"{self.file}: {self.key}: {self.message}"
            if self.key
            else (f"{self.file}: {self.message}")
        )


def describe_errors(findings: Iterable[SpecFinding]) -> str:
    """The errors, one per indented line, for a ``ConfigError`` message."""
    return "\n  ".join(finding.describe() for finding in findings if finding.is_error)


class FindingList:
    """Collects findings for one cluster file; checks call ``error``/``warning``."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.items: list[SpecFinding] = []

    def error(self, key: str, message: str, node: str | None = None) -> None:
        self.add(Severity.ERROR, key, message, node)

    def warning(self, key: str, message: str, node: str | None = None) -> None:
        self.add(Severity.WARNING, key, message, node)

    def add(
        self,
        severity: Severity,
        key: str,
        message: str,
        node: str | None = None,
        *,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.items.append(
            SpecFinding(
                severity=severity,
                file=self.file,
                key=key,
                node=node,
                message=message,
                line=line,
                column=column,
            )
        )

    def extend(self, findings: Iterable[SpecFinding]) -> None:
        self.items.extend(findings)

    @property
    def has_errors(self) -> bool:
        return has_errors(self.items)


def has_errors(findings: Iterable[SpecFinding]) -> bool:
    return any(finding.is_error for finding in findings)


def dedupe(findings: Iterable[SpecFinding]) -> list[SpecFinding]:
    """Drop repeats (a shared certificate checked once per node), keeping first order."""
    seen: set[SpecFinding] = set()
    unique: list[SpecFinding] = []
    for finding in findings:
        if finding not in seen:
            seen.add(finding)
            unique.append(finding)
    return unique


def with_lines(
    findings: Iterable[SpecFinding],
    lines: Mapping[str, int],
    columns: Mapping[str, int] | None = None,
) -> list[SpecFinding]:
    """Attach the line (and column) of the longest known prefix of each finding's key path;
    a finding that already knows its position keeps it."""
    located: list[SpecFinding] = []
    for finding in findings:
        key = _known_prefix(finding.key, lines)
        if finding.line is not None or key is None:
            located.append(finding)
            continue
        column = (columns or {}).get(key)
        located.append(finding.model_copy(update={"line": lines[key], "column": column}))
    return located


def line_of(key: str, lines: Mapping[str, int]) -> int | None:
    known = _known_prefix(key, lines)
    return lines[known] if known is not None else None


def _known_prefix(key: str, lines: Mapping[str, int]) -> str | None:
    candidate = key
    while candidate:
        if candidate in lines:
            return candidate
        cut = max(candidate.rfind("."), candidate.rfind("["))
        candidate = candidate[:cut] if cut > 0 else ""
    return None
