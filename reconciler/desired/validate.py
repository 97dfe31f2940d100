"""``reconcile validate``: offline checks of desired state, as text or JSON.

Exit code 0 when no cluster has an error (warnings allowed), 1 otherwise. The text is plain
(no colour) so it reads the same in a terminal, a CI log and a PR comment.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.ci.github import annotation
from reconciler.desired.findings import Severity, SpecFinding
from reconciler.desired.loader import load_desired
from reconciler.desired.source import open_source
from reconciler.desired.state import ClusterResult, DesiredState
from reconciler.desired.trusted_source import load_desired_trusted
from reconciler.errors import ConfigError

FORMATS = ("text", "json", "github")


def run_validate(
    repo: Path,
    clusters: list[str],
    ref: str | None,
    output_format: str,
    *,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
    trusted_ref: str | None = None,
) -> tuple[str, int]:
    """Validate the clusters (all when empty); return the output and the exit code.

    With ``trusted_ref``, each cluster is checked with the access of that commit (the variables
    and pins its file names there, as ``plan --trusted-ref`` uses them): the variable names a
    proposed change writes are never read (a key opened with one would tell its value apart).
    """
    if output_format not in FORMATS:
        raise ConfigError(f"unknown --format {output_format!r}; use one of: {', '.join(FORMATS)}")
    if trusted_ref is None:
        state = load_desired(repo, clusters, ref, env=env, now=now)
    else:
        with open_source(repo, trusted_ref) as trusted:
            state, _ = load_desired_trusted(
                repo,
                clusters,
                ref,
                trusted,
                os.environ if env is None else env,
                now or datetime.now(UTC),
                include_untrusted=True,
            )
    renderers = {"json": render_json, "github": render_github, "text": render_text}
    return renderers[output_format](state), 0 if state.ok else 1


def render_json(state: DesiredState) -> str:
    document: dict[str, Any] = {
        "git": {"commit": state.commit, "dirty": state.dirty},
        "clusters": [
            {
                "name": result.name,
                "file": result.file,
                "findings": [finding.model_dump(mode="json") for finding in result.findings],
                "ok": result.ok,
            }
            for result in state.clusters
        ],
    }
    return json.dumps(document, indent=2)


def render_text(state: DesiredState) -> str:
    commit = state.commit[:12] if state.commit else "no git commit"
    dirty = ", working tree has uncommitted changes" if state.dirty else ""
    lines = [f"desired state: {commit}{dirty}"]
    for result in state.clusters:
        lines.extend(format_finding(finding) for finding in result.findings)
        lines.append(_summary(result))
    return "\n".join(lines)


def render_github(state: DesiredState) -> str:
    """One GitHub workflow-command annotation per finding, on the YAML line it is about (a
    certificate or host-key finding on the line that names the file), then the summary lines
    that the text format ends each cluster with, so the job log reads on its own.

    https://docs.github.com/actions/reference/workflow-commands-for-github-actions
    """
    lines: list[str] = []
    for result in state.clusters:
        for finding in result.findings:
            lines.append(github_annotation(finding))
        lines.append(_summary(result))
    return "\n".join(lines)


def github_annotation(finding: SpecFinding) -> str:
    """``::error file=clusters/lab.yaml,line=7,col=5::ssh.pasword_env: unknown key ...``."""
    where = f"{finding.key}: " if finding.key else ""
    if finding.node and not finding.key.startswith("nodes["):
        where += f"(node {finding.node}) "
    command = "error" if finding.is_error else "warning"
    return annotation(
        command, where + finding.message, file=finding.file, line=finding.line, col=finding.column
    )


def format_finding(finding: SpecFinding) -> str:
    """``error   clusters/lab.yaml: nodes[1].address: duplicate address ...``."""
    where = finding.file
    if finding.key:
        where += f": {finding.key}"
    if finding.node and not finding.key.startswith("nodes["):
        where += f" (node {finding.node})"
    return f"{finding.severity.value:<7} {where}: {finding.message}"


def _summary(result: ClusterResult) -> str:
    errors = sum(1 for f in result.findings if f.severity is Severity.ERROR)
    warnings = len(result.findings) - errors
    counts = f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
    verdict = "ok" if result.ok else "FAILED"
    return f"{verdict:<7} cluster {result.name} ({result.file}): {counts}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"
