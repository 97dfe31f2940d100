"""Load desired state: YAML -> ``ClusterSpec`` -> checked bundles -> ``DesiredCluster``.

The entry points never raise for bad input: every problem becomes a finding, so one run
reports all of them. Only a request that cannot be answered at all (an unknown cluster, a
ref that is not a commit) raises ``ConfigError``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from pydantic import ValidationError

from reconciler.desired.access import check_access
from reconciler.desired.bundle import BundleChecker
from reconciler.desired.findings import (
    FindingList,
    Severity,
    dedupe,
    describe_errors,
    with_lines,
)
from reconciler.desired.models import ClusterSpec
from reconciler.desired.source import DesiredSource, cluster_file, open_source
from reconciler.desired.specerrors import findings_from_validation_error
from reconciler.desired.state import ClusterResult, DesiredCluster, DesiredNode, DesiredState
from reconciler.desired.topology import check_topology
from reconciler.desired.trust import ClusterAccess, overlay_access
from reconciler.desired.yamlfile import parse_yaml
from reconciler.errors import ConfigError, SourceReadError

_CLUSTER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
# Where there is no cluster at all, the usual cause is the folder: say how to name another,
# or how to start one (README "Use it on your cluster").
NO_CLUSTERS_HINT = (
    "give --repo DIR for a repository elsewhere, or make one with `reconcile init DIR`"
)


def resolve_cluster_names(source: DesiredSource, requested: Sequence[str]) -> list[str]:
    """The requested names (checked to exist), or every ``clusters/*.yaml`` when none."""
    known = source.cluster_names()
    if not requested:
        if not known:
            raise ConfigError(f"no clusters/*.yaml in {source.describe()}: {NO_CLUSTERS_HINT}")
        return known
    names: list[str] = []
    for name in requested:
        if not _CLUSTER_NAME.fullmatch(name) or name not in known:
            listing = f"(clusters: {', '.join(known)})" if known else "(clusters: none)"
            hint = "" if known else f": {NO_CLUSTERS_HINT}"
            raise ConfigError(
                f"no cluster {name!r}: {cluster_file(name)} does not exist in "
                f"{source.describe()} {listing}{hint}"
            )
        if name not in names:
            names.append(name)
    return names


class SpecLoad(NamedTuple):
    """A parsed cluster file: the spec (None on a structural error), findings, key lines."""

    spec: ClusterSpec | None
    findings: FindingList
    lines: dict[str, int]
    columns: dict[str, int]


def load_spec(source: DesiredSource, name: str) -> SpecLoad:
    """Parse and structurally validate one cluster file; no certificate is read.

    Status can use this alone: it needs nodes and SSH settings, not the bundle.
    """
    file = cluster_file(name)
    findings = FindingList(file)
    try:
        raw = source.read_bytes(file)
    except FileNotFoundError:
        findings.error("", f"does not exist in {source.describe()}")
        return SpecLoad(None, findings, {}, {})
    except (OSError, SourceReadError) as error:
        findings.error("", f"cannot be read: {error}")
        return SpecLoad(None, findings, {}, {})
    parsed = parse_yaml(raw)
    for problem in parsed.problems:
        findings.add(
            Severity.ERROR, problem.key, problem.message, line=problem.line, column=problem.column
        )
    if parsed.data is None:
        return SpecLoad(None, findings, parsed.lines, parsed.columns)
    try:
        spec = ClusterSpec.model_validate(parsed.data)
    except ValidationError as error:
        findings.extend(findings_from_validation_error(error, ClusterSpec, file))
        return SpecLoad(None, findings, parsed.lines, parsed.columns)
    check_topology(spec, name, findings)
    return SpecLoad(spec, findings, parsed.lines, parsed.columns)


def readable_spec(source: DesiredSource, name: str) -> ClusterSpec:
    """The cluster file's spec, for a command that needs a valid one to go on (status, host
    keys, a new bundle); ConfigError listing its errors otherwise."""
    loaded = load_spec(source, name)
    if loaded.spec is None or loaded.findings.has_errors:
        raise ConfigError(
            f"cluster {name} cannot be read (run `reconcile validate`):\n  "
            + describe_errors(loaded.findings.items)
        )
    return loaded.spec


def load_cluster(
    source: DesiredSource,
    name: str,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
    *,
    check_key_consistency: bool = True,
    access: ClusterAccess | None = None,
    pins_source: DesiredSource | None = None,
) -> ClusterResult:
    """Load and check one cluster; ``cluster`` is set only when there is no error.

    ``check_key_consistency=False`` is for a plan, which sends nothing (``pem.decrypt_key``).
    ``access`` (from ``--trusted-ref``) replaces every access field of the file with the
    trusted one, and ``pins_source`` is where its pins are read (the trusted ref).
    """
    environment = os.environ if env is None else env
    moment = now or datetime.now(UTC)
    file = cluster_file(name)
    spec, findings, lines, columns = load_spec(source, name)
    cluster: DesiredCluster | None = None
    if spec is not None and access is not None and access.spec is not None:
        spec = overlay_access(spec, access.spec)
    if spec is not None:
        check_access(spec, pins_source or source, environment, findings)
        checker = BundleChecker(
            spec,
            source,
            environment,
            moment,
            findings,
            check_key_consistency=check_key_consistency,
        )
        bundles = checker.check()
        if not findings.has_errors and len(bundles) == len(spec.nodes):
            master = spec.master_node()
            nodes = tuple(
                DesiredNode(
                    spec=node,
                    name=node.name,
                    address=node.address,
                    ssh_host=node.effective_ssh_host,
                    ssh_port=spec.ssh_port_of(node),
                    is_master=node is master,
                    bundle=bundles[node.address],
                )
                for node in spec.nodes
            )
            referenced = {file, spec.ssh.known_hosts, *checker.files_read}
            cluster = DesiredCluster(
                name=spec.name,
                file=file,
                spec=spec,
                nodes=nodes,
                referenced_files=tuple(sorted(referenced)),
            )
    return ClusterResult(
        name=name,
        file=file,
        findings=tuple(with_lines(dedupe(findings.items), lines, columns)),
        spec=spec,
        cluster=cluster,
    )


def load_desired(
    repo: Path,
    clusters: Sequence[str] = (),
    ref: str | None = None,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
    *,
    check_key_consistency: bool = True,
) -> DesiredState:
    """Every requested cluster from the working tree of ``repo`` or from commit ``ref``."""
    with open_source(repo, ref) as source:
        names = resolve_cluster_names(source, clusters)
        results = tuple(
            load_cluster(source, name, env, now, check_key_consistency=check_key_consistency)
            for name in names
        )
        return DesiredState(
            commit=source.commit,
            dirty=source.dirty,
            clusters=results,
            dirty_paths=tuple(source.dirty_paths),
        )
