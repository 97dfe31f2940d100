"""Read each cluster's access at the trusted ref (the git shell around ``desired.trust``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from reconciler.desired.findings import Severity, describe_errors
from reconciler.desired.loader import load_cluster, load_spec, resolve_cluster_names
from reconciler.desired.models import ClusterSpec
from reconciler.desired.source import DesiredSource, brief, cluster_file, open_source
from reconciler.desired.state import ClusterResult, DesiredState
from reconciler.desired.trust import ClusterAccess, access_changes, untrusted
from reconciler.errors import SourceReadError


def only_trusted(env: Mapping[str, str], access: Iterable[ClusterAccess]) -> dict[str, str]:
    """The environment a run with ``--trusted-ref`` may read: the variables the trusted cluster
    files name, and nothing else (no other secret can reach a node, a key or a message)."""
    names = frozenset().union(*(item.env_names for item in access))
    return {name: value for name, value in env.items() if name in names}


def load_desired_trusted(
    repo: Path,
    clusters: Sequence[str],
    ref: str | None,
    trusted: DesiredSource,
    env: Mapping[str, str],
    now: datetime,
    *,
    check_key_consistency: bool = True,
    include_untrusted: bool = False,
) -> tuple[DesiredState, dict[str, ClusterAccess]]:
    """Desired state from ``ref``, access from ``trusted``: each cluster loaded with the
    trusted access fields and only the variables its trusted file names.

    A cluster without trusted access is left out (a plan contacts and decrypts nothing of it),
    or, with ``include_untrusted`` (validate), loaded with no variable at all: its structure,
    certificates and pins are checked, its keys cannot be, which is said as a warning.
    """
    access: dict[str, ClusterAccess] = {}
    results: list[ClusterResult] = []
    with open_source(repo, ref) as source:
        for name in resolve_cluster_names(source, clusters):
            proposed = load_spec(source, name).spec
            access[name] = read_access(name, proposed, source, trusted)
            if access[name].contacted:
                results.append(
                    load_cluster(
                        source,
                        name,
                        only_trusted(env, [access[name]]),
                        now,
                        check_key_consistency=check_key_consistency,
                        access=access[name],
                        pins_source=trusted,
                    )
                )
            elif include_untrusted:
                loaded = load_cluster(source, name, {}, now, check_key_consistency=False)
                results.append(_keys_unchecked(loaded, access[name]))
        desired = DesiredState(
            commit=source.commit,
            dirty=source.dirty,
            clusters=tuple(results),
            dirty_paths=tuple(source.dirty_paths),
        )
    return desired, access


def _keys_unchecked(result: ClusterResult, access: ClusterAccess) -> ClusterResult:
    """A cluster new at the trusted ref has no variable to read: the key passphrase errors are
    warnings (its keys are checked once its access is merged), nothing else changes."""
    findings = [
        finding.model_copy(
            update={
                "severity": Severity.WARNING,
                "message": f"{finding.message} (not checked here: {access.problem})",
            }
        )
        if finding.is_error and finding.key.endswith("key_passphrase_env")
        else finding
        for finding in result.findings
    ]
    return result.model_copy(update={"findings": tuple(findings)})


def read_access(
    name: str,
    proposed: ClusterSpec | None,
    proposed_source: DesiredSource,
    trusted_source: DesiredSource,
) -> ClusterAccess:
    """The access ``name``'s plan may use: from its cluster file and pins at the trusted ref.

    ``proposed`` is the pull request's spec of it (None when it does not load there), for the
    report of what the pull request changes.
    """
    where = brief(trusted_source)
    file = cluster_file(name)
    trusted = load_spec(trusted_source, name)
    if trusted.spec is None or trusted.findings.has_errors:
        new = not trusted_source.exists(file)
        if new:
            problem = (
                f"{file} does not exist at the trusted ref ({where}): a new cluster is not "
                "contacted until its file and host-key pins are merged (pin it first in a "
                "small pull request that CODEOWNERS review)"
            )
        else:
            problem = (
                f"{file} does not load at the trusted ref ({where}), so nothing says how "
                "to reach its nodes: " + describe_errors(trusted.findings.items)
            )
        return untrusted(name, where, problem, proposed, new=new)
    spec = trusted.spec
    trusted_pins = _text(trusted_source, spec.ssh.known_hosts)
    proposed_pins = _text(proposed_source, proposed.ssh.known_hosts) if proposed else None
    changes = access_changes(proposed, spec, proposed_pins=proposed_pins, trusted_pins=trusted_pins)
    return ClusterAccess(name, where, spec, changes)


def _text(source: DesiredSource, path: str) -> str | None:
    try:
        return source.read_bytes(path).decode("utf-8", "replace")
    except (FileNotFoundError, SourceReadError):
        return None
