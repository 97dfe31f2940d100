"""``certs check`` output: text for people, JSON for scripts, Prometheus for monitoring.

The Prometheus output is the text exposition format that node_exporter's textfile collector
reads, with names in the manner of cert-manager's. Label ``node`` is the node's name, or
``desired`` for the bundle in git; ``source`` is ``git`` or ``live``. A certificate whose
expiry could not be read has no expiration sample (``check_success`` is 0 for its node
instead). Written with ``--out``, the file is replaced in one rename.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from reconciler.certs.check import CertificateEntry, CheckReport, NodeCheck
from reconciler.durations import duration_text
from reconciler.live.render import ROLE_LABELS, expiry_text

FORMATS = ("text", "json", "prometheus")
PREFIX = "cms_reconciler_"


def render(report: CheckReport, output_format: str) -> str:
    renderers: dict[str, Callable[[CheckReport], str]] = {
        "text": render_text,
        "json": render_json,
        "prometheus": render_prometheus,
    }
    return renderers[output_format](report)


# --- JSON --------------------------------------------------------------------------------


def render_json(report: CheckReport) -> str:
    document = {
        "checked_at": _iso(report.checked_at),
        "offline": report.offline,
        "exit_code": report.exit_code,
        "certificates": [_entry_json(entry) for entry in report.certificates],
        "checks": [check.model_dump(mode="json") for check in report.checks],
    }
    return json.dumps(document, indent=2)


def _entry_json(entry: CertificateEntry) -> dict[str, Any]:
    return {
        "cluster": entry.cluster,
        "node": entry.node,
        "address": entry.address,
        "source": entry.source,
        "role": entry.role.value,
        "file": entry.file,
        "not_after": _iso(entry.not_after) if entry.not_after else None,
        "days_left": entry.days_left,
        "state": entry.state,
        "expired": entry.expired,
        "renewal_due": entry.renewal_due,
        "renew_before": duration_text(entry.window),
        "subject": entry.subject,
        "issuer": entry.issuer,
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


# --- Prometheus --------------------------------------------------------------------------

_CERTIFICATE_METRICS = (
    (
        "certificate_expiration_timestamp_seconds",
        "The date after which the certificate expires, in seconds since the Unix epoch.",
    ),
    ("certificate_expired", "1 when the certificate has expired (or the node marks it so)."),
    (
        "certificate_renewal_due",
        "1 when the certificate has expired or expires within its renewal window "
        "(--within, else the cluster file's renew_before).",
    ),
)


def render_prometheus(report: CheckReport) -> str:
    lines: list[str] = []
    for name, help_text in _CERTIFICATE_METRICS:
        lines += [f"# HELP {PREFIX}{name} {help_text}", f"# TYPE {PREFIX}{name} gauge"]
        for entry in report.certificates:
            value = _certificate_value(name, entry)
            if value is not None:
                lines.append(f"{PREFIX}{name}{_labels(_certificate_labels(entry))} {value}")
    name = "check_success"
    lines += [
        f"# HELP {PREFIX}{name} 1 when the node (or, for node=desired, the bundle in git) "
        "could be read and every certificate's expiry is known.",
        f"# TYPE {PREFIX}{name} gauge",
    ]
    lines += [
        f"{PREFIX}{name}{_labels(_check_labels(check))} {int(check.success)}"
        for check in report.checks
    ]
    return "\n".join(lines)


def _certificate_value(metric: str, entry: CertificateEntry) -> str | None:
    if metric == "certificate_expiration_timestamp_seconds":
        return None if entry.not_after is None else str(int(entry.not_after.timestamp()))
    if entry.state == "unknown":
        return None
    if metric == "certificate_expired":
        return str(int(entry.expired))
    return str(int(entry.renewal_due))


def _certificate_labels(entry: CertificateEntry) -> list[tuple[str, str]]:
    return [
        ("cluster", entry.cluster),
        ("node", entry.node),
        ("role", entry.role.value),
        ("file", entry.file),
        ("source", entry.source),
    ]


def _check_labels(check: NodeCheck) -> list[tuple[str, str]]:
    return [("cluster", check.cluster), ("node", check.node)]


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    return "{" + ",".join(f'{name}="{_escape(value)}"' for name, value in pairs) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


# --- text --------------------------------------------------------------------------------


def render_text(report: CheckReport) -> str:
    lines: list[str] = []
    for cluster in report.clusters():
        entries = [entry for entry in report.certificates if entry.cluster == cluster]
        checks = [check for check in report.checks if check.cluster == cluster]
        if lines:
            lines.append("")
        lines += _cluster_text(cluster, entries, checks, report.checked_at)
    if report.offline:
        lines += ["", "offline: the nodes were not read (git only)"]
    return "\n".join(lines)


def _cluster_text(
    cluster: str, entries: list[CertificateEntry], checks: list[NodeCheck], now: datetime
) -> list[str]:
    windows = {duration_text(entry.window) for entry in entries}
    heading = f" (renewal due {', '.join(sorted(windows))} before expiry)" if windows else ""
    lines = [cluster + heading]
    node_width = max([len(entry.node) for entry in entries] + [len(c.node) for c in checks])
    file_width = max([len(entry.file) for entry in entries], default=0)
    label_width = max(len(label) for label in ROLE_LABELS.values())
    for check in checks:
        for entry in (entry for entry in entries if entry.node == check.node):
            lines.append(
                "  "
                + "  ".join(
                    (
                        entry.node.ljust(node_width),
                        ROLE_LABELS[entry.role].ljust(label_width),
                        entry.file.ljust(file_width),
                        entry.state.ljust(len("expired")),
                        _when(entry, now),
                    )
                ).rstrip()
            )
        if check.error:
            lines.append(f"  {check.node.ljust(node_width)}  not checked: {check.error}")
    lines.append(_verdict(cluster, entries, checks))
    return lines


def _when(entry: CertificateEntry, now: datetime) -> str:
    if entry.not_after is None:
        return "(expiry not read)"
    return expiry_text(entry.not_after, now)


def _verdict(cluster: str, entries: list[CertificateEntry], checks: list[NodeCheck]) -> str:
    expired = sum(entry.expired for entry in entries)
    due = sum(entry.renewal_due for entry in entries) - expired
    failed = [check.node for check in checks if not check.success]
    parts = []
    if expired:
        parts.append(f"{expired} {'certificate' if expired == 1 else 'certificates'} expired")
    if due:
        parts.append(f"{due} {'certificate' if due == 1 else 'certificates'} due for renewal")
    if failed:
        parts.append(f"not checked: {', '.join(failed)}")
    if not parts:
        return f"{cluster}: ok, nothing expires within its renewal window"
    earliest = min(
        (entry.not_after for entry in entries if entry.renewal_due and entry.not_after),
        default=None,
    )
    if earliest is not None and not expired:
        parts.append(f"first expiry {earliest.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
    return f"{cluster}: " + ", ".join(parts)
